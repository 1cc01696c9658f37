"""The ledger: what Customer.io acknowledged during a run, appended as it happens, folded into state once.

While a sync sends, each commit appends the acknowledged diff rows to the sync's ledger table as a few
``_cio_seq`` ranges (per request, within a bucket of the diff: :data:`dbt_cio.warehouse.sql.BUCKET_ROWS`): **one insert statement per commit**, whatever the warehouse and however large the diff.
The ledger is *folded* into the state table once per run — at its end, and at the start of the next run of
the sync if a run died before its fold — after which the ledger is gone.

Two folds, one result (:func:`dbt_cio.warehouse.sql.folded_state`):

``in_place`` (warehouses with transactions and DELETE: DuckDB, PostgreSQL, Snowflake, Redshift)
    One transaction: delete the acknowledged keys from state, insert the acknowledged added and changed
    ones with their new hash, empty the ledger. All or nothing.
``rebuild`` (everywhere else, e.g. Spark's parquet tables: no DELETE, no UPDATE, no transactions)
    Restartable steps, each a single statement:

    1. ``create table next__ as <state with the ledger applied>``
    2. ``drop table state__``
    3. ``alter table next__ rename to state__``
    4. ``drop table ledger__``

    :meth:`Ledger.recover`, run before every diff, completes or discards what a crash left: ``next__`` with
    ``state__`` still there means step 1 may be partial and nothing else happened (drop ``next__``, fold
    again); ``next__`` without ``state__`` means step 2 happened (step 3 then 4). A ledger left after step 3
    is folded again, which changes nothing: folding is idempotent for a given diff and ledger (acknowledged
    keys leave the state and come back with the same hash).

The order of operations keeps a ledger about the diff it was written for: the ledger is folded and dropped
*before* the next diff replaces ``diff__``, and a new ledger is created only after it. State is never ahead
of Customer.io: only acknowledged rows reach the ledger, and the state only through a fold.

A fold also writes the sync log's rows of the operations the ledger acknowledges
(:mod:`dbt_cio.warehouse.synclog`): in its transaction for ``in_place``; as a first statement for
``rebuild``, written ``once`` when a fold is done again after a crash.

Testing seam: ``DBT_CIO_TEST_CRASH_AT=<point>`` makes the process SIGKILL itself at that point of a fold
(``fold:created``, ``fold:dropped``, ``fold:renamed``), so crash tests can stop it between any two statements
(:mod:`dbt_cio.warehouse.rebuild`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from dbt_cio.warehouse import sql
from dbt_cio.warehouse.rebuild import Swap, rebuild, settle
from dbt_cio.warehouse.tables import StateTables

__all__ = ["FOLDS", "Acknowledged", "Fold", "Ledger"]

Fold = Literal["in_place", "rebuild"]
FOLDS: tuple[Fold, ...] = ("in_place", "rebuild")


class Acknowledged(NamedTuple):
    """Diff rows (by ``seq``) one request got acknowledged: its number and HTTP status (None for rows that
    needed no request, e.g. a removed row of a sync that keeps removed rows)."""

    seqs: Sequence[int]
    request: int | None = None
    status: int | None = None


class Ledger:
    """The ledgers of one state schema's syncs; ``fold`` says how they are folded (see the module docstring)."""

    def __init__(self, tables: StateTables, fold: Fold) -> None:
        self.tables = tables
        self.session = tables.session
        self.fold_kind: Fold = fold
        self._appended: set[str] = set()  # syncs whose ledger got rows from this process since its last fold

    def __repr__(self) -> str:
        return f"Ledger({self.tables.relation_of_schema()}, fold={self.fold_kind})"

    # -- during a run --------------------------------------------------------------------------------------

    def create(self, sync_name: str) -> None:
        """Start an empty ledger for the diff just computed (the previous one was folded and dropped)."""
        t = self.tables.of_sync(sync_name)
        with self.session.transaction("creating the ledger", sync_name):
            d = self.session.dialect
            self.session.execute(sql.create_table(d, t.ledger, sql.ledger_columns(d)))

    def drop(self, sync_name: str) -> None:
        with self.session.transaction("dropping the ledger", sync_name):
            self.session.execute(sql.drop_table(self.tables.of_sync(sync_name).ledger))

    def append(self, sync_name: str, acked: Sequence[Acknowledged], run_id: str | None = None) -> None:
        """Record acknowledged diff rows, as ``seq`` ranges per request, in one insert statement."""
        d = self.session.dialect
        now = sql.Raw(d.now)
        rows = [(lo, hi, run_id, now, group.request, group.status, bucket)
                for group in acked for lo, hi, bucket in sql.bucketed_ranges(group.seqs)]  # fmt: skip
        if not rows:
            return
        names = [name for name, _type in sql.ledger_columns(d)]
        with self.session.transaction("committing acknowledged keys", sync_name):
            self.session.execute(sql.insert_values(d, self.tables.of_sync(sync_name).ledger, names, rows))
        self._appended.add(sync_name)

    def appended(self, sync_name: str) -> bool:
        """Whether this process appended to the sync's ledger since it was last folded."""
        return sync_name in self._appended

    # -- folding -------------------------------------------------------------------------------------------

    def _swap(self, sync_name: str) -> Swap:
        t = self.tables.of_sync(sync_name)
        names = self.tables.sync_table_names(sync_name)
        return Swap(t.state, t.next, names.state, names.next)

    def recover(self, sync_name: str, existing: set[str]) -> None:
        """Complete or discard a rebuild fold that a crash cut short (see the module docstring); a ledger left
        after the swap is folded again by :meth:`fold_pending`, harmlessly."""
        settle(self.session, self._swap(sync_name), existing, sync_name)

    def fold_pending(self, sync_name: str, key_count: int, log_insert: str | None = None) -> None:
        """Fold what a run that died before its fold left in the ledger; drop an empty ledger.
        ``log_insert`` writes the sync log's rows for it (written ``once``: see the module docstring)."""
        names = self.tables.sync_table_names(sync_name)
        existing = self.tables.existing()
        if names.ledger not in existing:
            return
        t = self.tables.of_sync(sync_name)
        _cols, rows = self.session.query(sql.count_rows(t.ledger), "reading the ledger", sync_name)
        if int(rows[0][0]) and names.diff in existing and names.state in existing:
            self.fold(sync_name, key_count, log_insert)
        else:
            self.drop(sync_name)

    def fold(self, sync_name: str, key_count: int, log_insert: str | None = None) -> None:
        """Apply the ledger to the state, then drop the ledger (see the module docstring); ``log_insert``
        (:meth:`dbt_cio.warehouse.synclog.SyncLog.from_ledger`) writes the sync log's accepted rows first."""
        self._appended.discard(sync_name)
        t = self.tables.of_sync(sync_name)
        if self.fold_kind == "in_place":
            with self.session.transaction("folding acknowledged keys into the state", sync_name):
                if log_insert is not None:
                    self.session.execute(log_insert)
                for statement in sql.fold_in_place(t.state, t.ledger, t.diff, key_count):
                    self.session.execute(statement)
            self.drop(sync_name)  # empty already: a crash before this drop folds nothing twice
            return
        if log_insert is not None:
            with self.session.transaction("logging acknowledged operations", sync_name):
                self.session.execute(log_insert)
        select = sql.folded_state(t.state, t.ledger, t.diff, key_count)
        rebuild(self.session, self._swap(sync_name), select, sync_name, crash="fold")
        self.drop(sync_name)

    # -- reading -------------------------------------------------------------------------------------------

    def effective_state(self, sync_name: str, key_count: int, existing: set[str] | None = None) -> str | None:
        """The state as the next run will see it, as a relation or a subquery to select from, without
        writing anything: the state table, with a pending ledger applied (read-only) when there is one;
        None when the sync has no state yet."""
        names = self.tables.sync_table_names(sync_name)
        existing = self.tables.existing() if existing is None else existing
        t = self.tables.of_sync(sync_name)
        state = t.state if names.state in existing else t.next if names.next in existing else None
        if state is None:
            return None
        if names.ledger in existing and names.diff in existing and state == t.state:
            return f"({sql.folded_state(state, t.ledger, t.diff, key_count)}) pending"
        return state
