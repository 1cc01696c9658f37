"""``dbt-cio runs`` as a library call: the recent runs of the selected syncs, read from the ``runs`` table.

It reads and never writes: a project with no state schema yet simply has no runs. The selected syncs are
named from their blocks alone (no block is resolved against the warehouse), so the runs of a sync whose
model is not built, or whose block is invalid today, are still listed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dbt_cio.contract.blocks import raw_value, split_blocks, sync_name
from dbt_cio.engine.observer import LogObserver, Observer
from dbt_cio.project import DbtArgs, Project
from dbt_cio.warehouse.schema import StateSchema

__all__ = ["DEFAULT_LIMIT", "RunRecord", "recent_runs", "selected_sync_names", "utc", "z"]

DEFAULT_LIMIT = 20
_COUNTS = ("added", "changed", "removed", "sent", "accepted", "rejected")


@dataclass(frozen=True)
class RunRecord:
    """One recorded run of one sync. ``status`` is None while the run is under way (or was killed)."""

    sync: str
    run_id: str
    status: str | None
    started_at: datetime | None
    finished_at: datetime | None
    counts: Mapping[str, int] = field(default_factory=dict)
    message: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RunRecord:
        counts = {name: int(row[name]) for name in _COUNTS if row.get(name) is not None}
        other = row.get("other_counts")
        if other:
            try:
                counts.update({k: int(v) for k, v in json.loads(other).items()})
            except (ValueError, TypeError, AttributeError):
                pass  # written by someone else: show what is readable
        return cls(
            sync=str(row["sync_name"]),
            run_id=str(row["run_id"]),
            status=None if row.get("outcome") is None else str(row["outcome"]),
            started_at=utc(row.get("started_at")),
            finished_at=utc(row.get("finished_at")),
            counts=counts,
            message=None if row.get("error") is None else str(row["error"]),
        )

    def as_json(self) -> dict[str, Any]:
        """The run for ``--output json``: times in UTC ending in ``Z``."""
        return {
            "sync": self.sync,
            "run_id": self.run_id,
            "status": self.status or "running",
            "started_at": z(self.started_at),
            "finished_at": z(self.finished_at),
            "duration_seconds": self.duration_seconds,
            **dict(self.counts),
            "message": self.message,
        }


def selected_sync_names(project: Project) -> tuple[list[str], list[str]]:
    """The names of the selected syncs, from their blocks alone, and notes about the selection."""
    nodes, notes = project.selected_nodes()
    names = []
    for node in nodes:
        for _path, block in split_blocks(raw_value(node), []):
            if isinstance(block, Mapping):
                names.append(sync_name(node, block))
    return names, notes


def recent_runs(
    dbt: DbtArgs | None = None, limit: int = DEFAULT_LIMIT, observer: Observer | None = None
) -> list[RunRecord]:
    """The latest ``limit`` runs of the selected syncs (every sync with a block when nothing is
    selected), newest first."""
    observer = observer or LogObserver()
    with observer.phase("loading the project"):
        project = Project.load(dbt or DbtArgs())
    with project:
        names, notes = selected_sync_names(project)
        for note in notes:
            observer.note(note)
        state = StateSchema.open(project.session, project.state_schema, project.database)
        with observer.phase("reading the runs table"):
            rows = project.session.run(state.records.recent_runs, names, limit)
        if not rows and names:
            observer.info(f"No runs recorded for the selected syncs in {state.tables.relation_of_schema()}.")
        return [RunRecord.from_row(row) for row in rows]


def utc(value: Any) -> datetime | None:
    """A timestamp from the warehouse as an aware UTC time; a naive one is taken as UTC (dbt-cio writes the
    warehouse's ``current_timestamp``, which is UTC where the session's time zone is)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str) and value:
        try:
            return utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def z(moment: datetime | None) -> str | None:
    """An aware time as UTC text ending in ``Z`` (as dbt writes its artifacts)."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
