"""Whether a sync's items are rendered by the warehouse, and the rendering (:class:`RenderPlan`) when they are.

A sync is sent from warehouse-rendered items (:mod:`dbt_cio.payloads.rendered`, see docs/rendering.md) when
all of these hold, else through the Python mapper:

- ``DBT_CIO_RENDER`` is ``auto`` (the default) and the adapter is one whose macros are checked against the
  Python mapper in CI (:data:`CHECKED_ADAPTERS`: DuckDB, PostgreSQL, Spark), or it is ``warehouse`` and
  dbt-cio has SQL for the adapter at all (``python`` turns rendering off);
- the run sends (not a dry run: a dry run describes each operation from Python objects);
- the sync log holds only failures (not ``log: all`` nor ``--log-payloads``, which log the payload of every
  operation, built by the Python mapper).

Every sync type is rendered: batch items; a segment's people's ids (v1 id lists); a collection's rows, sent as
they are in its one request when every row was rendered within the limits.

Rendering changes how items are made, never what Customer.io reads: on DuckDB the bytes are those the mapper
and the sender's JSON encoding make; on PostgreSQL and Spark a double may be written with other digits of the
same value (``1.0E16`` for ``1e+16``), which reads back as the same double. Every row whose item or rejection
the SQL cannot vouch for goes through the mapper.
"""

from __future__ import annotations

import os
from typing import Literal, get_args

from dbt_cio.contract.model import LogPolicy, Sync
from dbt_cio.engine.context import SyncContext
from dbt_cio.errors import UsageError
from dbt_cio.payloads.rendered import RenderPlan, render_plan
from dbt_cio.warehouse.casts import PageCasts, page_casts
from dbt_cio.warehouse.jsonsql import JsonSql

__all__ = [
    "CAST_ADAPTERS",
    "CHECKED_ADAPTERS",
    "PAGE_READERS",
    "RENDER_ENV",
    "RenderMode",
    "page_readers",
    "python_casts",
    "render_mode",
    "rendered_plan",
    "renders",
]

RENDER_ENV = "DBT_CIO_RENDER"
RenderMode = Literal["auto", "warehouse", "python"]
CHECKED_ADAPTERS = frozenset({"duckdb", "postgres", "spark"})
"""Adapters whose rendered items are checked byte for byte against the mapper's (tests/test_rendered.py)."""
CAST_ADAPTERS = frozenset({"duckdb"})
"""Where the Python path's page query converts instants and small decimals (:func:`python_casts`): where it was
measured to pay. DuckDB builds a ``datetime`` with its time zone slowly; on PostgreSQL psycopg2 parses them
cheaply, and the conversion moved as much CPU to the server as it saved (bench/README.md). The SQL is checked
on PostgreSQL and Spark too (tests/test_rendered.py)."""
PAGE_READERS = {"postgres": 2}
"""Connections that read rendered pages at the same time, where more than one pays: a PostgreSQL backend
renders a page on one core, so a second one renders the next page beside it (bench/README.md)."""


def render_mode() -> RenderMode:
    """``DBT_CIO_RENDER``: ``auto`` (default), ``warehouse`` or ``python``."""
    value = os.environ.get(RENDER_ENV, "auto").strip().lower() or "auto"
    if value not in get_args(RenderMode):
        raise UsageError(f"{RENDER_ENV} must be auto, warehouse or python, not {value!r}")
    return value  # type: ignore[return-value]  # checked just above


def renders(sync: Sync, ctx: SyncContext, log: LogPolicy) -> bool:
    """Whether ``sync`` is to be sent from rendered items in this run (see the module docstring)."""
    mode = render_mode()
    if mode == "python" or ctx.options.dry_run or log == "all":
        return False
    return mode == "warehouse" or ctx.session.dialect.adapter_type in CHECKED_ADAPTERS


async def rendered_plan(sync: Sync, ctx: SyncContext, *, now: int) -> RenderPlan | None:
    """The rendering of ``sync``'s diff, or None where dbt-cio has no SQL for this warehouse."""
    session = ctx.session
    json_sql = await session.call(JsonSql.render_if_available, session.dialect, session.call_macro)
    if json_sql is None:
        return None
    columns = await session.call(ctx.state.store.column_types, sync)
    return render_plan(sync, json_sql, columns, now=now)


async def python_casts(sync: Sync, ctx: SyncContext) -> PageCasts | None:
    """What the Python path's page query converts in SQL (:mod:`dbt_cio.warehouse.casts`): only on
    :data:`CAST_ADAPTERS`, not in a dry run, and not with ``DBT_CIO_RENDER=python`` (every value as the driver
    returns it: no SQL of dbt-cio's in the payloads); None when nothing is converted."""
    session = ctx.session
    if ctx.options.dry_run or render_mode() == "python" or session.dialect.adapter_type not in CAST_ADAPTERS:
        return None
    json_sql = await session.call(JsonSql.render_if_available, session.dialect, session.call_macro)
    if json_sql is None:
        return None
    casts = page_casts(
        sync, json_sql, await session.call(lambda: ctx.state.store.column_types(sync, sized=True))
    )
    return casts or None


def page_readers(ctx: SyncContext) -> int:
    """How many connections read a rendered sync's pages at the same time (:data:`PAGE_READERS`, else 1)."""
    return PAGE_READERS.get(ctx.session.dialect.adapter_type, 1)
