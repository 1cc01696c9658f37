"""Exceptions raised by dbt-cio.

Every error the tool raises on purpose derives from :class:`DbtCioError`. The CLI turns them into exit
codes in exactly one place (``dbt_cio.cli``)::

    DbtCioError
    ├── UsageError               exit 2  bad flags, unknown selector, missing manifest
    │   ├── SettingError         exit 2  one setting out of range (``--rate 0``); names the setting
    │   └── DbtCloudUsageError   exit 2  dbt Cloud refused the token (401/403), knows no such account, run or
    │                                    job (404), or the run is not finished (also a DbtCloudError)
    ├── ConfigError              exit 2  one or more invalid ``meta.customerio`` blocks (all listed at once)
    ├── WarehouseError           exit 1  the warehouse refused a query (message names the sync and the SQL step)
    │   ├── DuplicateKeyError    exit 1  a model has the same key more than once (for one sync)
    │   └── SyncLockedError      exit 1  another run of the same sync holds its lock
    ├── CustomerIOError          exit 1  talking to Customer.io failed
    │   ├── TransientError               retryable: 408, 429, 5xx, timeouts, dropped connections
    │   └── TerminalError                not retryable
    │       └── AuthError                401/403: wrong credentials or region; stops the run at once
    ├── CollectionError          exit 1  a collection cannot be sent (nothing of it was sent)
    │   └── CollectionTooLarge           a row or the whole collection is over Customer.io's size limit
    ├── DbtCloudError            exit 1  dbt Cloud could not be reached or kept failing (429, 5xx, after
    │                                    retries), or a run lacks an artifact
    └── SyncStopped              exit 1  the run was asked to stop (SIGTERM): what was acknowledged is committed

Messages say what was found and what to do next. They never contain a secret. Errors of other libraries
(dbt, the database drivers, aiohttp) are translated where they are caught; :func:`gist` gives their
message in one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DbtCioError(Exception):
    """Base class of every error dbt-cio raises on purpose."""

    exit_code = 1


class UsageError(DbtCioError):
    """The command line or the project around it is not usable as given."""

    exit_code = 2


class SettingError(UsageError, ValueError):
    """One setting (``rate``, ``burst``, ``max_concurrency``...) has a value it cannot take.

    ``setting`` names it as the library spells it; the CLI shows the flag instead.
    """

    def __init__(self, setting: str, message: str):
        super().__init__(f"{setting} {message}")
        self.setting = setting
        self.detail = message


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in one ``meta.customerio`` block.

    ``path`` is the location inside the block, e.g. ``meta.customerio[1].identifier.column``.
    """

    model: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.model}: {self.path}: {self.message}"


class ConfigError(DbtCioError):
    """One or more ``meta.customerio`` blocks are invalid; every problem of the project is listed."""

    exit_code = 2

    def __init__(self, problems: Sequence[ConfigProblem]):
        self.problems = list(problems)
        count = len(self.problems)
        lines = [f"{count} configuration error{'s' if count != 1 else ''} in meta.customerio:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class WarehouseError(DbtCioError):
    """A query in the warehouse failed."""


class DuplicateKeyError(WarehouseError):
    """A model holds the same sync key on more than one row."""

    def __init__(
        self, sync: str, relation: str, key_columns: Sequence[str], sample: Sequence[str], count: int
    ):
        self.sync = sync
        self.sample = list(sample)
        self.count = count
        cols = ", ".join(key_columns)
        shown = ", ".join(repr(s) for s in self.sample)
        super().__init__(
            f"sync '{sync}': {count} key value(s) of ({cols}) appear more than once in {relation}, "
            f"e.g. {shown}. Each row must have a unique key: deduplicate the model "
            f"(for example with row_number() over (partition by {cols} ...)) and run dbt again."
        )


class SyncLockedError(WarehouseError):
    """Another run of the same sync is in progress."""


class CustomerIOError(DbtCioError):
    """Talking to Customer.io failed."""


class TransientError(CustomerIOError):
    """A failure worth retrying: 408, 429, 5xx, timeouts, dropped connections."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class TerminalError(CustomerIOError):
    """A failure that retrying will not fix."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class AuthError(TerminalError):
    """Customer.io refused the credentials (401/403): wrong key, wrong workspace or wrong region."""


class CollectionError(DbtCioError):
    """A collection cannot be sent; nothing of it was sent."""


class CollectionTooLarge(CollectionError):
    """A collection row, or the whole collection, is over Customer.io's size limit."""


class DbtCloudError(DbtCioError):
    """Talking to dbt Cloud's Administrative API failed, or a run's artifacts are not usable."""


class DbtCloudUsageError(UsageError, DbtCloudError):
    """The dbt Cloud token, account, run or job given cannot be used: refused, unknown, or not finished."""

    exit_code = 2


class SyncStopped(DbtCioError):
    """A sync stopped sending because the process was asked to stop; acknowledged rows are committed."""


def gist(exc: BaseException | None) -> str:
    """Another library's exception in one line: dbt's "Runtime Error" headers dropped, at most 500 characters."""
    if exc is None:
        return "unknown error"
    text = str(getattr(exc, "msg", None) or exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and ln.strip() not in _HEADERS]
    return " ".join(lines)[:500] if lines else type(exc).__name__


_HEADERS = frozenset({"Runtime Error", "Database Error", "Compilation Error"})
