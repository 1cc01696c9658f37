"""What dbt-cio records in the state schema besides state: runs, rejections, and per-sync metadata.

``runs`` gets one row per run of a sync, written when it starts and completed with its outcome and counts
when it ends — updated in place, or, where tables have no UPDATE (``append_only``), by appending a second,
complete row for the same ``run_id``: readers take a run's finished row when there is one. ``rejections``
gets one row per rejected key per run, with the reason and field. ``sync_meta`` keeps small key/value pairs
across runs (the id of a segment or collection dbt-cio created, the block's fingerprint), appended: the row
with the highest ``meta_seq`` holds a key's value (a null value unsets it). None of this is on the per-row
path, and none of it needs DELETE or a transaction.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from dbt_cio.warehouse import sql
from dbt_cio.warehouse.tables import StateTables

__all__ = ["Records", "Rejection"]

_INSERT_ROWS = 1_000  # rows per multi-row insert statement


class Rejection(NamedTuple):
    """One rejected row: its key as in state, the same key as a person reads it, why, and where."""

    key: str
    display: str
    reason: str
    field: str | None = None


class Records:
    """The ``runs``, ``rejections`` and ``sync_meta`` tables of one state schema; ``append_only`` when runs
    must be completed by appending rather than updating (see the module docstring)."""

    def __init__(self, tables: StateTables, *, append_only: bool = False) -> None:
        self.tables = tables
        self.session = tables.session
        self.append_only = append_only
        self._meta_seq = 0

    def start_run(self, sync: str) -> str:
        """Record the start of a run of ``sync``; returns its run id (a uuid4 hex string)."""
        self.tables.ensure()
        run_id = uuid.uuid4().hex
        d = self.session.dialect
        with self.session.transaction("recording the run", sync):
            self.session.execute(sql.insert_values(d, self.tables.relation("runs"), ["run_id", "sync_name", "started_at"],
                                                   [(run_id, sync, sql.Raw(d.now))]))  # fmt: skip
        return run_id

    def finish_run(
        self, run_id: str, *, status: str, counts: Mapping[str, int] | None = None, error: str | None = None
    ) -> None:
        """Record how a run ended. Counts named in ``sql.RUN_COUNTS`` get columns; others go in ``other_counts``."""
        d = self.session.dialect
        rest = dict(counts or {})
        assignments = {"finished_at": d.now, "outcome": d.literal(status), "error": d.literal(_clip(error))}
        for name in sql.RUN_COUNTS:
            if name in rest:
                assignments[name] = d.literal(int(rest.pop(name)))
        if rest:
            assignments["other_counts"] = d.literal(json.dumps(rest, sort_keys=True))
        runs = self.tables.relation("runs")
        if self.append_only:  # a second, complete row, copying the first one's start
            names = ["run_id", "sync_name", "started_at", *assignments]
            statement = (
                f"insert into {runs} ({', '.join(names)})\n"
                f"select run_id, sync_name, started_at, {', '.join(assignments.values())} from {runs} "
                f"where run_id = {d.literal(run_id)} and finished_at is null"
            )
        else:
            statement = sql.update(runs, assignments, f"run_id = {d.literal(run_id)}")
        with self.session.transaction("recording the end of the run"):
            self.session.execute(statement)

    def _latest_runs(self, where: str) -> str:
        """The runs matching ``where``, one row per run: its finished row when there is one."""
        runs = self.tables.relation("runs")
        return (
            f"select * from (select r.*, row_number() over (partition by run_id order by "
            f"case when finished_at is null then 1 else 0 end, finished_at desc) as _cio_row "
            f"from {runs} r where {where}) latest where _cio_row = 1"
        )

    def previous_run(self, sync: str, before: str) -> str | None:
        """The run id of the sync's latest run before run ``before`` that sent or rejected rows."""
        d = self.session.dialect
        _cols, rows = self.session.query(
            f"select run_id from ({self._latest_runs(f'sync_name = {d.literal(sync)}')}) runs "
            f"where run_id <> {d.literal(before)} and (sent > 0 or rejected > 0) order by started_at desc limit 1",
            "reading the previous run",
            sync,
        )
        return str(rows[0][0]) if rows else None

    def record_rejections(
        self, sync: str, run_id: str | None, rows: Sequence[Rejection], previous_run: str | None = None
    ) -> None:
        """Append rejected rows to the rejections table. A key also rejected in ``previous_run`` counts one more
        consecutive run of rejections (``consecutive_runs``); otherwise it starts at 1."""
        if not rows:
            return
        self.tables.ensure()
        d = self.session.dialect
        table = self.tables.relation("rejections")
        columns = ["run_id", "sync_name", "sync_key", "key_display", "reason", "field", "rejected_at",
                   "consecutive_runs"]  # fmt: skip
        for i in range(0, len(rows), _INSERT_ROWS):
            chunk = rows[i : i + _INSERT_ROWS]
            before = self._consecutive(sync, previous_run, [r.key for r in chunk]) if previous_run else {}
            values = [(run_id, sync, r.key, _clip(r.display), _clip(r.reason), r.field, sql.Raw(d.now),
                       before.get(r.key, 0) + 1) for r in chunk]  # fmt: skip
            with self.session.transaction("recording rejections", sync):
                self.session.execute(sql.insert_values(d, table, columns, values))

    def _consecutive(self, sync: str, run_id: str, keys: Sequence[str]) -> dict[str, int]:
        """How many runs in a row each of ``keys`` had been rejected, as of run ``run_id``."""
        d = self.session.dialect
        listed = ", ".join(d.literal(key) for key in dict.fromkeys(keys))
        _cols, rows = self.session.query(
            f"select sync_key, consecutive_runs from {self.tables.relation('rejections')} "
            f"where sync_name = {d.literal(sync)} and run_id = {d.literal(run_id)} and sync_key in ({listed})",
            "reading earlier rejections",
            sync,
        )
        return {str(key): int(count or 1) for key, count in rows}

    def rejections(self, sync: str, run_id: str | None = None) -> list[dict[str, Any]]:
        """The recorded rejections of a sync (of one run if given), oldest first."""
        d = self.session.dialect
        where = f"sync_name = {d.literal(sync)}" + (f" and run_id = {d.literal(run_id)}" if run_id else "")
        cols, rows = self.session.query(
            f"select run_id, sync_key, key_display, reason, field, rejected_at, consecutive_runs "
            f"from {self.tables.relation('rejections')} "
            f"where {where} order by rejected_at, sync_key", "reading rejections", sync,
        )  # fmt: skip
        return [dict(zip([c.lower() for c in cols], row)) for row in rows]

    def latest_rejection(self, sync: str, key: str) -> dict[str, Any] | None:
        """The latest rejection of one key of a sync (None when it was never rejected); reads only."""
        if not self.tables.has("rejections"):
            return None
        d = self.session.dialect
        cols, rows = self.session.query(
            f"select run_id, reason, field, rejected_at, consecutive_runs from {self.tables.relation('rejections')} "
            f"where sync_name = {d.literal(sync)} and sync_key = {d.literal(key)} order by rejected_at desc limit 1",
            "reading rejections", sync,
        )  # fmt: skip
        return dict(zip([c.lower() for c in cols], rows[0])) if rows else None

    def rejections_sql(self, run_id: str) -> str:
        """The query a person runs to read every rejection of one run."""
        d = self.session.dialect
        return (
            f"select sync_key, key_display, reason, field, consecutive_runs from {self.tables.relation('rejections')} "
            f"where run_id = {d.literal(run_id)} order by sync_key"
        )

    def runs(self, sync: str) -> list[dict[str, Any]]:
        """The recorded runs of a sync, oldest first (one row per run)."""
        d = self.session.dialect
        cols, rows = self.session.query(
            f"{self._latest_runs(f'sync_name = {d.literal(sync)}')} order by started_at", "reading runs", sync
        )
        names = [c.lower() for c in cols]
        return [{k: v for k, v in zip(names, row) if k != "_cio_row"} for row in rows]

    def recent_runs(self, syncs: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """The latest ``limit`` runs of any of ``syncs``, newest first, one dict per run; reads only.

        A run's end may be a second row of its run id (warehouses without ``update`` append it): per run
        id the row with a ``finished_at`` is taken when there is one, and ``started_at`` is the earliest of
        its rows. No runs table yet means no runs.
        """
        if not syncs or limit < 1 or not self.tables.exists("runs"):
            return []
        d = self.session.dialect
        listed = ", ".join(d.literal(name) for name in dict.fromkeys(syncs))
        cols, rows = self.session.query(
            f"select * from (\n"
            f"    select r.*, min(r.started_at) over (partition by r.run_id) as _cio_started,\n"
            f"        row_number() over (partition by r.run_id order by\n"
            f"            case when r.finished_at is null then 1 else 0 end, r.finished_at desc) as _cio_pick\n"
            f"    from {self.tables.relation('runs')} r where r.sync_name in ({listed})\n"
            f") picked where _cio_pick = 1 order by _cio_started desc, sync_name limit {int(limit)}",
            "reading recent runs",
        )
        out = []
        for row in rows:
            run = dict(zip([c.lower() for c in cols], row))
            run["started_at"] = run.pop("_cio_started")
            run.pop("_cio_pick", None)
            out.append(run)
        return out

    def get_meta(self, sync: str, key: str) -> str | None:
        """The value of a sync's meta ``key`` (the latest written), None when unset. Writes nothing."""
        if not self.tables.has("sync_meta"):
            return None
        d = self.session.dialect
        _cols, rows = self.session.query(
            f"select meta_value from {self.tables.relation('sync_meta')} "
            f"where sync_name = {d.literal(sync)} and meta_key = {d.literal(key)} "
            f"order by coalesce(meta_seq, 0) desc limit 1", "reading sync meta", sync,
        )  # fmt: skip
        return None if not rows or rows[0][0] is None else str(rows[0][0])

    def set_meta(self, sync: str, key: str, value: str | None) -> None:
        """Set (or, with None, unset) a sync's meta ``key``: one appended row."""
        self.tables.ensure()
        d = self.session.dialect
        seq = self._meta_seq = max(time.time_ns() // 1000, self._meta_seq + 1)  # increasing, in microseconds
        with self.session.transaction("writing sync meta", sync):
            self.session.execute(sql.insert_values(d, self.tables.relation("sync_meta"),
                                                   ["sync_name", "meta_key", "meta_value", "updated_at", "meta_seq"],
                                                   [(sync, key, value, sql.Raw(d.now), seq)]))  # fmt: skip


def _clip(text: str | None, limit: int = 2000) -> str | None:
    return None if text is None else text[:limit]
