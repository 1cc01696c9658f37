"""``type: collection`` syncs: replace the whole collection when the model's rows changed.

A collection is small (at most 10 MB), so when the diff is not empty every row of the model is read, checked
against the size limits and sent in one App API call; unchanged, nothing is sent. The collection is found by
id, by the id remembered in state, or by name, and created on first use.
"""

from __future__ import annotations

from typing import Any

from dbt_cio.contract.model import Sync
from dbt_cio.customerio.client import CustomerIOClient
from dbt_cio.engine.context import SyncContext
from dbt_cio.engine.results import SyncResult
from dbt_cio.payloads.collections import collection_data
from dbt_cio.warehouse.changes import DiffSummary

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
    session, store = ctx.session, ctx.state.store
    if summary.total == 0:
        return
    rows: list[dict[str, Any]] = []
    iterator = await session.call(lambda: iter(store.iter_rows(sync)))
    while (page := await session.call(next, iterator, None)) is not None:
        rows.extend(page)
    data = collection_data(sync, rows)
    collection_id = await find_collection(sync, client, ctx)
    if collection_id is None:
        name = sync.collection.name if sync.collection is not None and sync.collection.name else sync.model
        created = await client.create_collection(name, data)
        collection_id = int(created["id"])
    else:
        await client.replace_collection(collection_id, data)
    await session.call(ctx.state.records.set_meta, sync.name, META_KEY, str(collection_id))
    result.sent = result.accepted = len(data)
    # Every row of the diff (numbered 1..n) is now current in Customer.io.
    await session.call(store.commit, sync, range(1, summary.total + 1), result.run_id)
