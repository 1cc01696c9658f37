"""``type: collection`` syncs: replace the whole collection when the model's rows changed.

A collection is small (at most 10 MB), so when the diff is not empty every row of the model is read, checked
against the size limits and sent in one App API call; unchanged, nothing is sent. The collection is found by
id, by the id remembered in state, or by name, and created on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dbt_cio.contract import Sync

if TYPE_CHECKING:
    from dbt_cio.engine import SyncRun

META_KEY = "collection_id"


async def _find_collection(sync: Sync, client: Any, store: Any, wh: Any) -> int | None:
    ref = sync.collection
    assert ref is not None
    if ref.id is not None:
        return int(ref.id)
    remembered = await wh.call(store.get_meta, sync.name, META_KEY)
    existing = await client.list_collections()
    ids = {int(c["id"]) for c in existing}
    if remembered and int(remembered) in ids:
        return int(remembered)
    name = ref.name or sync.model
    for collection in existing:
        if collection.get("name") == name:
            return int(collection["id"])
    return None


async def replace_collection(run: SyncRun, summary: Any) -> None:
    """Replace the collection with the model's rows when anything changed since the last sync."""
    from dbt_cio.payloads import collection_data

    sync, store, wh, client = run.sync, run.store, run.wh, run.client
    if summary.total == 0:
        return
    rows: list[Any] = []
    iterator = await wh.call(lambda: iter(store.iter_rows(sync)))
    while (page := await wh.call(next, iterator, None)) is not None:
        rows.extend(page)
    data = collection_data(sync, rows)
    collection_id = await _find_collection(sync, client, store, wh)
    if collection_id is None:
        created = await client.create_collection(sync.collection.name or sync.model, data)  # type: ignore[union-attr]
        collection_id = int(created["id"])
    else:
        await client.replace_collection(collection_id, data)
    await wh.call(store.set_meta, sync.name, META_KEY, str(collection_id))
    run.outcome.sent = run.outcome.accepted = len(data)
    # Every row of the diff (numbered 1..n) is now current in Customer.io.
    await wh.call(store.commit, sync, range(1, summary.total + 1))
