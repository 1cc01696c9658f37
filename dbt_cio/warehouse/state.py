"""Per-sync state and diffs in the warehouse: what changed since the last sync, and moving the state forward.

The tables are named in :mod:`dbt_cio.warehouse.tables`; the SQL is built in :mod:`dbt_cio.warehouse.sql`.
A row's key is text: its key column cast to the warehouse's string type, or for a composite key the key
columns' texts joined with U+001F. Removed rows carry their key columns as that text, from state.

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

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbt_cio.contract.model import Sync
from dbt_cio.errors import DuplicateKeyError, WarehouseError
from dbt_cio.warehouse import sql
from dbt_cio.warehouse.changes import DiffSummary, RowChange
from dbt_cio.warehouse.locks import SyncLocks
from dbt_cio.warehouse.tables import StateTables, table_suffix

__all__ = ["DEFAULT_PAGE_SIZE", "StateStore"]

DEFAULT_PAGE_SIZE = 10_000
_SAMPLE = 5


@dataclass
class _Resolved:
    """A sync's columns matched against the model: the sync's names, and the warehouse's, quoted."""

    keys: tuple[str, ...]
    values: tuple[str, ...]
    cols: sql.DiffColumns = field(repr=False)


class StateStore:
    """The per-sync ``state__`` and ``diff__`` tables of one state schema.

    ``locks`` (optional) is told about progress, so a long read or commit keeps the sync's lock alive.
    Use from one thread (see :mod:`dbt_cio.warehouse.session`).
    """

    def __init__(self, tables: StateTables, locks: SyncLocks | None = None) -> None:
        self.tables = tables
        self.session = tables.session
        self.locks = locks

    def __repr__(self) -> str:
        return f"StateStore({self.tables.relation_of_schema()})"

    def _heartbeat(self, sync_name: str) -> None:
        if self.locks is not None:
            self.locks.heartbeat_if_due(sync_name)

    def _ensure_state(self, sync: Sync, key_count: int) -> str:
        state = self.tables.of_sync(sync.name).state
        d = self.session.dialect
        with self.session.transaction("creating the state table", sync.name):
            self.session.execute(sql.create_table(state, sql.state_columns(d, key_count)))
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

    def compute_diff(self, sync: Sync) -> DiffSummary:
        """Check the model and materialise this run's diff of ``sync``; the state is not changed.

        Raises :class:`DuplicateKeyError` (nothing written) when a key appears more than once, and
        :class:`WarehouseError` when a column is missing or the model is not built.
        """
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
        state = self._ensure_state(sync, len(cols.keys))
        _cols, rows = self.session.query(sql.count_rows(state), "counting the synced keys", sync.name)
        synced = int(rows[0][0])
        diff = self.tables.of_sync(sync.name).diff
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
        _cols, rows = self.session.query(sql.diff_counts(diff), "counting the diff", sync.name)
        counts = {str(change): int(n) for change, n in rows}
        return DiffSummary(
            sync=sync.name, table=diff, added=counts.get("added", 0), changed=counts.get("changed", 0),
            removed=counts.get("removed", 0), synced=synced, null_keys=null_count, null_key_sample=sample,
        )  # fmt: skip

    def iter_changes(self, sync: Sync, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[list[RowChange]]:
        """The last computed diff of ``sync``, in key order, ``page_size`` rows at a time.

        Added and changed rows carry the key and value columns as the database returns them; removed rows
        carry the key columns as text (from state).
        """
        resolved = self._resolve(sync)
        diff = self.tables.of_sync(sync.name).diff
        n = len(resolved.keys)
        selected = ["_cio_seq", "_cio_key", "_cio_change", *(f"_cio_k{i}" for i in range(n)),
                    *resolved.cols.keys, *resolved.cols.values]  # fmt: skip
        names = (*resolved.keys, *resolved.values)
        after = 0
        while True:
            _cols, rows = self.session.query(
                sql.page(diff, selected, after, page_size), "reading the diff", sync.name
            )
            if not rows:
                return
            out: list[RowChange] = []
            append, keys, first_value = out.append, resolved.keys, 3 + n
            for row in rows:
                change = str(row[2])
                if change == "removed":
                    append(RowChange(str(row[1]), "removed", dict(zip(keys, row[3:first_value])), row[0]))
                else:
                    append(RowChange(str(row[1]), "added" if change == "added" else "changed",
                                     dict(zip(names, row[first_value:])), row[0]))  # fmt: skip
            after = int(rows[-1][0])
            self._heartbeat(sync.name)
            yield out
            if len(rows) < page_size:
                return

    def iter_rows(self, sync: Sync, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        """Every row of the model (all of ``sync.columns``), in key order, ``page_size`` rows at a time."""
        self.tables.ensure()
        names = tuple(sync.columns) or (*sync.key_columns, *sync.value_columns)
        model_cols = self._model_columns(sync)
        by_lower = {c.lower(): c for c in model_cols}
        missing = [c for c in names if c.lower() not in by_lower]
        if missing:
            raise WarehouseError(f"sync '{sync.name}': column(s) {', '.join(missing)} not in {sync.relation}")
        quoted = [self.session.quote(by_lower[c.lower()]) for c in names]
        keys = [self.session.quote(by_lower[c.lower()]) for c in sync.key_columns]
        table = self.tables.of_sync(sync.name).rows
        with self.session.transaction("snapshotting the model", sync.name):
            self.session.execute(sql.drop_table(table))
            self.session.execute(
                sql.create_snapshot(self.session.dialect, table, sync.relation, quoted, keys)
            )
        after = 0
        try:
            while True:
                _c, rows = self.session.query(
                    sql.page(table, ["_cio_seq", *quoted], after, page_size), "reading rows", sync.name
                )
                if not rows:
                    return
                after = int(rows[-1][0])
                yield [dict(zip(names, row[1:])) for row in rows]
                if len(rows) < page_size:
                    return
        finally:
            with self.session.transaction("dropping the snapshot", sync.name):
                self.session.execute(sql.drop_table(table))

    # -- moving the state forward ---------------------------------------------------------------------

    def commit(self, sync: Sync, acked: Sequence[int], run_id: str | None = None) -> None:
        """Make acknowledged rows of the current diff, named by their ``seq``, the synced state.

        One transaction: the rows' keys leave the state, then the added and changed ones come back with the
        hash the diff computed for them. Sequence numbers the diff does not hold are ignored.
        """
        if not acked:
            return
        d = self.session.dialect
        state, diff, acks, _rows = self.tables.of_sync(sync.name)
        ranges = sql.seq_ranges(acked)
        lo, hi = ranges[0][0], ranges[-1][1]
        with self.session.transaction("committing acknowledged keys", sync.name):
            self.session.execute(sql.create_table(acks, sql.acks_columns(d)))
            self.session.execute(f"delete from {acks} where 1 = 1")  # BigQuery wants a where
            for statement in sql.stage_ranges(d, acks, ranges):
                self.session.execute(statement)
            self.session.execute(sql.commit_delete(state, acks, diff, lo, hi))
            self.session.execute(
                sql.commit_insert(d, state, acks, diff, len(sync.key_columns), run_id, lo, hi)
            )
            self.session.execute(f"delete from {acks} where 1 = 1")
        self._heartbeat(sync.name)

    def forget(self, sync_name: str) -> bool:
        """Drop a sync's state and diff (``--full-refresh``) so everything is sent again; True if it had state.

        The sync's ``sync_meta`` is kept (it names things created in Customer.io, e.g. a segment).
        """
        state, diff, acks, _rows = self.tables.of_sync(sync_name)
        existed = self.tables.exists(f"state__{table_suffix(sync_name)}")
        with self.session.transaction("forgetting the state", sync_name):
            for table in (state, diff, acks):
                self.session.execute(sql.drop_table(table))
        return existed

    def state_keys(self, sync: str) -> dict[str, str]:
        """The synced keys of a sync with their hashes (for tests and ``status``); empty without state."""
        if not self.tables.exists(f"state__{table_suffix(sync)}"):
            return {}
        state = self.tables.of_sync(sync).state
        _cols, rows = self.session.query(
            f"select _cio_key, _cio_hash from {state}", "reading the state", sync
        )
        return {str(k): str(h) for k, h in rows}
