"""dbt-cio's state in the warehouse: per-sync state, the diff of each run, runs, rejections and locks.

Everything lives in one schema of its own, the *state schema* (default ``<target schema>_dbt_cio``, see
:attr:`dbt_cio.project.Project.state_schema`), and is reached only through the user's dbt adapter::

    state__<sync>   one row per synced key: key text, key column texts, hash of the values sent, when, run
    diff__<sync>    this run's diff (recreated by every compute_diff): key, added/changed/removed, values
    acks__<sync>    scratch: the acknowledged diff rows (``_cio_seq`` ranges) of the commit in progress
    rows__<sync>    scratch: a numbered snapshot of a whole model (collections)
    runs            one row per run (appended)
    rejections      one row per rejected key per run (appended)
    locks           one row per running sync (see dbt_cio.locks)
    sync_meta       per-sync key/value pairs the engine keeps across runs (e.g. a segment id)

A row's key is text: its key column cast to the warehouse's string type, or for a composite key the
key columns' texts joined with U+001F (see :mod:`dbt_cio.sql`). Removed rows carry their key columns as
that text, from state.

Sync names become identifiers by lower-casing and replacing every character outside ``[a-z0-9_]`` with
``_``; when that changed the name (or it is longer than 40 characters) the first 8 hex digits of the
name's md5 are appended so that two names never share tables.

How a sync moves forward
    1. :meth:`StateStore.compute_diff` checks the model (columns present, no duplicate keys; rows with a
       null key are counted and left out) and materialises the diff. The state is untouched: a dry run
       stops here.
    2. :meth:`StateStore.iter_changes` reads the diff in pages of ``_cio_seq`` ranges: memory stays flat
       however large the diff.
    3. :meth:`StateStore.commit` moves acknowledged diff rows (named by their ``_cio_seq``, shipped as a
       few ranges) into the state, one transaction per call, so its cost does not grow with the diff;
       the delete comes before the insert in that transaction, so a crash at any point can only forget an
       acknowledgement (the key is re-sent) and never claim a key that was not acknowledged.
       Unacknowledged and rejected keys stay out, so the next diff holds them again.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager as ContextManager
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dbt_cio import sql
from dbt_cio.changes import RowChange
from dbt_cio.contract import Sync
from dbt_cio.errors import DuplicateKeyError, WarehouseError
from dbt_cio.locks import SyncLocks

DEFAULT_PAGE_SIZE = 10_000
DEFAULT_LOCK_TTL = 30 * 60.0
"""Seconds without a heartbeat after which another host's lock is considered abandoned."""
HEARTBEAT_EVERY = 10.0
"""Seconds between the heartbeats a running sync writes while it reads its diff and commits."""
_INSERT_ROWS = 1_000  # rows per multi-row insert statement (rejections)
_SAMPLE = 5


def table_suffix(sync_name: str) -> str:
    """The identifier-safe form of a sync name used in table names (see the module docstring)."""
    safe = re.sub(r"[^a-z0-9_]", "_", sync_name.lower())
    if safe != sync_name or len(safe) > 40:
        safe = f"{safe[:40]}_{hashlib.md5(sync_name.encode()).hexdigest()[:8]}"
    return safe


@dataclass(frozen=True)
class DiffSummary:
    """What :meth:`StateStore.compute_diff` found: counts, the diff table, and rows left out for a null key.

    ``null_key_sample`` holds up to 5 such rows (key and value columns); the engine records them as
    rejections ("key column X is null").
    """

    sync: str
    table: str
    added: int
    changed: int
    removed: int
    null_keys: int = 0
    null_key_sample: tuple[Mapping[str, Any], ...] = ()

    @property
    def total(self) -> int:
        return self.added + self.changed + self.removed


@dataclass
class _Resolved:
    """A sync's columns matched against the model: the sync's names, and the warehouse's, quoted."""

    keys: tuple[str, ...]
    values: tuple[str, ...]
    cols: sql.DiffColumns = field(repr=False)


