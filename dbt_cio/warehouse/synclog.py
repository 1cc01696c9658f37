"""The sync log: one row per operation a sync sent, with what Customer.io answered.

Each sync has its own table, ``sync_log__<sync>`` in the state schema (written only by the run holding the
sync's lock, so it can be pruned without DELETE where the warehouse has none, and without racing other syncs).
A row holds the run id, the sync, the key (as in state and as a person reads it), the action
(:mod:`dbt_cio.payloads.actions`), the outcome (``accepted``, ``rejected``, ``failed``), the HTTP status and
the number of the request that carried it, the reason and field of a rejection, when it was logged, and the
payload (the request that carries the operation: method, path and body, as ``--dry-run --output`` writes it).

How rows get there, never one statement per row:

- **accepted** operations are written by the warehouse itself, one ``insert ... select`` per run, from the
  ledger (the acknowledged diff rows, with their request and status) joined to the diff, as part of the
  ledger's fold (:mod:`dbt_cio.warehouse.ledger`; in the fold's transaction where there are transactions).
  A log row therefore never claims an operation that the state does not hold: a run killed before its fold
  has its log rows written by the next run's fold of its ledger (``once``, so a fold done again after a crash
  writes no row twice).
- **rejected** and **failed** operations (few) are written by the engine with their payload, a few hundred
  rows per statement, beside the rejections. With ``log: all`` (or ``--log-payloads``) accepted operations
  are written that way too, after the ledger rows that acknowledge them, so that they carry their payload.

Rows older than the sync's ``log_retention_days`` are removed at the end of each run: ``delete`` where the
warehouse has it, else by rebuilding the table in restartable steps (:mod:`dbt_cio.warehouse.rebuild`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from dbt_cio.warehouse import sql
from dbt_cio.warehouse.rebuild import Swap, rebuild, settle
from dbt_cio.warehouse.tables import StateTables

__all__ = ["MAX_PAYLOAD_CHARS", "LogEntry", "SyncLog"]

MAX_PAYLOAD_CHARS = 100_000
"""A payload longer than this is cut (and says so); Customer.io refuses items over 32 KB anyway."""
_STATEMENT_CHARS = 1_000_000  # rows per insert statement: as many as fit in about this much SQL
_TRUNCATED = "...(truncated)"


class LogEntry(NamedTuple):
    """One operation's row, as the engine writes it (rejected and failed ones, or any under ``log: all``).

    ``request`` and ``status`` are None for an operation refused before any request (a local check).
    ``seq`` is the diff row the operation was built from.
    """

    key: str
    display: str
    action: str | None
    outcome: str
    status: int | None = None
    reason: str | None = None
    field: str | None = None
    request: int | None = None
    payload: str | None = None
    seq: int | None = None


class SyncLog:
    """The sync log tables of one state schema; ``rebuild`` when expired rows must be pruned by rebuilding
    the table (no DELETE). Use from the warehouse thread (see :mod:`dbt_cio.warehouse.session`)."""

    def __init__(self, tables: StateTables, *, rebuild: bool = False) -> None:
        self.tables = tables
        self.session = tables.session
        self.rebuild = rebuild
        self._ensured: set[str] = set()

    def __repr__(self) -> str:
        return f"SyncLog({self.tables.relation_of_schema()}, rebuild={self.rebuild})"

    def relation(self, sync_name: str) -> str:
        return self.tables.of_sync(sync_name).sync_log

    def ensure(self, sync_name: str) -> None:
        """Create the sync's log table if it does not exist (once per process)."""
        if sync_name in self._ensured:
            return
        d = self.session.dialect
        with self.session.transaction("creating the sync log", sync_name):
            self.session.execute(sql.create_table(d, self.relation(sync_name), sql.log_columns(d)))
        self._ensured.add(sync_name)

    def write(self, sync_name: str, run_id: str | None, entries: Sequence[LogEntry]) -> None:
        """Append rows written by the engine (see the module docstring), in as few statements as fit."""
        if not entries:
            return
        self.ensure(sync_name)
        d = self.session.dialect
        names = [name for name, _type in sql.log_columns(d)]
        relation = self.relation(sync_name)
        now = sql.Raw(d.now)
        rows: list[tuple[Any, ...]] = []
        size = 0
        for e in entries:
            payload = e.payload
            if payload is not None and len(payload) > MAX_PAYLOAD_CHARS:
                payload = payload[: MAX_PAYLOAD_CHARS - len(_TRUNCATED)] + _TRUNCATED
            rows.append((run_id, sync_name, e.key, e.display, e.action, e.outcome, e.status, _clip(e.reason),
                         e.field, e.request, now, payload, e.seq))  # fmt: skip
            size += 200 + len(e.key) + len(e.display) + len(e.reason or "") + len(payload or "")
            if size >= _STATEMENT_CHARS:
                self._insert(sync_name, relation, names, rows)
                rows, size = [], 0
        self._insert(sync_name, relation, names, rows)

    def _insert(self, sync_name: str, relation: str, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        if rows:
            with self.session.transaction("writing the sync log", sync_name):
                self.session.execute(sql.insert_values(self.session.dialect, relation, names, rows))

    def from_ledger(
        self, sync_name: str, key_columns: Sequence[str], actions: dict[str, str], *, once: bool
    ) -> str:
        """The statement that logs the operations the sync's ledger acknowledges (run in its fold)."""
        self.ensure(sync_name)
        t = self.tables.of_sync(sync_name)
        d = self.session.dialect
        return sql.log_from_ledger(
            d, t.sync_log, t.ledger, t.diff, sync_name, key_columns, actions, once=once
        )

    # -- retention -------------------------------------------------------------------------------------

    def _swap(self, sync_name: str) -> Swap:
        t = self.tables.of_sync(sync_name)
        names = self.tables.sync_table_names(sync_name)
        return Swap(t.sync_log, t.log_next, names.sync_log, names.log_next)

    def settle(self, sync_name: str, existing: set[str]) -> None:
        """Finish or discard a pruning that a crash cut short (before the sync's log is next written)."""
        settle(self.session, self._swap(sync_name), existing, sync_name)

    def prune(self, sync_name: str, days: int) -> int:
        """Remove the sync's log rows older than ``days`` days; return how many there were."""
        names = self.tables.sync_table_names(sync_name)
        if sync_name not in self._ensured and names.sync_log not in self.tables.existing():
            return 0
        d = self.session.dialect
        relation = self.relation(sync_name)
        expired = f"logged_at < {d.days_from_now(-int(days))}"
        _cols, rows = self.session.query(
            f"select count(*) from {relation} where {expired}", "counting expired log rows", sync_name
        )
        count = int(rows[0][0])
        if not count:
            return 0
        if not self.rebuild:
            with self.session.transaction("pruning the sync log", sync_name):
                self.session.execute(f"delete from {relation} where {expired}")
            return count
        select = f"select * from {relation} where not ({expired}) or logged_at is null"
        rebuild(self.session, self._swap(sync_name), select, sync_name, crash="prune")
        return count

    # -- reading ---------------------------------------------------------------------------------------

    def entries(self, sync_name: str, key: str, limit: int) -> list[dict[str, Any]]:
        """The latest ``limit`` rows logged for one key of a sync, newest first; reads only (no table: none)."""
        names = self.tables.sync_table_names(sync_name)
        if names.sync_log not in self.tables.existing():
            return []
        d = self.session.dialect
        cols, rows = self.session.query(
            f"select run_id, logged_at, action, outcome, http_status, request, reason, field, payload "
            f"from {self.relation(sync_name)} where sync_key = {d.literal(key)} "
            f"order by logged_at desc, request desc limit {int(limit)}",
            "reading the sync log",
            sync_name,
        )
        return [dict(zip([c.lower() for c in cols], row)) for row in rows]


def _clip(text: str | None, limit: int = 2000) -> str | None:
    return None if text is None else text[:limit]
