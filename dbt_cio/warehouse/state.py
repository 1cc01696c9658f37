"""Per-sync state and diffs in the warehouse: what changed since the last sync, and moving the state forward.

The tables are named in :mod:`dbt_cio.warehouse.tables`; the SQL is built in :mod:`dbt_cio.warehouse.sql`.
A row's key is text: its key column cast to the warehouse's string type, or for a composite key the key
columns' texts joined with U+001F. Removed rows carry their key columns as that text, from state.

How a sync moves forward
    1. :meth:`StateStore.compute_diff` checks the model (columns present, no duplicate keys; rows with a
       null key are counted and left out), settles what an earlier run left (a ledger not yet folded, a
       fold cut short: :mod:`dbt_cio.warehouse.ledger`) and materialises the diff, with an
       empty ledger beside it. With ``dry_run=True`` nothing at all is written: the diff is a query against
       the state as the next run would see it, and no schema or table is created.
    2. :meth:`StateStore.iter_changes` reads the diff in pages of ``_cio_seq`` ranges: memory stays flat
       however large the diff.
    3. :meth:`StateStore.commit` appends acknowledged diff rows (named by their ``_cio_seq``, shipped as a
       few ranges) to the ledger: one insert per call, no DELETE, UPDATE or transaction needed.
    4. :meth:`StateStore.fold` applies the ledger to the state once, at the end of the run (see
       :mod:`dbt_cio.warehouse.ledger` for the two ways, in place or by rebuilding the table, and why a crash
       at any point can only lead to a key being re-sent, never to a key claimed that was not acknowledged).
       Unacknowledged and rejected keys stay out, so the next diff holds them again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from dbt_cio.contract.actions import actions_for
from dbt_cio.contract.model import Sync
from dbt_cio.errors import DuplicateKeyError, WarehouseError
from dbt_cio.warehouse import sql
from dbt_cio.warehouse.casts import PageCasts as Casts
from dbt_cio.warehouse.changes import DiffSummary, RowChange, row_changes
from dbt_cio.warehouse.dialect import Dialect
from dbt_cio.warehouse.ledger import Acknowledged, Fold, Ledger
from dbt_cio.warehouse.locks import SyncLocks
from dbt_cio.warehouse.session import WarehouseSession
from dbt_cio.warehouse.synclog import SyncLog
from dbt_cio.warehouse.tables import StateTables, table_suffix

__all__ = ["DEFAULT_PAGE_SIZE", "STATE_MODES", "StateMode", "StateStore", "fold_for"]

StateMode = Literal["auto", "transactional", "append_only"]
"""How the state schema is written: ``transactional`` folds in place (one transaction with DELETE) and
updates rows of ``runs``; ``append_only`` needs neither (rebuild folds, appended rows); ``auto`` takes
``transactional`` where the warehouse has transactions and DELETE, else ``append_only``."""
STATE_MODES: tuple[StateMode, ...] = ("auto", "transactional", "append_only")

DEFAULT_PAGE_SIZE = 10_000
_SAMPLE = 5


@dataclass
class _Resolved:
    """A sync's columns matched against the model: the sync's names, and the warehouse's, quoted."""

    keys: tuple[str, ...]
    values: tuple[str, ...]
    cols: sql.DiffColumns = field(repr=False)


def fold_for(mode: StateMode, transactions: bool, row_dml: bool) -> Fold:
    """The fold a state mode uses on a warehouse with these capabilities."""
    if mode == "auto":
        mode = "transactional" if transactions and row_dml else "append_only"
    return "in_place" if mode == "transactional" else "rebuild"


