"""The few calls the engine makes to show a run's progress, and a default that writes them to logging.

The engine never prints: it tells an :class:`Observer`. The CLI passes a terminal reporter
(:class:`dbt_cio.report.Reporter`: progress bars, colours); a Python caller (an Airflow or Dagster task)
gets :class:`LogObserver`, which writes to the ``dbt_cio`` logger, unless it passes its own.

Besides lines and progress bars, the engine names each *phase* that can take a while (loading the project,
computing a sync's diff, committing) with :meth:`Observer.phase`, so that a terminal can show a spinner
and a log a line: nothing is silent for long.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

__all__ = ["LOG_EVERY_SECONDS", "LogObserver", "Observer", "SyncProgress"]

LOG_EVERY_SECONDS = 5.0


class SyncProgress(Protocol):
    """The progress of one sync; cheap to call per acknowledgement."""

    def advance(self, accepted: int = 0, rejected: int = 0) -> None: ...

    def finish(self) -> None: ...


class Observer(Protocol):
    """Where the engine reports what it does."""

    def info(self, message: str) -> None: ...

    def note(self, message: str) -> None: ...

    def progress(self) -> AbstractContextManager[None]:
        """Around the part of a run that sends (a terminal shows its bars only meanwhile)."""
        ...

    def phase(self, name: str, sync: str | None = None) -> AbstractContextManager[None]:
        """Around one phase of the run (``"computing the diff"`` of ``sync``), however long it lasts."""
        ...

    def start_sync(self, name: str, total: int) -> SyncProgress: ...


class _LoggedProgress:
    def __init__(self, logger: logging.Logger, name: str, total: int) -> None:
        self._logger, self.name, self.total = logger, name, total
        self.done = self.rejected = 0
        self._started = self._last = time.monotonic()

    def advance(self, accepted: int = 0, rejected: int = 0) -> None:
        self.done += accepted + rejected
        self.rejected += rejected
        now = time.monotonic()
        if now - self._last >= LOG_EVERY_SECONDS:
            self._last = now
            rate = self.done / (now - self._started) if now > self._started else 0.0
            self._logger.info(
                "%s: %d/%d rows acknowledged, %.0f rows/s, %d rejected",
                self.name, self.done, self.total, rate, self.rejected,
            )  # fmt: skip

    def finish(self) -> None:
        self._logger.info("%s: done, %d/%d rows acknowledged, %d rejected", self.name, self.done, self.total,
                          self.rejected)  # fmt: skip


class LogObserver:
    """An :class:`Observer` that writes to a :mod:`logging` logger (``dbt_cio`` by default)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("dbt_cio")

    def info(self, message: str) -> None:
        self.logger.info("%s", message)

    def note(self, message: str) -> None:
        self.logger.warning("%s", message)

    @contextmanager
    def progress(self) -> Iterator[None]:
        yield

    @contextmanager
    def phase(self, name: str, sync: str | None = None) -> Iterator[None]:
        self.logger.info("%s%s", f"{sync}: " if sync else "", name)
        yield

    def start_sync(self, name: str, total: int) -> SyncProgress:
        self.logger.info("%s: sending %d row(s)", name, total)
        return _LoggedProgress(self.logger, name, total)
