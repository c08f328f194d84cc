"""overheard's listener: configuration, data model, store, sources, scheduler, pipeline and CLI."""

__version__ = "0.1.0"
