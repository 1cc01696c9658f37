"""The syncs that webhooks asked for: one at a time, at most one waiting per selection, a bounded queue.

dbt's project and adapter are global to a process, so one worker runs one sync at a time, in the order they
were asked for. What a sync needs from a run is its newest artifacts, so the waiting syncs are *coalesced*:

1. **offer** — an event for a selection that has no sync waiting queues one (``queued``); an event for a
   selection that already has one waiting joins it (``coalesced``: the waiting sync will read the newest run
   named, and lists every event that asked for it), so two events during a running sync queue one more run,
   not two; a new sync when ``max_waiting`` are already waiting is refused (``full``: the server answers 503
   and dbt Cloud delivers again later).
2. **take** — the worker takes the oldest waiting sync (blocking until there is one, or the queue closes).
3. **finish** — the worker records the outcome; the last ``history`` syncs stay listed (``GET /runs``).
4. **close** — on shutdown, waiting syncs are dropped (``not run``; dbt Cloud does not resend, the next job
   run's event syncs their models) and the worker's ``take`` returns None.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["Offer", "QueuedSync", "SyncQueue", "SyncState", "Trigger"]

Offer = Literal["queued", "coalesced", "full"]
SyncState = Literal["queued", "running", "success", "failed", "error", "not run"]


def _now() -> datetime:
    return datetime.now(UTC)


def _z(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


@dataclass(frozen=True)
class Trigger:
    """One webhook event that asked for a sync."""

    event_id: str
    job_id: int
    run_id: int
    received_at: datetime = field(default_factory=_now)


@dataclass
class QueuedSync:
    """One sync asked for by webhooks, from queued to its outcome."""

    selection: tuple[str, ...]
    triggers: list[Trigger]
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: SyncState = "queued"
    queued_at: datetime = field(default_factory=_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    message: str | None = None
    syncs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def trigger(self) -> Trigger:
        """The newest event: its run's artifacts are the ones synced."""
        return self.triggers[-1]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "selection": " ".join(self.selection),
            "job_id": self.trigger.job_id,
            "run_id": self.trigger.run_id,
            "events": [t.event_id for t in self.triggers],
            "queued_at": _z(self.queued_at),
            "started_at": _z(self.started_at),
            "finished_at": _z(self.finished_at),
            "exit_code": self.exit_code,
            "message": self.message,
            "syncs": self.syncs,
        }


class SyncQueue:
    """Thread-safe: the web server offers (on its event loop), the worker takes and finishes (its thread)."""

    def __init__(self, max_waiting: int = 16, history: int = 100):
        if max_waiting < 1:
            raise ValueError("max_waiting must be at least 1")
        self.max_waiting = max_waiting
        self._waiting: deque[QueuedSync] = deque()
        self._running: QueuedSync | None = None
        self._finished: deque[QueuedSync] = deque(maxlen=history)
        self._closed = False
        self._changed = threading.Condition()

    def offer(
        self,
        trigger: Trigger,
        selection: tuple[str, ...],
        announce: Callable[[Offer, QueuedSync | None], None] | None = None,
    ) -> tuple[Offer, QueuedSync | None]:
        """Queue a sync of ``selection`` for ``trigger``, or join the one waiting. ``announce`` is told the
        outcome before the worker can take the sync (so the log says "queued" before "started")."""
        with self._changed:
            outcome: tuple[Offer, QueuedSync | None]
            joined = next((waiting for waiting in self._waiting if waiting.selection == selection), None)
            if joined is not None:
                joined.triggers.append(trigger)
                outcome = ("coalesced", joined)
            elif self._closed or len(self._waiting) >= self.max_waiting:
                outcome = ("full", None)
            else:
                queued = QueuedSync(selection, [trigger])
                self._waiting.append(queued)
                outcome = ("queued", queued)
            if announce is not None:
                announce(*outcome)
            self._changed.notify_all()
            return outcome

    def take(self, timeout: float | None = None) -> QueuedSync | None:
        """The oldest waiting sync, now running; None when closed (or after ``timeout`` seconds)."""
        with self._changed:
            self._changed.wait_for(lambda: self._waiting or self._closed, timeout)
            if self._closed or not self._waiting:
                return None
            self._running = self._waiting.popleft()
            self._running.state, self._running.started_at = "running", _now()
            return self._running

    def finish(self, item: QueuedSync, state: SyncState, exit_code: int | None, message: str | None = None,
               syncs: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
        with self._changed:
            item.state, item.exit_code, item.message = state, exit_code, message
            item.syncs, item.finished_at = list(syncs or []), _now()
            if self._running is item:
                self._running = None
            self._finished.append(item)
            self._changed.notify_all()

    def close(self) -> list[QueuedSync]:
        """Stop taking; the waiting syncs are dropped as ``not run`` and returned."""
        with self._changed:
            self._closed = True
            dropped = list(self._waiting)
            self._waiting.clear()
            for item in dropped:
                item.state, item.finished_at, item.message = (
                    "not run",
                    _now(),
                    "the server stopped before it ran",
                )
                self._finished.append(item)
            self._changed.notify_all()
            return dropped

    @property
    def busy(self) -> bool:
        with self._changed:
            return self._running is not None

    def counts(self) -> dict[str, int]:
        with self._changed:
            return {"running": int(self._running is not None), "waiting": len(self._waiting),
                    "max_waiting": self.max_waiting}  # fmt: skip

    def recent(self) -> list[dict[str, Any]]:
        """Waiting, running and finished syncs, newest first."""
        with self._changed:
            items = [*self._finished, *([self._running] if self._running else []), *self._waiting]
            return [item.as_json() for item in reversed(items)]
