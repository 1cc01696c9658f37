"""What every sync of one run shares: the warehouse side, the options and the observer."""

from __future__ import annotations

from dataclasses import dataclass

from dbt_cio.engine.observer import Observer
from dbt_cio.engine.options import SyncOptions
from dbt_cio.warehouse.schema import StateSchema
from dbt_cio.warehouse.session import WarehouseSession

__all__ = ["SyncContext"]


@dataclass(frozen=True)
class SyncContext:
    """What every sync of a run shares: the warehouse side, the options and the observer."""

    session: WarehouseSession
    state: StateSchema
    options: SyncOptions
    observer: Observer
