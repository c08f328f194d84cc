"""Sources by name. A new source is one module (a Source subclass with its Config) plus one line in
listener.plugins.SOURCES."""

from __future__ import annotations

from typing import TYPE_CHECKING

from listener import plugins

if TYPE_CHECKING:
    from listener.config import Section
    from listener.sources.base import Source

# name -> "module:Class", declared in the core (listener.plugins) so the config can validate a
# section without importing a stage; imported lazily so one source's client library never slows another.
SOURCES = plugins.SOURCES


def available_sources() -> list[str]:
    return sorted(SOURCES)


def source_class(name: str) -> type[Source] | None:
    return plugins.load(SOURCES, name)


def source_config_class(name: str) -> type[Section] | None:
    return plugins.source_config_class(name)
