"""The state schema: where dbt-cio keeps everything it writes, and the tables every sync shares.

Everything lives in one schema of its own, the *state schema* (default ``<target schema>_dbt_cio``, see
:attr:`dbt_cio.project.Project.state_schema`)::

    state__<sync>   one row per synced key: key text, key column texts, hash of the values sent, when, run
    diff__<sync>    the latest diff (recreated by every diff): key, added/changed/removed, values
    ledger__<sync>  the diff rows Customer.io acknowledged, as ``_cio_seq`` ranges, until they are folded
                    into the state (appended during a run, dropped by the fold; dbt_cio.warehouse.state)
    next__<sync>    scratch: the folded state being built, before it replaces ``state__`` (rebuild folds)
    rows__<sync>    scratch: a numbered snapshot of a whole model (collections)
    lock__<sync>    the sync's lock: one row per lock event while a run holds it (dbt_cio.warehouse.locks)
    sync_log__<sync>  the sync log: one row per operation sent (dbt_cio.warehouse.synclog)
    log_next__<sync>  scratch: the sync log being rebuilt without its expired rows (append-only warehouses)
    runs            one row per run (appended)                    } dbt_cio.warehouse.records
    rejections      one row per rejected key per run (appended)   }
    sync_meta       per-sync key/value pairs (appended, latest wins)

Sync names become identifiers by lower-casing and replacing every character outside ``[a-z0-9_]`` with
``_``; when that changed the name (or it is longer than 40 characters) the first 8 hex digits of the
name's md5 are appended so that two names never share tables.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

from dbt_cio.warehouse import sql
from dbt_cio.warehouse.session import WarehouseSession

__all__ = ["StateTables", "SyncTables", "table_suffix"]


def table_suffix(sync_name: str) -> str:
    """The identifier-safe form of a sync name used in table names (see the module docstring)."""
    safe = re.sub(r"[^a-z0-9_]", "_", sync_name.lower())
    if safe != sync_name or len(safe) > 40:
        safe = f"{safe[:40]}_{hashlib.md5(sync_name.encode()).hexdigest()[:8]}"
    return safe


class SyncTables(NamedTuple):
    """The rendered names of one sync's own tables."""

    state: str
    diff: str
    ledger: str
    next: str
    rows: str
    lock: str
    sync_log: str
    log_next: str


class StateTables:
    """The state schema of one session: names its tables and creates the shared ones once."""

    def __init__(self, session: WarehouseSession, schema: str, database: str | None = None) -> None:
        self.session = session
        self.schema = schema
        self.database = database
        self._ensured = False

    def __repr__(self) -> str:
        return f"StateTables({self.relation_of_schema()})"

    def relation(self, table: str) -> str:
        """The rendered, quoted name of one of our tables."""
        return self.session.relation(self.database, self.schema, table)

    def relation_of_schema(self) -> str:
        return self.session.relation(self.database, self.schema)

    def of_sync(self, sync_name: str) -> SyncTables:
        suffix = table_suffix(sync_name)
        return SyncTables(*(self.relation(f"{kind}__{suffix}") for kind in SyncTables._fields))

    def ensure(self) -> None:
        """Create the state schema and the shared tables if they do not exist yet (once per session)."""
        if self._ensured:
            return
        session = self.session
        d = session.dialect
        session.create_schema(self.database, self.schema)
        shared = {
            "runs": sql.runs_columns(d),
            "rejections": sql.rejections_columns(d),
            "sync_meta": sql.meta_columns(d),
        }
        with session.transaction("creating the state tables"):
            for table, columns in shared.items():
                session.execute(sql.create_table(d, self.relation(table), columns))
        for table, columns in shared.items():
            self._add_missing_columns(table, columns)
        self._ensured = True

    def _add_missing_columns(self, table: str, columns: sql.Columns) -> None:
        """Bring a table written by an earlier version of dbt-cio up to date: add the columns it lacks."""
        relation = self.relation(table)
        names, _rows = self.session.query(sql.probe_columns(relation), f"reading the columns of {table}")
        have = {name.lower() for name in names}
        missing = [(name, type_) for name, type_ in columns if name.lower() not in have]
        if missing:
            with self.session.transaction(f"adding columns to {table}"):
                for name, type_ in missing:
                    self.session.execute(sql.add_column(relation, name, type_))

    def has(self, table: str) -> bool:
        """Whether one of the shared tables exists: known once :meth:`ensure` ran, else asked."""
        return self._ensured or self.exists(table)

    def exists(self, table: str) -> bool:
        """Whether one of our tables exists (asked of the warehouse)."""
        return table.lower() in self.existing()

    def existing(self) -> set[str]:
        """The lower-cased names of the tables in the state schema (empty when it does not exist)."""
        return self.session.table_names(self.database, self.schema) or set()

    def sync_table_names(self, sync_name: str) -> SyncTables:
        """The bare (unqualified, lower-case) names of one sync's own tables, as :meth:`existing` lists them."""
        suffix = table_suffix(sync_name)
        return SyncTables(*(f"{kind}__{suffix}" for kind in SyncTables._fields))
