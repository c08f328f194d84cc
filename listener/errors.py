"""Errors a user can cause. The CLI prints them as one line and exits 2; tracebacks are for our bugs."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (config, input file, credential). `str()` is the one line to print."""

    exit_code = 2


class ConfigError(UserError):
    """`file: key: problem` — names the file, the key and what is wrong."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(where + problem)


class SourceError(Exception):
    """A source could not be read this run (network, rate limit, credentials). The run records it."""

    def __init__(self, message: str, *, retry_after: float | None = None, auth: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds until the source may be asked again, when it said
        self.auth = auth  # credentials were refused: the source is unhealthy until they are fixed
