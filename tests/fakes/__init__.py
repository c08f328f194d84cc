"""Fake API servers on 127.0.0.1 for driving the real client libraries (tweepy, praw) in tests.

Importable (`FakeXApi(...).start()`, `.base_url`, `.stop()`) and runnable as separate processes
(`python -m tests.fakes.x_api --port N`, `python -m tests.fakes.reddit --port N`).
"""

from tests.fakes.base import FakeServer, Reply, Request

__all__ = ["FakeServer", "Reply", "Request"]
