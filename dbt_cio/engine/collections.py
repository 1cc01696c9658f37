"""``type: collection`` syncs: replace the whole collection when the model's rows changed.

A collection is small (at most 10 MB), so when the diff is not empty every row of the model is read, checked
against the size limits and sent in one App API call; unchanged, nothing is sent. The collection is found by
id, by the id remembered in state, or by name, and created on first use. That one call is the sync's one
row in the sync log (keyed by the collection's name), with its payload when it failed or under ``log: all``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from dbt_cio.contract.actions import COLLECTION_REPLACE
from dbt_cio.contract.model import Sync
from dbt_cio.customerio.client import CustomerIOClient
from dbt_cio.engine.context import SyncContext
from dbt_cio.engine.pages import ahead
from dbt_cio.engine.render import rendered_plan, renders
from dbt_cio.engine.results import SyncResult
from dbt_cio.errors import CustomerIOError, TerminalError, TransientError
from dbt_cio.payloads.collections import collection_data
from dbt_cio.warehouse.changes import DiffSummary
from dbt_cio.warehouse.ledger import Acknowledged
from dbt_cio.warehouse.synclog import LogEntry

__all__ = ["find_collection", "replace_collection"]

META_KEY = "collection_id"


async def find_collection(sync: Sync, client: CustomerIOClient, ctx: SyncContext) -> int | None:
    """The id of the collection this sync replaces (by id, remembered id, or name); None when it is new."""
    ref = sync.collection
    assert ref is not None
    if ref.id is not None:
        return int(ref.id)
    remembered = await ctx.session.call(ctx.state.records.get_meta, sync.name, META_KEY)
    existing = await client.list_collections()
    ids = {int(c["id"]) for c in existing}
    if remembered and int(remembered) in ids:
        return int(remembered)
    name = ref.name or sync.model
    for collection in existing:
        if collection.get("name") == name:
            return int(collection["id"])
    return None


async def replace_collection(
    sync: Sync, summary: DiffSummary, ctx: SyncContext, client: CustomerIOClient, result: SyncResult
) -> None:
    """Replace the collection with the model's rows when anything changed since the last sync."""
    session = ctx.session
    if summary.total == 0:
        return
    rendered = await _rendered_rows(sync, ctx)
    data: list[Any] = [] if rendered is not None else collection_data(sync, await _rows(sync, ctx))
    collection_id = await find_collection(sync, client, ctx)
    name = sync.collection.name if sync.collection is not None and sync.collection.name else sync.model
    if collection_id is None:
        request: dict[str, Any] = {
            "method": "POST",
            "path": "/v1/collections",
            "body": {"name": name, "data": data},
        }
    else:
        request = {"method": "PUT", "path": f"/v1/collections/{collection_id}", "body": {"data": data}}
    try:
        if rendered is not None:
            sent = await client.put_collection_json(collection_id, name, rendered)
            collection_id = int(sent["id"]) if collection_id is None else collection_id
        elif collection_id is None:
            created = await client.create_collection(name, data)
            collection_id = int(created["id"])
        else:
            await client.replace_collection(collection_id, data)
    except CustomerIOError as exc:
        if rendered is not None:  # the log keeps the payload as the rows were sent
            request["body"]["data"] = [json.loads(row) for row in rendered]
        outcome = "failed" if isinstance(exc, TransientError) else "rejected"
        status = exc.status if isinstance(exc, TransientError | TerminalError) else None
        await _log(sync, ctx, result, name, outcome, status, str(exc), request)
        raise
    await session.call(ctx.state.records.set_meta, sync.name, META_KEY, str(collection_id))
    result.sent = result.accepted = len(data) if rendered is None else len(rendered)
    # Every row of the diff (numbered 1..n) is now current in Customer.io.
    acked = Acknowledged(range(1, summary.total + 1), request=1, status=200)
    await session.call(ctx.state.store.commit, sync, [acked], result.run_id)
    await _log(sync, ctx, result, name, "accepted", 200, None, request if _payloads(sync, ctx) else None)


async def _rows(sync: Sync, ctx: SyncContext) -> list[dict[str, Any]]:
    """Every row of the model, as the mapper reads them."""
    store = ctx.state.store
    return [row async for page in ahead(ctx.session, lambda: store.iter_rows(sync)) for row in page]


async def _rendered_rows(sync: Sync, ctx: SyncContext) -> list[bytes] | None:
    """Every row of the model as the warehouse renders it, when it renders this sync and every row was rendered
    within the limits (:meth:`~dbt_cio.payloads.rendered.RenderPlan.collection_json`); else None: the rows are
    read into Python, and :func:`~dbt_cio.payloads.collections.collection_data` builds, checks and explains."""
    if not renders(sync, ctx, "all" if _payloads(sync, ctx) else sync.log):
        return None
    plan = await rendered_plan(sync, ctx, now=int(time.time()))
    if plan is None:
        return None
    store = ctx.state.store
    return plan.collection_json(
        [
            plan.decode(rows)
            async for rows in ahead(ctx.session, lambda: store.iter_row_pages(sync, plan.page_sql))
        ]
    )


def _payloads(sync: Sync, ctx: SyncContext) -> bool:
    """Whether accepted operations keep their payload in the sync log (``log: all`` or ``--log-payloads``)."""
    return sync.log == "all" or (sync.log == "errors" and ctx.options.log_payloads)


async def _log(
    sync: Sync,
    ctx: SyncContext,
    result: SyncResult,
    name: str,
    outcome: str,
    status: int | None,
    reason: str | None,
    request: dict[str, Any] | None,
) -> None:
    """The sync log's row of the collection's one request (written after its commit when it was accepted)."""
    if sync.log == "none" or ctx.options.dry_run:
        return
    payload = None if request is None else json.dumps(request, ensure_ascii=False, default=str)
    entry = LogEntry(name, name, COLLECTION_REPLACE, outcome, status, reason, None, 1, payload)
    await ctx.session.call(ctx.state.log.write, sync.name, result.run_id, [entry])
