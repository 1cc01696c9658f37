"""The timed steps of a sync: what the observer shows while they last, and their timing in the results.

A sync has two steps, named as dbt names a node's: ``compile`` (take the lock, compute the diff in the
warehouse) and ``execute`` (send, commit acknowledged rows, record rejections). Each is a
:class:`~dbt_cio.engine.results.Timing` of the sync's result, which the run-results file reports as dbt's
``timing`` list.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from dbt_cio.engine.observer import Observer
from dbt_cio.engine.results import SyncResult, Timing

__all__ = ["COMPILE", "EXECUTE", "timed"]

COMPILE = "compile"
EXECUTE = "execute"


@contextmanager
def timed(
    result: SyncResult, step: str, observer: Observer | None = None, phase: str | None = None
) -> Iterator[None]:
    """Time ``step`` of ``result``'s sync (the timing is kept however the step ends); with ``phase``, the
    observer shows it meanwhile."""
    started = datetime.now(UTC)
    try:
        if observer is not None and phase is not None:
            with observer.phase(phase, result.name):
                yield
        else:
            yield
    finally:
        result.timing.append(Timing(step, started, datetime.now(UTC)))