class StateStore:
    """The per-sync ``state__``, ``diff__`` and ``ledger__`` tables of one state schema.

    ``locks`` (optional) is told about progress, so a long read or commit keeps the sync's lock alive.
    ``fold`` is how ledgers are folded (:func:`fold_for`); folds write the sync log's accepted rows to
    ``log`` (default: the schema's sync log, pruned the same way). Use from one thread (see
    :mod:`dbt_cio.warehouse.session`).
    """

    def __init__(
        self,
        tables: StateTables,
        locks: SyncLocks | None = None,
        fold: Fold = "in_place",
        log: SyncLog | None = None,
    ) -> None:
        self.tables = tables
        self.session = tables.session
        self.locks = locks
        self.ledger = Ledger(tables, fold)
        self.log = log or SyncLog(tables, rebuild=fold == "rebuild")

    def __repr__(self) -> str:
        return f"StateStore({self.tables.relation_of_schema()}, fold={self.ledger.fold_kind})"

    def _heartbeat(self, sync_name: str) -> None:
        if self.locks is not None:
            self.locks.heartbeat_if_due(sync_name)

    def _ensure_state(self, sync: Sync, key_count: int) -> str:
        state = self.tables.of_sync(sync.name).state
        d = self.session.dialect
        with self.session.transaction("creating the state table", sync.name):
            self.session.execute(sql.create_table(d, state, sql.state_columns(d, key_count)))
            names, _ = self.session.fetch(sql.probe_columns(state))
        have = sum(1 for n in names if re.fullmatch(r"_cio_k\d+", n.lower()))
        if have != key_count:
            raise WarehouseError(
                f"sync '{sync.name}': its state was written for {have} key column(s) but the sync now has "
                f"{key_count} ({', '.join(sync.key_columns)}). Run again with --full-refresh to resend everything."
            )
        if d.indexes:
            with self.session.transaction("indexing the state table", sync.name):
                self.session.execute(
                    sql.index(state, f"cio_{table_suffix(sync.name)[:40]}_state_key", "_cio_key")
                )
        return state

    # -- the diff -------------------------------------------------------------------------------------

    def _model_columns(self, sync: Sync) -> list[str]:
        try:
            names, _ = self.session.query(
                sql.probe_columns(sync.relation), "reading the model's columns", sync.name
            )
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
            return self.session.quote(found)

        keys, values = tuple(sync.key_columns), tuple(sync.value_columns)
        cols = sql.DiffColumns(
            keys=tuple(actual(c) for c in keys),
            values=tuple(actual(c) for c in values),
            null_safe=sync.type == "collection",  # keyed by whole rows, where a null is just a value
        )
        return _Resolved(keys=keys, values=values, cols=cols)

    def compute_diff(self, sync: Sync, *, dry_run: bool = False) -> DiffSummary:
        """Check the model and materialise this run's diff of ``sync``; the state is not changed.

        First settles what an earlier run left (a ledger to fold, a fold to finish). With ``dry_run`` nothing
        is written anywhere: the diff is a query (``DiffSummary.table`` is a subquery to select from) against
        the state as the next real run would see it.

        Raises :class:`DuplicateKeyError` (nothing written) when a key appears more than once, and
        :class:`WarehouseError` when a column is missing or the model is not built.
        """
        if not dry_run:
            self.tables.ensure()
        d = self.session.dialect
        resolved = self._resolve(sync)
        cols = resolved.cols
        _cols, dups = self.session.query(
            sql.duplicate_keys(d, sync.relation, cols, _SAMPLE), "checking keys", sync.name
        )
        if dups:
            raise DuplicateKeyError(sync.name, sync.relation, sync.key_columns, [str(r[0]) for r in dups],
                                    int(dups[0][1]))  # fmt: skip
        null_count = 0
        if not cols.null_safe:
            _cols, rows = self.session.query(
                sql.null_keys(sync.relation, cols), "counting null keys", sync.name
            )
            null_count = int(rows[0][0])
        sample: tuple[Mapping[str, Any], ...] = ()
        if null_count:
            _cols, rows = self.session.query(
                sql.null_key_sample(sync.relation, cols, _SAMPLE), "sampling null keys", sync.name
            )
            names = (*resolved.keys, *resolved.values)
            sample = tuple(dict(zip(names, row)) for row in rows)
        n = len(cols.keys)
        if dry_run:
            state = self.ledger.effective_state(sync.name, n) or _no_state(d, n)
            diff = f"({sql.diff_select(d, sync.relation, state, cols)}) dry_diff"
        else:
            existing = self.tables.existing()
            self.ledger.recover(sync.name, existing)  # a fold cut short between its statements: finish it
            self.log.settle(sync.name, existing)  # the same for a pruning of the sync log
            state = self._ensure_state(sync, n)
            # What a run that died before its fold acknowledged (its log rows too, never twice).
            self.ledger.fold_pending(sync.name, n, self._log_insert(sync, once=True))
            diff = self._materialise(sync, state, cols)
        _cols, rows = self.session.query(sql.count_rows(state), "counting the synced keys", sync.name)
        synced = int(rows[0][0])
        _cols, rows = self.session.query(sql.diff_counts(diff), "counting the diff", sync.name)
        counts = {str(change): int(n) for change, n in rows}
        return DiffSummary(
            sync=sync.name, table=diff, added=counts.get("added", 0), changed=counts.get("changed", 0),
            removed=counts.get("removed", 0), synced=synced, null_keys=null_count, null_key_sample=sample,
        )  # fmt: skip

    def _materialise(self, sync: Sync, state: str, cols: sql.DiffColumns) -> str:
        """Replace the sync's diff table with this run's diff and start its empty ledger."""
        d = self.session.dialect
        diff = self.tables.of_sync(sync.name).diff
        self.ledger.drop(sync.name)  # folded above: a ledger never outlives the diff it is about
        with self.session.transaction("computing the diff", sync.name):
            self.session.execute(sql.drop_table(diff))
            self.session.execute(sql.create_diff(d, diff, sync.relation, state, cols))
        if d.indexes:
            with self.session.transaction("indexing the diff", sync.name):
                self.session.execute(
                    sql.index(diff, f"cio_{table_suffix(sync.name)[:40]}_diff_seq", "_cio_seq")
                )
                self.session.execute(
                    sql.index(diff, f"cio_{table_suffix(sync.name)[:40]}_diff_key", "_cio_key")
                )
        self.ledger.create(sync.name)
        return diff

    def column_types(self, sync: Sync, *, sized: bool = False) -> list[tuple[str, str, str]]:
        """Every column the sync reads, key columns first, as ``(name in the block, quoted name, data type)``,
        the type as the adapter reports it for the sync's diff table (a real run's diff: not a dry run's);
        ``sized``: with its precision (:meth:`~dbt_cio.warehouse.session.WarehouseSession.column_types`)."""
        resolved, table = self._resolve(sync), self.tables.sync_table_names(sync.name).diff
        step = "reading the diff's column types"
        found = self.session.column_types(self.tables.database, self.tables.schema, table, step, sized=sized)
        types = {name.lower(): dtype for name, dtype in found}
        names = (*resolved.keys, *resolved.values)
        quoted = (*resolved.cols.keys, *resolved.cols.values)
        missing = [name for name in names if name.lower() not in types]
        if missing:
            raise WarehouseError(f"sync '{sync.name}': the diff table has no column {', '.join(missing)}")
        return [(name, q, types[name.lower()]) for name, q in zip(names, quoted)]

    def iter_changes(
        self,
        sync: Sync,
        page_size: int = DEFAULT_PAGE_SIZE,
        diff: str | None = None,
        casts: Casts | None = None,
    ) -> Iterator[list[RowChange]]:
        """The last computed diff of ``sync``, in key order, ``page_size`` rows at a time.

        ``diff`` is where to read it (``DiffSummary.table``; default: the sync's diff table). Added and
        changed rows carry the key and value columns as the database returns them, or as ``casts`` converts
        them (:mod:`dbt_cio.warehouse.casts`); removed rows carry the key columns as text (from state).
        """
        resolved = self._resolve(sync)
        diff = diff or self.tables.of_sync(sync.name).diff
        casts = casts or Casts({})
        selected = ["_cio_seq", "_cio_key", "_cio_change", *(f"_cio_k{i}" for i in range(len(resolved.keys))),
                    *resolved.cols.keys, *casts.columns(resolved.values, resolved.cols.values), *casts.extras]  # fmt: skip
        after = 0
        while True:
            _cols, rows = self.session.query(
                sql.page(diff, selected, after, page_size), "reading the diff", sync.name
            )
            if not rows:
                return
            after = int(rows[-1][0])
            self._heartbeat(sync.name)
            yield row_changes(rows, resolved.keys, resolved.values, casts)
            if len(rows) < page_size:
                return

    def read_page(
        self,
        sync: Sync,
        page_sql: Callable[[str, int, int], str],
        number: int,
        page_size: int = DEFAULT_PAGE_SIZE,
        diff: str | None = None,
        session: WarehouseSession | None = None,
    ) -> list[tuple[Any, ...]]:
        """Page ``number`` (0, 1, ...) of the last diff of ``sync`` (numbered 1 to N): the driver's tuples of
        ``page_sql(table, after, size)`` (:meth:`dbt_cio.payloads.rendered.RenderPlan.page_sql`), read through
        ``session``: the store's, or another of :meth:`WarehouseSession.readers` reading at the same time."""
        reader, table = session or self.session, diff or self.tables.of_sync(sync.name).diff
        statement = page_sql(table, number * page_size, page_size)
        _cols, rows = reader.query(statement, "reading the diff", sync.name)
        if reader is self.session:  # the lock's heartbeat goes through the store's own connection
            self._heartbeat(sync.name)
        return rows

    def iter_rows(
        self, sync: Sync, page_size: int = DEFAULT_PAGE_SIZE, *, dry_run: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        """Every row of the model (all of ``sync.columns``), in key order, ``page_size`` rows at a time.

        A numbered snapshot of the model is taken first, so pages never shift; with ``dry_run`` the numbering
        is a query instead (nothing is written).
        """
        with self._snapshot(sync, dry_run) as (table, quoted, names):

            def page(table: str, after: int, size: int) -> str:
                return sql.page(table, ["_cio_seq", *quoted], after, size)

            for rows in self._pages(sync.name, table, page, page_size, "reading rows"):
                yield [dict(zip(names, row[1:])) for row in rows]

    def iter_row_pages(
        self, sync: Sync, page_sql: Callable[[str, int, int], str], page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Every row of the model as :meth:`iter_rows` reads it (a numbered snapshot of ``sync.columns``), each
        page selected by ``page_sql(table, after, size)`` as in :meth:`read_page`."""
        with self._snapshot(sync, dry_run=False) as (table, _quoted, _names):
            yield from self._pages(sync.name, table, page_sql, page_size, "reading rows")

    @contextmanager
    def _snapshot(self, sync: Sync, dry_run: bool) -> Iterator[tuple[str, list[str], tuple[str, ...]]]:
        """A numbered snapshot of the model for the block's duration: ``(table, quoted columns, names)``."""
        if not dry_run:
            self.tables.ensure()
        names = tuple(sync.columns) or (*sync.key_columns, *sync.value_columns)
        model_cols = self._model_columns(sync)
        by_lower = {c.lower(): c for c in model_cols}
        missing = [c for c in names if c.lower() not in by_lower]
        if missing:
            raise WarehouseError(f"sync '{sync.name}': column(s) {', '.join(missing)} not in {sync.relation}")
        quoted = [self.session.quote(by_lower[c.lower()]) for c in names]
        keys = [self.session.quote(by_lower[c.lower()]) for c in sync.key_columns]
        d = self.session.dialect
        if dry_run:
            yield f"({sql.snapshot_select(d, sync.relation, quoted, keys)}) dry_rows", quoted, names
            return
        table = self.tables.of_sync(sync.name).rows
        with self.session.transaction("snapshotting the model", sync.name):
            self.session.execute(sql.drop_table(table))
            self.session.execute(sql.create_snapshot(d, table, sync.relation, quoted, keys))
        try:
            yield table, quoted, names
        finally:
            with self.session.transaction("dropping the snapshot", sync.name):
                self.session.execute(sql.drop_table(table))

    def _pages(
        self, sync_name: str, table: str, page_sql: Callable[[str, int, int], str], page_size: int, step: str
    ) -> Iterator[list[tuple[Any, ...]]]:
        """``page_sql``'s pages of a table numbered by ``_cio_seq``, until one comes back short."""
        after = 0
        while True:
            _cols, rows = self.session.query(page_sql(table, after, page_size), step, sync_name)
            if not rows:
                return
            after = int(rows[-1][0])
            self._heartbeat(sync_name)
            yield rows
            if len(rows) < page_size:
                return

    # -- moving the state forward ---------------------------------------------------------------------

    def commit(
        self, sync: Sync, acked: Sequence[Acknowledged] | Sequence[int], run_id: str | None = None
    ) -> None:
        """Record acknowledged rows of the current diff in the sync's ledger (one insert), named by their
        ``seq``, per request that carried them (:class:`~dbt_cio.warehouse.ledger.Acknowledged`; plain
        sequence numbers are rows no request carried); :meth:`fold` makes them the synced state. Sequence
        numbers the diff does not hold are ignored.
        """
        if acked and isinstance(acked[0], Acknowledged):
            groups = cast("Sequence[Acknowledged]", acked)
        else:
            groups = [Acknowledged(cast("Sequence[int]", acked))]
        self.ledger.append(sync.name, groups, run_id)
        self._heartbeat(sync.name)

    def fold(self, sync: Sync, *, log: bool = True) -> None:
        """Make what this run committed to the ledger the synced state (once per run, at its end); nothing to
        do when it committed nothing. ``log`` writes the sync log's rows of the acknowledged operations in
        the same fold (unless the sync's ``log`` is ``none``); False when the engine logged them itself."""
        if self.ledger.appended(sync.name):
            insert = self._log_insert(sync, once=False) if log else None
            self.ledger.fold(sync.name, len(sync.key_columns), insert)
            self._heartbeat(sync.name)

    def _log_insert(self, sync: Sync, *, once: bool) -> str | None:
        if sync.log == "none" or sync.type == "collection":  # a collection's one operation is logged apart
            return None
        return self.log.from_ledger(sync.name, sync.key_columns, dict(actions_for(sync)), once=once)

    def forget(self, sync_name: str) -> bool:
        """Drop a sync's state, diff and ledger (``--full-refresh``) so everything is sent again; True if it had
        state. The sync's ``sync_meta`` is kept (it names things created in Customer.io, e.g. a segment).
        """
        t = self.tables.of_sync(sync_name)
        names = self.tables.sync_table_names(sync_name)
        existing = self.tables.existing()
        existed = names.state in existing or names.next in existing
        for table in (t.ledger, t.state, t.next, t.diff):
            with self.session.transaction("forgetting the state", sync_name):
                self.session.execute(sql.drop_table(table))
        return existed

    def state_keys(self, sync: str) -> dict[str, str]:
        """The synced keys of a sync with their hashes, as the next run will see them (a ledger not folded
        yet included; for tests and ``show``); empty without state. Writes nothing."""
        state = self.ledger.effective_state(sync, 1)  # only the key and the hash are read
        if state is None:
            return {}
        _cols, rows = self.session.query(
            f"select _cio_key, _cio_hash from {state}", "reading the state", sync
        )
        return {str(k): str(h) for k, h in rows}

    def state_row(self, sync: str, key: str, key_count: int) -> dict[str, Any] | None:
        """One key's state (``hash``, ``synced_at``, ``run_id``) as the next run will see it; None when the key
        is not synced. Writes nothing."""
        state = self.ledger.effective_state(sync, key_count)
        if state is None:
            return None
        cols, rows = self.session.query(
            f"select _cio_hash as hash, _cio_synced_at as synced_at, _cio_run_id as run_id from {state} "
            f"where _cio_key = {self.session.dialect.literal(key)}",
            "reading the state",
            sync,
        )
        return dict(zip([c.lower() for c in cols], rows[0])) if rows else None


def _no_state(d: Dialect, key_count: int) -> str:
    """An empty state, for a dry run before the first sync (no table is created). It selects from a one-row
    subquery: BigQuery refuses a WHERE without a FROM."""
    s = d.string_type
    keys = "".join(f", cast(null as {s}) as _cio_k{i}" for i in range(key_count))
    return (
        f"(select cast(null as {s}) as _cio_key, cast(null as {s}) as _cio_hash{keys} "
        f"from (select 1 as _cio_one) one where 1 = 0) no_state"
    )
