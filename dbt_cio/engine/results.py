"""What a run did: one :class:`SyncResult` per sync, gathered in a :class:`RunResult`.

The library entry (:func:`dbt_cio.run_sync`) returns a :class:`RunResult`; the CLI turns it into an exit
code with :attr:`RunResult.exit_code`, the summary table and the run-results file read it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "RejectionReason",
    "RunResult",
    "SyncResult",
    "SyncStatus",
    "Timing",
]

EXIT_OK = 0
"""Every selected sync succeeded (or had nothing to do)."""
EXIT_FAILED = 1
"""A sync failed, was aborted or held back, or had rejected rows (unless ``on_rejections: warn``)."""
EXIT_USAGE = 2
"""Usage or configuration error: nothing was run."""

SyncStatus = Literal["pending", "success", "warn", "rejected", "error", "aborted", "skipped", "dry-run"]
"""``success`` every row accepted; ``warn`` rows rejected under ``on_rejections: warn``; ``rejected`` rows
rejected; ``error`` the sync failed; ``aborted`` a row threshold stopped it before anything was sent;
``skipped`` it was held back (dbt's results) or not reached; ``dry-run`` nothing was sent on purpose."""
OK_STATUSES: frozenset[str] = frozenset({"success", "warn", "dry-run"})


@dataclass(frozen=True)
class RejectionReason:
    """One reason rows of a sync were rejected: how many, and one key as an example."""

    reason: str
    count: int
    sample_key: str


@dataclass(frozen=True)
class Timing:
    """One step of a sync, as dbt times a node's steps: ``compile`` (lock and diff in the warehouse) and
    ``execute`` (send and commit). Times are UTC."""

    name: str
    started_at: datetime
    completed_at: datetime


@dataclass
class SyncResult:
    """The result of one sync in one run.

    ``added``/``changed``/``removed`` are the diff's counts; ``sent`` operations went to Customer.io, of which
    ``accepted`` were acknowledged and ``rejected`` refused (locally or by Customer.io); ``requests``,
    ``retries`` and ``throttled`` (429s seen) count HTTP calls. ``run_id`` names the run's row in the
    state schema's ``runs`` table. ``reasons`` are the most common rejection reasons and ``rejections_sql``
    the query that reads them all. ``samples`` holds the first operations a dry run would send.
    ``unique_id`` and ``relation_name`` are the model's (as dbt names them); ``timing`` the sync's steps.
    """

    name: str
    model: str
    type: str
    status: SyncStatus = "pending"
    added: int = 0
    changed: int = 0
    removed: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    elapsed_seconds: float = 0.0
    run_id: str | None = None
    message: str | None = None
    reasons: list[RejectionReason] = field(default_factory=list)
    rejections_sql: str | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    unique_id: str = ""
    relation_name: str | None = None
    timing: list[Timing] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def counts(self) -> dict[str, int]:
        """The counts the ``runs`` table records."""
        return {
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": self.rejected,
        }


@dataclass(frozen=True)
class RunResult:
    """The result of one ``dbt-cio sync``: every selected sync's :class:`SyncResult`, in run order.

    ``artifact`` is the run-results file written for the run (None when nothing was selected);
    ``invocation_id`` names this run in the run-results file, the JSON log and alerts.
    """

    syncs: tuple[SyncResult, ...]
    started_at: datetime
    elapsed_seconds: float
    dry_run: bool = False
    artifact: Path | None = None
    invocation_id: str = ""

    def __iter__(self) -> Iterator[SyncResult]:
        return iter(self.syncs)

    def __getitem__(self, name: str) -> SyncResult:
        """The result of the sync called ``name``."""
        for result in self.syncs:
            if result.name == name:
                return result
        raise KeyError(name)

    @property
    def success(self) -> bool:
        """True when every sync succeeded (rejections under ``on_rejections: warn`` included), or was a dry
        run that would succeed."""
        return all(result.ok for result in self.syncs)

    @property
    def exit_code(self) -> int:
        """What the CLI exits with: 0 when :attr:`success`, else 1 (usage errors raise instead)."""
        return EXIT_OK if self.success else EXIT_FAILED

    @property
    def run_ids(self) -> dict[str, str]:
        """The run id of each sync that ran (its row in the state schema's ``runs`` table)."""
        return {result.name: result.run_id for result in self.syncs if result.run_id}
