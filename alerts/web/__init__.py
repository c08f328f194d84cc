"""The queue web UI (FastAPI + Jinja2, server-rendered)."""
