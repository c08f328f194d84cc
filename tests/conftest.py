"""Shared test set-up. The network guard: any connection to a non-loopback address fails the test."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class NetworkBlocked(RuntimeError):
    """A test tried to reach the internet."""


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address: object) -> None:
    if sock.family == getattr(socket, "AF_UNIX", object()):
        return
    host = address[0] if isinstance(address, tuple) else address
    if not _is_loopback(host):
        raise NetworkBlocked(f"test tried to connect to {address!r}; tests may only use 127.0.0.1")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object):
    if host is not None and not _is_loopback(host if not isinstance(host, bytes) else host.decode()):
        raise NetworkBlocked(f"test tried to resolve {host!r}; tests may only use 127.0.0.1")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                     help="the store the suite runs on; postgresql needs OVERHEARD_TEST_DATABASE_URL "
                          "(.ci/with-postgres starts a throwaway server and sets it)")


BACKEND = "sqlite"
# The PostgreSQL server of a --backend=postgresql run, kept for the tests that use both engines at once.
PG_URL = os.environ.get("OVERHEARD_TEST_DATABASE_URL")


def pytest_configure(config: pytest.Config) -> None:
    global BACKEND
    BACKEND = config.getoption("--backend")
    config.addinivalue_line("markers", "sqlite_only(reason): about SQLite files themselves; skipped on PostgreSQL")
    config.addinivalue_line("markers", "pg_todo(reason): not passing on PostgreSQL yet; skipped there, with the reason")
    if BACKEND == "postgresql":
        if not os.environ.get("OVERHEARD_TEST_DATABASE_URL"):
            raise pytest.UsageError("--backend=postgresql needs OVERHEARD_TEST_DATABASE_URL (a server the tests may "
                                    "create schemas on); `.ci/with-postgres pytest ...` starts a throwaway one")
    else:
        os.environ.pop("OVERHEARD_TEST_DATABASE_URL", None)  # every store on its SQLite file
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]


# Tests that do not pass on PostgreSQL yet (issue 20 is open): one node id or test file per line, `#` comments.
# Each one is skipped on PostgreSQL with this reason, and runs on SQLite as always.
PG_TODO = Path(__file__).with_name("pg_todo.txt")


def _pg_todo() -> set[str]:
    if not PG_TODO.exists():
        return set()
    lines = (line.split("#", 1)[0].strip() for line in PG_TODO.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND != "postgresql":
        return
    todo = _pg_todo()
    for item in items:
        if item.nodeid in todo or item.nodeid.split("::")[0] in todo:
            item.add_marker(pytest.mark.skip(reason="pg_todo on PostgreSQL: listed in tests/pg_todo.txt (issue 20)"))
            continue
        for name in ("sqlite_only", "pg_todo"):
            marker = item.get_closest_marker(name)
            if marker is not None:
                reason = marker.args[0] if marker.args else marker.kwargs.get("reason", name)
                item.add_marker(pytest.mark.skip(reason=f"{name} on PostgreSQL: {reason}"))
                break


@pytest.fixture
def pg_url() -> str:
    """A PostgreSQL server to open stores on beside SQLite ones (--backend=postgresql runs only)."""
    if BACKEND != "postgresql" or not PG_URL:
        pytest.skip("needs PostgreSQL: run with --backend=postgresql (make test-pg)")
    return PG_URL


@pytest.fixture
def backend() -> str:
    """The store the suite runs on: "sqlite" or "postgresql"."""
    return BACKEND


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip with a clear message when this checkout has none beside it."""
    if not SHARED_DATA.exists():
        pytest.skip(f"development data not found at {SHARED_DATA} (it lives in ../shared/data)")
    return SHARED_DATA
