"""A dry run: every operation a sync would send, worked out exactly as a real run would, and nothing sent.

Nothing is written anywhere either: the diff is a query (see :mod:`dbt_cio.warehouse.state`), no lock is
taken, no segment or collection is created. What a dry run does with Customer.io is read: the credentials
are checked (the region look-up), a segment or collection named by ``name`` is looked up, so the preview
names the real id (or says it would be created).

Each operation is described as the HTTP request that would carry it (:func:`describe`): ``method``, ``path``
and ``body`` — for a Track API v2 batch item the body is the item itself (a real run packs up to 500 KB of
them into one ``/api/v2/batch`` request). Rows that would be rejected before sending (by the mapping or by
Customer.io's data limits, checked the same way the sender checks them) are listed with their reason.
The first few go into the sync's result (shown in the summary); with ``--output FILE.jsonl`` every one is
written to the file, one JSON object per line.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import IO, Any

from dbt_cio.contract.model import Sync
from dbt_cio.customerio.client import CustomerIOClient
from dbt_cio.customerio.limits import check_identifier, check_item
from dbt_cio.customerio.operations import BatchItem, Operation
from dbt_cio.engine.collections import find_collection
from dbt_cio.engine.context import SyncContext
from dbt_cio.engine.results import SyncResult
from dbt_cio.engine.segments import resolve_segment
from dbt_cio.payloads.collections import collection_data
from dbt_cio.payloads.mappers import RowRejected, mapper_for
from dbt_cio.warehouse.changes import RowChange

__all__ = ["DRY_RUN_SAMPLES", "describe", "preview"]

DRY_RUN_SAMPLES = 3
_NEW = "<new>"  # the id of a segment or collection a real run would create
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def describe(op: Operation[Any], segment: int | str) -> dict[str, Any]:
    """The request that carries one operation: ``{"method", "path", "body"}``."""
    if isinstance(op, BatchItem):
        return {"method": "POST", "path": "/api/v2/batch", "body": dict(op.item)}
    verb = "add_customers" if op.add else "remove_customers"
    return {
        "method": "POST",
        "path": f"/api/v1/segments/{segment}/{verb}?id_type={op.id_type}",
        "body": {"ids": [op.identifier]},
    }


class _Preview:
    """Collects the samples of one sync and writes every request to ``output`` (when given)."""

    def __init__(self, sync: Sync, result: SyncResult, output: IO[str] | None) -> None:
        self.sync, self.result, self.output = sync, result, output

    @property
    def done(self) -> bool:
        """Whether reading more rows would add nothing (samples full and no file to write)."""
        return self.output is None and len(self.result.samples) >= DRY_RUN_SAMPLES

    def request(self, request: dict[str, Any], sample: dict[str, Any] | None = None) -> None:
        """One request the sync would send; ``sample`` is how the summary shows it (default: as it is)."""
        if len(self.result.samples) < DRY_RUN_SAMPLES:
            self.result.samples.append(sample or request)
        if self.output is not None:
            self.output.write(
                json.dumps({"sync": self.sync.name, **request}, ensure_ascii=False, default=str)
            )
            self.output.write("\n")

    def rejected(self, key: str, reason: str) -> None:
        if len(self.result.samples) < DRY_RUN_SAMPLES:
            self.result.samples.append({"key": key, "rejected": reason})


async def preview(
    sync: Sync,
    ctx: SyncContext,
    client: CustomerIOClient | None,
    result: SyncResult,
    pages: Callable[[], AsyncIterator[list[RowChange]]],
) -> None:
    """Work out what the sync would send (see the module docstring); fill ``result.samples``."""
    out = _Preview(sync, result, ctx.output)
    if sync.type == "collection":
        await _collection(sync, ctx, client, out, result)
        return
    segment: int | str = _NEW
    if sync.type == "segment" and client is not None:
        found = await resolve_segment(sync, client, ctx, create=False)
        if found is None:
            ctx.observer.note(f"sync '{sync.name}': its segment does not exist yet; a real run creates it")
        else:
            segment = found
    mapper = mapper_for(sync, now=int(time.time()), segment_id=segment if isinstance(segment, int) else 0)
    async for page in pages():
        for change in page:
            try:
                ops = mapper(change, None)
            except RowRejected as exc:
                out.rejected(change.key, exc.reason)
                continue
            for op in ops:
                problem = _problem(op)
                if problem is not None:
                    out.rejected(change.key, problem)
                else:
                    out.request(describe(op, segment))
        if out.done:
            return


def _problem(op: Operation[Any]) -> str | None:
    """Why the sender would refuse the operation before sending it (Customer.io's data limits), or None."""
    if isinstance(op, BatchItem):
        try:
            data = _encode(op.item).encode()
        except (TypeError, ValueError) as exc:
            return f"item cannot be serialized as JSON: {exc}"
        found = check_item(op.item, len(data))
    else:
        found = check_identifier(op.identifier, "identifier")
    return None if found is None else found[0]


async def _collection(
    sync: Sync, ctx: SyncContext, client: CustomerIOClient | None, out: _Preview, result: SyncResult
) -> None:
    """A collection is replaced whole when anything changed: show that request, with its row count and size."""
    if result.added + result.changed + result.removed == 0:
        return
    rows: list[dict[str, Any]] = []
    store = ctx.state.store
    iterator = await ctx.session.call(lambda: iter(store.iter_rows(sync, dry_run=True)))
    while (page := await ctx.session.call(next, iterator, None)) is not None:
        rows.extend(page)
    data = collection_data(sync, rows)
    found = await find_collection(sync, client, ctx) if client is not None else None
    size = len(_encode(list(data)).encode())
    name = sync.collection.name if sync.collection is not None and sync.collection.name else sync.model
    if found is None:
        request = {"method": "POST", "path": "/v1/collections", "body": {"name": name, "data": list(data)}}
    else:
        request = {"method": "PUT", "path": f"/v1/collections/{found}", "body": {"data": list(data)}}
    out.request(
        request, {"method": request["method"], "path": request["path"], "rows": len(data), "bytes": size}
    )