class StateStore:
    """dbt-cio's tables in the state schema, used through a dbt adapter from a single thread.

    ``project_or_adapter`` is a :class:`dbt_cio.project.Project` (preferred: it opens connections for
    the calling thread) or a registered dbt adapter with macros resolvable. ``clock`` returns seconds
    since the epoch (injectable so lock expiry is testable without sleeping).
    """

    def __init__(
        self,
        project_or_adapter: Any,
        schema: str | None = None,
        *,
        database: str | None = None,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        project = project_or_adapter if hasattr(project_or_adapter, "adapter") else None
        self._project = project
        self.adapter = project.adapter if project is not None else project_or_adapter
        if schema is None:
            if project is None:
                raise ValueError("StateStore needs a schema when given an adapter")
            schema = project.state_schema
        self.schema = schema
        self.database = database if database is not None else (project.database if project else None)
        self.lock_ttl = lock_ttl
        self.clock = clock
        self._dialect: sql.Dialect | None = None
        self._ensured = False
        self._locks = SyncLocks(self)
        self._heartbeats: dict[str, float] = {}

    # -- plumbing -------------------------------------------------------------------------------------

    @property
    def dialect(self) -> sql.Dialect:
        if self._dialect is None:
            self._connect()

            def render(name: str, **kwargs: Any) -> str:
                return str(self.adapter.execute_macro(name, kwargs=kwargs))

            self._dialect = sql.Dialect.render(str(self.adapter.type()), render)
        return self._dialect

    def relation(self, table: str) -> str:
        """The rendered, quoted name of one of our tables."""
        return str(self.adapter.Relation.create(database=self.database, schema=self.schema, identifier=table))

    def _connect(self) -> None:
        if self._project is not None:
            self._project.ensure_connection()
        elif self.adapter.connections.get_if_exists() is None:
            self.adapter.acquire_connection("dbt_cio")

    @contextmanager
    def _transaction(self, step: str, sync: str | None = None) -> Iterator[None]:
        """One warehouse transaction; any failure rolls back and becomes a WarehouseError naming the step."""
        self._connect()
        conns = self.adapter.connections
        if conns.get_thread_connection().transaction_open:
            conns.commit()
        try:
            conns.begin()
            yield
            conns.commit()
        except (WarehouseError, KeyboardInterrupt, GeneratorExit):
            conns.rollback_if_open()
            raise
        except Exception as exc:
            conns.rollback_if_open()
            who = f"sync '{sync}': " if sync else ""
            raise WarehouseError(f"{who}{step} failed in the warehouse: {_gist(exc)}") from exc

    def _run(self, statement: str) -> None:
        """Run one statement inside the current transaction (see :meth:`_transaction`)."""
        conns = self.adapter.connections
        if hasattr(conns, "add_query"):
            conns.add_query(statement, auto_begin=False)
        else:  # adapters without a DB-API cursor (e.g. BigQuery)
            self.adapter.execute(statement)

    def _fetch(self, statement: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a query and return (column names, rows) straight from the DB-API cursor (no agate)."""
        conns = self.adapter.connections
        if hasattr(conns, "add_query"):
            _conn, cursor = conns.add_query(statement, auto_begin=False)
            description = cursor.description or ()
            names = [col[0] for col in description]
            rows = [tuple(row) for row in cursor.fetchall()]
            return names, _decode_json_columns(description, rows)
        _response, table = self.adapter.execute(statement, fetch=True)  # adapters without a DB-API cursor
        return list(table.column_names), [tuple(row) for row in table.rows]

    def _query(
        self, statement: str, step: str, sync: str | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._transaction(step, sync):
            return self._fetch(statement)

    # -- tables ---------------------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the state schema and the shared tables if they do not exist yet."""
        if self._ensured:
            return
        d = self.dialect
        self._connect()
        try:
            self.adapter.create_schema(
                self.adapter.Relation.create(database=self.database, schema=self.schema)
            )
        except Exception as exc:
            raise WarehouseError(f"cannot create the state schema {self.schema}: {_gist(exc)}") from exc
        with self._transaction("creating the state tables"):
            self._run(sql.create_table(self.relation("runs"), sql.runs_columns(d)))
            self._run(sql.create_table(self.relation("rejections"), sql.rejections_columns(d)))
            self._run(sql.create_table(self.relation("locks"), sql.locks_columns(d)))
            self._run(sql.create_table(self.relation("sync_meta"), sql.meta_columns(d)))
        self._ensured = True

    def _table_exists(self, table: str) -> bool:
        """Whether one of our tables exists, asked of the warehouse (dbt's relation cache may be stale)."""
        self._connect()
        schema = self.adapter.Relation.create(database=self.database, schema=self.schema).without_identifier()
        try:
            with self._transaction("listing the state tables"):
                found = self.adapter.list_relations_without_caching(schema)
        except WarehouseError:
            return False  # no state schema yet
        return any(str(r.identifier).lower() == table.lower() for r in found)

    def _sync_tables(self, name: str) -> tuple[str, str, str]:
        suffix = table_suffix(name)
        return (
            self.relation(f"state__{suffix}"),
            self.relation(f"diff__{suffix}"),
            self.relation(f"acks__{suffix}"),
        )

    def _ensure_state(self, sync: Sync, key_count: int) -> str:
        state, _diff, _acks = self._sync_tables(sync.name)
        d = self.dialect
        with self._transaction("creating the state table", sync.name):
            self._run(sql.create_table(state, sql.state_columns(d, key_count)))
            names, _ = self._fetch(sql.probe_columns(state))
        have = sum(1 for n in names if re.fullmatch(r"_cio_k\d+", n.lower()))
        if have != key_count:
            raise WarehouseError(
                f"sync '{sync.name}': its state was written for {have} key column(s) but the sync now has "
                f"{key_count} ({', '.join(sync.key_columns)}). Run again with --full-refresh to resend everything."
            )
        if d.indexes:
            with self._transaction("indexing the state table", sync.name):
                self._run(sql.index(state, f"cio_{table_suffix(sync.name)[:40]}_state_key", "_cio_key"))
        return state

    # -- the diff -------------------------------------------------------------------------------------

    def _model_columns(self, sync: Sync) -> list[str]:
        try:
            names, _ = self._query(sql.probe_columns(sync.relation), "reading the model's columns", sync.name)
        except WarehouseError as exc:
            raise WarehouseError(
                f"{exc}. Is model '{sync.model}' built? Run: dbt run --select {sync.model}"
            ) from exc.__cause__
        return names

    def _resolve(self, sync: Sync) -> _Resolved:
        """Match the sync's columns to the model's (case-insensitively) and quote the warehouse's names."""
        names = self._model_columns(sync)
        by_lower = {n.lower(): n for n in names}
        for col in names:
            if col.lower().startswith("_cio_"):
                raise WarehouseError(
                    f"sync '{sync.name}': column {col} of {sync.relation} uses the reserved prefix _cio_: rename it"
                )

        def actual(col: str) -> str:
            found = by_lower.get(col.lower())
            if found is None:
                raise WarehouseError(
                    f"sync '{sync.name}': column '{col}' is not in {sync.relation} (it has: {', '.join(names)}). "
                    f"Add it to model '{sync.model}' or fix meta.customerio, then run dbt again."
                )
            return self.adapter.quote(found)  # type: ignore[no-any-return]

        keys, values = tuple(sync.key_columns), tuple(sync.value_columns)
        cols = sql.DiffColumns(
            keys=tuple(actual(c) for c in keys),
            values=tuple(actual(c) for c in values),
            null_safe=sync.type == "collection",  # keyed by whole rows, where a null is just a value
        )
        return _Resolved(keys=keys, values=values, cols=cols)

    def compute_diff(self, sync: Sync) -> DiffSummary:
        """Check the model and materialise this run's diff of ``sync``; the state is not changed.

        Raises :class:`DuplicateKeyError` (nothing written) when a key appears more than once, and
        :class:`WarehouseError` when a column is missing or the model is not built.
        """
        self.ensure()
        d = self.dialect
        resolved = self._resolve(sync)
        cols = resolved.cols
        _cols, dups = self._query(
            sql.duplicate_keys(d, sync.relation, cols, _SAMPLE), "checking keys", sync.name
        )
        if dups:
            raise DuplicateKeyError(sync.name, sync.relation, sync.key_columns, [str(r[0]) for r in dups],
                                    int(dups[0][1]))  # fmt: skip
        null_count = 0
        if not cols.null_safe:
            _cols, rows = self._query(sql.null_keys(sync.relation, cols), "counting null keys", sync.name)
            null_count = int(rows[0][0])
        sample: tuple[Mapping[str, Any], ...] = ()
        if null_count:
            _cols, rows = self._query(
                sql.null_key_sample(sync.relation, cols, _SAMPLE), "sampling null keys", sync.name
            )
            names = (*resolved.keys, *resolved.values)
            sample = tuple(dict(zip(names, row)) for row in rows)
        state = self._ensure_state(sync, len(cols.keys))
        _state, diff, _acks = self._sync_tables(sync.name)
        with self._transaction("computing the diff", sync.name):
            self._run(sql.drop_table(diff))
            self._run(sql.create_diff(d, diff, sync.relation, state, cols))
        if d.indexes:
            with self._transaction("indexing the diff", sync.name):
                self._run(sql.index(diff, f"cio_{table_suffix(sync.name)[:40]}_diff_seq", "_cio_seq"))
                self._run(sql.index(diff, f"cio_{table_suffix(sync.name)[:40]}_diff_key", "_cio_key"))
        _cols, rows = self._query(sql.diff_counts(diff), "counting the diff", sync.name)
        counts = {str(change): int(n) for change, n in rows}
        return DiffSummary(
            sync=sync.name, table=diff, added=counts.get("added", 0), changed=counts.get("changed", 0),
            removed=counts.get("removed", 0), null_keys=null_count, null_key_sample=sample,
        )  # fmt: skip

    def iter_changes(self, sync: Sync, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[list[RowChange]]:
        """The last computed diff of ``sync``, in key order, ``page_size`` rows at a time.

        Added and changed rows carry the key and value columns as the database returns them; removed rows
        carry the key columns as text (from state).
        """
        resolved = self._resolve(sync)
        _state, diff, _acks = self._sync_tables(sync.name)
        n = len(resolved.keys)
        selected = ["_cio_seq", "_cio_key", "_cio_change", *(f"_cio_k{i}" for i in range(n)),
                    *resolved.cols.keys, *resolved.cols.values]  # fmt: skip
        names = (*resolved.keys, *resolved.values)
        after = 0
        while True:
            _cols, rows = self._query(
                sql.page(diff, selected, after, page_size), "reading the diff", sync.name
            )
            if not rows:
                return
            out: list[RowChange] = []
            append, keys, first_value = out.append, resolved.keys, 3 + n
            for row in rows:
                change = str(row[2])
                if change == "removed":
                    append(RowChange(str(row[1]), change, dict(zip(keys, row[3:first_value])), row[0]))  # type: ignore[arg-type]
                else:
                    append(RowChange(str(row[1]), change, dict(zip(names, row[first_value:])), row[0]))  # type: ignore[arg-type]
            after = int(rows[-1][0])
            self._heartbeat_quietly(sync.name)
            yield out
            if len(rows) < page_size:
                return

    def iter_rows(self, sync: Sync, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        """Every row of the model (all of ``sync.columns``), in key order, ``page_size`` rows at a time."""
        self.ensure()
        names = tuple(sync.columns) or (*sync.key_columns, *sync.value_columns)
        model_cols = self._model_columns(sync)
        by_lower = {c.lower(): c for c in model_cols}
        missing = [c for c in names if c.lower() not in by_lower]
        if missing:
            raise WarehouseError(f"sync '{sync.name}': column(s) {', '.join(missing)} not in {sync.relation}")
        quoted = [self.adapter.quote(by_lower[c.lower()]) for c in names]
        keys = [self.adapter.quote(by_lower[c.lower()]) for c in sync.key_columns]
        table = self.relation(f"rows__{table_suffix(sync.name)}")
        with self._transaction("snapshotting the model", sync.name):
            self._run(sql.drop_table(table))
            self._run(sql.create_snapshot(self.dialect, table, sync.relation, quoted, keys))
        after = 0
        try:
            while True:
                _c, rows = self._query(
                    sql.page(table, ["_cio_seq", *quoted], after, page_size), "reading rows", sync.name
                )
                if not rows:
                    return
                after = int(rows[-1][0])
                yield [dict(zip(names, row[1:])) for row in rows]
                if len(rows) < page_size:
                    return
        finally:
            with self._transaction("dropping the snapshot", sync.name):
                self._run(sql.drop_table(table))

    # -- moving the state forward ---------------------------------------------------------------------

    def commit(self, sync: Sync, acked: Sequence[int], run_id: str | None = None) -> None:
        """Make acknowledged rows of the current diff, named by their ``seq``, the synced state.

        One transaction: the rows' keys leave the state, then the added and changed ones come back with the
        hash the diff computed for them. Sequence numbers the diff does not hold are ignored.
        """
        if not acked:
            return
        d = self.dialect
        state, diff, acks = self._sync_tables(sync.name)
        ranges = sql.seq_ranges(acked)
        lo, hi = ranges[0][0], ranges[-1][1]
        with self._transaction("committing acknowledged keys", sync.name):
            self._run(sql.create_table(acks, sql.acks_columns(d)))
            self._run(f"delete from {acks} where 1 = 1")  # BigQuery wants a where
            for statement in sql.stage_ranges(d, acks, ranges):
                self._run(statement)
            self._run(sql.commit_delete(state, acks, diff, lo, hi))
            self._run(sql.commit_insert(d, state, acks, diff, len(sync.key_columns), run_id, lo, hi))
            self._run(f"delete from {acks} where 1 = 1")
        self._heartbeat_quietly(sync.name)

    def forget(self, sync_name: str) -> bool:
        """Drop a sync's state and diff (``--full-refresh``) so everything is sent again; True if it had state.

        The sync's ``sync_meta`` is kept (it names things created in Customer.io, e.g. a segment).
        """
        state, diff, acks = self._sync_tables(sync_name)
        suffix = table_suffix(sync_name)
        existed = self._table_exists(f"state__{suffix}")
        with self._transaction("forgetting the state", sync_name):
            for table in (state, diff, acks):
                self._run(sql.drop_table(table))
        return existed

    # -- runs, rejections, meta -----------------------------------------------------------------------

    def start_run(self, sync: Sync | str) -> str:
        """Record the start of a run of ``sync``; returns its run id (a uuid4 hex string)."""
        self.ensure()
        name = _name(sync)
        run_id = uuid.uuid4().hex
        with self._transaction("recording the run", name):
            self._run(sql.insert_values(self.dialect, self.relation("runs"), ["run_id", "sync_name", "started_at"],
                                        [(run_id, name, sql.Raw(self.dialect.now))]))  # fmt: skip
        return run_id

    def finish_run(
        self,
        run_id: str,
        *,
        outcome: Any,
        counts: Mapping[str, int] | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a run ended. Counts named in ``sql.RUN_COUNTS`` get columns; others go in ``other_counts``.

        ``outcome`` is a status string, or an object with a ``status`` attribute (e.g. the engine's
        ``SyncOutcome``) whose count attributes are recorded when ``counts`` is not given.
        """
        d = self.dialect
        if not isinstance(outcome, str):
            if counts is None:
                counts = {
                    n: int(getattr(outcome, n))
                    for n in sql.RUN_COUNTS
                    if getattr(outcome, n, None) is not None
                }
            outcome = str(getattr(outcome, "status", outcome))
        counts = dict(counts or {})
        assignments = {"finished_at": d.now, "outcome": d.literal(outcome), "error": d.literal(_clip(error))}
        for name in sql.RUN_COUNTS:
            if name in counts:
                assignments[name] = d.literal(int(counts.pop(name)))
        if counts:
            assignments["other_counts"] = d.literal(json.dumps(counts, sort_keys=True))
        with self._transaction("recording the end of the run"):
            self._run(sql.update(self.relation("runs"), assignments, f"run_id = {d.literal(run_id)}"))

    def record_rejections(
        self, sync: Sync | str, run_id: str | None, rows: Sequence[tuple[str, str, str | None]]
    ) -> None:
        """Append ``(key, reason, field)`` rows to the rejections table."""
        if not rows:
            return
        self.ensure()
        d, name = self.dialect, _name(sync)
        columns = ["run_id", "sync_name", "sync_key", "reason", "field", "rejected_at"]
        with self._transaction("recording rejections", name):
            for i in range(0, len(rows), _INSERT_ROWS):
                values = [(run_id, name, key, _clip(reason), field_, sql.Raw(d.now))
                          for key, reason, field_ in rows[i : i + _INSERT_ROWS]]  # fmt: skip
                self._run(sql.insert_values(d, self.relation("rejections"), columns, values))

    def rejections(self, sync: Sync | str, run_id: str | None = None) -> list[dict[str, Any]]:
        """The recorded rejections of a sync (of one run if given), oldest first."""
        d, name = self.dialect, _name(sync)
        where = f"sync_name = {d.literal(name)}" + (f" and run_id = {d.literal(run_id)}" if run_id else "")
        cols, rows = self._query(
            f"select run_id, sync_key, reason, field, rejected_at from {self.relation('rejections')} "
            f"where {where} order by rejected_at, sync_key", "reading rejections", name,
        )  # fmt: skip
        return [dict(zip([c.lower() for c in cols], row)) for row in rows]

    def runs(self, sync: Sync | str) -> list[dict[str, Any]]:
        """The recorded runs of a sync, oldest first."""
        d, name = self.dialect, _name(sync)
        cols, rows = self._query(
            f"select * from {self.relation('runs')} where sync_name = {d.literal(name)} order by started_at",
            "reading runs", name,
        )  # fmt: skip
        return [dict(zip([c.lower() for c in cols], row)) for row in rows]

    def state_keys(self, sync: Sync | str) -> dict[str, str]:
        """The synced keys of a sync with their hashes (for tests and ``status``); empty without state."""
        name = _name(sync)
        if not self._table_exists(f"state__{table_suffix(name)}"):
            return {}
        state, _diff, _acks = self._sync_tables(name)
        _cols, rows = self._query(f"select _cio_key, _cio_hash from {state}", "reading the state", name)
        return {str(k): str(h) for k, h in rows}

    def get_meta(self, sync: Sync | str, key: str) -> str | None:
        self.ensure()
        d, name = self.dialect, _name(sync)
        _cols, rows = self._query(
            f"select meta_value from {self.relation('sync_meta')} "
            f"where sync_name = {d.literal(name)} and meta_key = {d.literal(key)}", "reading sync meta", name,
        )  # fmt: skip
        return None if not rows or rows[0][0] is None else str(rows[0][0])

    def set_meta(self, sync: Sync | str, key: str, value: str | None) -> None:
        self.ensure()
        d, name = self.dialect, _name(sync)
        table = self.relation("sync_meta")
        with self._transaction("writing sync meta", name):
            self._run(
                f"delete from {table} where sync_name = {d.literal(name)} and meta_key = {d.literal(key)}"
            )
            if value is not None:
                self._run(sql.insert_values(d, table, ["sync_name", "meta_key", "meta_value", "updated_at"],
                                            [(name, key, value, sql.Raw(d.now))]))  # fmt: skip

    # -- locks (dbt_cio.locks) -------------------------------------------------------------------------

    def lock(self, sync: Sync | str, run_id: str | None = None) -> ContextManager[str]:
        """Hold the lock of a sync for the duration of a ``with`` block (yields the lock token).

        Raises :class:`SyncLockedError` when another live run holds it; see :mod:`dbt_cio.locks`.
        """
        return self._locks.hold(_name(sync), run_id)

    def heartbeat(self, sync: Sync | str) -> None:
        """Tell other processes this process still runs ``sync`` (done on every page and commit chunk)."""
        self._locks.heartbeat(_name(sync))

    def _heartbeat_quietly(self, name: str) -> None:
        """Heartbeat while a sync reads and commits, at most every HEARTBEAT_EVERY seconds."""
        now = time.monotonic()
        if self._locks.holds(name) and now - self._heartbeats.get(name, float("-inf")) >= HEARTBEAT_EVERY:
            self._locks.heartbeat(name)
            self._heartbeats[name] = now


def _name(sync: Sync | str) -> str:
    return sync if isinstance(sync, str) else sync.name


def _clip(text: str | None, limit: int = 2000) -> str | None:
    return None if text is None else text[:limit]


def _gist(exc: BaseException) -> str:
    text = str(getattr(exc, "msg", None) or exc).strip()
    lines = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and ln.strip() not in ("Runtime Error", "Database Error")
    ]
    return " ".join(lines)[:500] if lines else type(exc).__name__


__all__ = ["DEFAULT_LOCK_TTL", "DEFAULT_PAGE_SIZE", "DiffSummary", "StateStore", "table_suffix"]


def _decode_json_columns(description: Sequence[Any], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Parse JSON columns that the driver hands back as text (DuckDB does; psycopg2 already parses them).

    A JSON column is sent to Customer.io as the JSON value it holds, not as a string of JSON.
    """
    json_cols = [i for i, col in enumerate(description) if str(col[1]).upper() == "JSON"]
    if not json_cols or not rows:
        return rows
    out = []
    for row in rows:
        values = list(row)
        for i in json_cols:
            if isinstance(values[i], str):
                try:
                    values[i] = json.loads(values[i])
                except ValueError:
                    pass  # not valid JSON after all: send the text as it is
        out.append(tuple(values))
    return out
