"""Replacing a table by a query without DELETE or transactions, in steps a crash cannot break.

Warehouses without row-level DML (Spark's parquet tables) change a table by rebuilding it. Each step is one
statement, and the scratch table's presence tells what a crash interrupted:

1. ``drop table scratch`` (what an earlier attempt left), then ``create table scratch as <query>``
2. ``drop table target``
3. ``alter table scratch rename to target``

:func:`settle`, run before the table is next used: ``scratch`` with ``target`` still there means step 1 may be
partial and nothing else happened, so ``scratch`` is dropped (the caller does the rebuild again when it needs
to); ``scratch`` without ``target`` means step 2 happened, so step 3 is done. The ledger's fold
(:mod:`dbt_cio.warehouse.ledger`) and the sync log's pruning (:mod:`dbt_cio.warehouse.synclog`) use it.
"""

from __future__ import annotations

import os
import signal
from typing import NamedTuple

from dbt_cio.warehouse import sql
from dbt_cio.warehouse.session import WarehouseSession

__all__ = ["CRASH_ENV", "Swap", "crash_point", "rebuild", "settle"]

CRASH_ENV = "DBT_CIO_TEST_CRASH_AT"
"""Testing seam: ``DBT_CIO_TEST_CRASH_AT=<point>`` makes the process SIGKILL itself at that point, so crash
tests can stop it between any two statements (points are ``<what>:created``, ``:dropped``, ``:renamed``)."""


def crash_point(name: str) -> None:
    """Die here, as a SIGKILL would, when a crash test asks for it."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class Swap(NamedTuple):
    """A table and its scratch twin: rendered relations, and bare lower-case names as the schema lists them."""

    target: str
    scratch: str
    target_name: str
    scratch_name: str


def rebuild(session: WarehouseSession, swap: Swap, select: str, sync_name: str, crash: str) -> None:
    """Replace ``swap.target`` by the rows of ``select`` (steps 1 to 3); ``crash`` names the crash points."""
    d = session.dialect
    _run(session, sync_name, "discarding an unfinished rebuild", sql.drop_table(swap.scratch))
    _run(session, sync_name, f"rebuilding {swap.target_name}", sql.create_table_as(d, swap.scratch, select))
    crash_point(f"{crash}:created")
    _run(session, sync_name, f"replacing {swap.target_name}", sql.drop_table(swap.target))
    crash_point(f"{crash}:dropped")
    _rename(session, swap, sync_name)
    crash_point(f"{crash}:renamed")


def settle(session: WarehouseSession, swap: Swap, existing: set[str], sync_name: str) -> bool:
    """Finish or discard a rebuild a crash cut short (see the module docstring); True when the swap was
    completed (the caller may have more to redo), False when there was nothing to do or it was discarded."""
    if swap.scratch_name not in existing:
        return False
    if swap.target_name in existing:  # step 1 may be partial, and nothing after it happened
        _run(session, sync_name, "discarding an unfinished rebuild", sql.drop_table(swap.scratch))
        return False
    _rename(session, swap, sync_name)  # step 2 happened: finish the swap
    return True


def _rename(session: WarehouseSession, swap: Swap, sync_name: str) -> None:
    statement = session.dialect.rename_table(swap.scratch, swap.target, swap.target_name)
    _run(session, sync_name, f"renaming the rebuilt {swap.target_name}", statement)


def _run(session: WarehouseSession, sync_name: str, step: str, statement: str) -> None:
    with session.transaction(step, sync_name):
        session.execute(statement)
