"""Everything dbt-cio keeps in one state schema, opened together: tables, per-sync state, records, locks and
the sync log."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from dbt_cio.warehouse.locks import DEFAULT_LOCK_TTL, SyncLocks
from dbt_cio.warehouse.records import Records
from dbt_cio.warehouse.session import WarehouseSession
from dbt_cio.warehouse.state import StateMode, StateStore, fold_for
from dbt_cio.warehouse.synclog import SyncLog
from dbt_cio.warehouse.tables import StateTables

__all__ = ["StateSchema"]


@dataclass(frozen=True)
class StateSchema:
    """One state schema's parts; build it with :meth:`open` (which creates nothing yet)."""

    tables: StateTables
    store: StateStore
    records: Records
    locks: SyncLocks
    log: SyncLog

    @classmethod
    def open(
        cls,
        session: WarehouseSession,
        schema: str,
        database: str | None = None,
        *,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        clock: Callable[[], float] = time.time,
        mode: StateMode = "auto",
    ) -> StateSchema:
        """The state schema ``schema`` (in ``database``) of ``session``; ``clock`` drives lock expiry;
        ``mode`` how state is written (:data:`~dbt_cio.warehouse.state.StateMode`)."""
        tables = StateTables(session, schema, database)
        locks = SyncLocks(tables, lock_ttl=lock_ttl, clock=clock)
        fold = fold_for(mode, *session.capabilities)
        log = SyncLog(tables, rebuild=fold == "rebuild")
        store = StateStore(tables, locks, fold, log)
        return cls(tables, store, Records(tables, append_only=fold == "rebuild"), locks, log)
