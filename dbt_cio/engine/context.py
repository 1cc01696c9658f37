"""What every sync of one run shares: the warehouse side, the options and the observer."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import IO

from dbt_cio.engine.observer import Observer
from dbt_cio.engine.options import SyncOptions
from dbt_cio.warehouse.schema import StateSchema
from dbt_cio.warehouse.session import WarehouseSession

__all__ = ["SyncContext"]


@dataclass(frozen=True)
class SyncContext:
    """What every sync of a run shares: the warehouse side, the options and the observer; ``output`` is
    where a dry run writes every operation it would send (``--output FILE.jsonl``); ``stop``, once set (by
    SIGTERM in ``dbt-cio serve``), makes the sync under way stop sending and the others not start."""

    session: WarehouseSession
    state: StateSchema
    options: SyncOptions
    observer: Observer
    output: IO[str] | None = None
    stop: threading.Event = field(default_factory=threading.Event)
