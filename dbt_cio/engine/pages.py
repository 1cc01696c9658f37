"""Pages of a sync's diff as the send loop takes them: read one page ahead, and a rendered page made a block.

1. **ahead** — a warehouse iterator's pages are read on the warehouse thread (``ctx.session.call``), the next
   one while the caller works on the current one, so reading and sending overlap; **in_parallel** reads
   numbered pages on several sessions at once (:meth:`WarehouseSession.readers`), one page ahead each, for
   a warehouse that answers several queries at the same time faster than one after the other;
2. **split** — a rendered page (:class:`~dbt_cio.payloads.rendered.RenderedPage`) becomes a block of items
   for the sender's raw path, in diff order: its rendered items as they are, and its flagged rows through
   the Python mapper and the sender's own checks (:func:`~dbt_cio.customerio.sender.serialize`), so that
   their items and rejection reasons are exactly those of the Python path.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TypeVar

from dbt_cio.customerio.limits import check_identifier
from dbt_cio.customerio.operations import BatchItem, Operation, RawItems, RawMembers, SegmentChange
from dbt_cio.customerio.sender import serialize, serialize_id
from dbt_cio.payloads.mappers import Mapper, RowRejected
from dbt_cio.payloads.rendered import RenderedPage, RenderPlan
from dbt_cio.warehouse.changes import RowChange
from dbt_cio.warehouse.session import WarehouseSession

__all__ = ["READ_AGAIN_EVERY", "Split", "ahead", "in_parallel", "read_again", "split", "split_members"]

READ_AGAIN_EVERY = 1_000
"""Refused rows read again per query (:func:`read_again`)."""

T = TypeVar("T")

Problem = tuple[RowChange, str, "str | None"]
"""A row that is not sent: the row, the reason, the offending field."""


async def ahead(session: WarehouseSession, make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Step 1: what ``make()`` iterates (on the session's thread), the next item read while this one is used."""
    iterator = await session.call(lambda: iter(make()))
    sentinel = object()
    pending = asyncio.ensure_future(session.call(next, iterator, sentinel))
    try:
        while True:
            page = await pending
            if page is sentinel:
                return
            pending = asyncio.ensure_future(session.call(next, iterator, sentinel))
            yield page
    finally:
        if not pending.done():
            pending.cancel()


async def in_parallel(
    sessions: Sequence[WarehouseSession], read: Callable[[WarehouseSession, int], T | None]
) -> AsyncIterator[T]:
    """Step 1 on several sessions: pages 0, 1, 2, ... in order, page ``k`` read by ``read(session, k)`` on the
    thread of ``sessions[k % len(sessions)]``, each session one page ahead; ``read`` gives None past the last
    page, which ends the pages."""

    def start(k: int) -> asyncio.Future[T | None]:
        session = sessions[k % len(sessions)]
        return asyncio.ensure_future(session.call(read, session, k))

    pending = deque(start(k) for k in range(len(sessions)))
    following = len(sessions)
    try:
        while True:
            page = await pending.popleft()
            if page is None:
                return
            pending.append(start(following))
            following += 1
            yield page
    finally:
        for future in pending:
            future.cancel()


@dataclass
class Split:
    """Step 2's result for one page: the ``block`` to send, the seqs ``done`` (nothing to send), the rows the
    mapper ``rejected`` (never sent), and those whose items the sender's checks ``refused`` (counted as sent,
    as the Python path counts its local rejections)."""

    block: RawItems | RawMembers
    done: list[int]
    rejected: list[Problem] = field(default_factory=list)
    refused: list[Problem] = field(default_factory=list)


async def read_again(
    session: WarehouseSession, plan: RenderPlan, table: str, seqs: Sequence[int]
) -> dict[int, RowChange]:
    """The rows of the diff ``table`` numbered ``seqs``, as the mapped path reads them (for the few rows
    Customer.io refused: their keys and payloads for the rejections and the sync log)."""
    found: dict[int, RowChange] = {}
    for start in range(0, len(seqs), READ_AGAIN_EVERY):
        statement = plan.lookup_sql(table, seqs[start : start + READ_AGAIN_EVERY])
        _cols, rows = await session.call(session.query, statement, "reading refused rows", plan.sync.name)
        found.update((change.seq, change) for change in plan.decode(rows).python)
    return found


def split(page: RenderedPage, mapper: Mapper) -> Split:
    """Step 2 (see the module docstring)."""
    if not page.python:
        return Split(
            RawItems([seq for seq, _, _ in page.items], [data for _, _, data in page.items]), page.done
        )
    out = Split(RawItems([], []), list(page.done))
    mapped: list[tuple[int, bytes]] = []
    for change, op in _mapped(page, mapper, out):
        if not isinstance(op, BatchItem):
            raise TypeError(f"a rendered sync maps rows to batch items, not {type(op).__name__}")
        data = serialize(op.item)
        if isinstance(data, bytes):
            mapped.append((change.seq, data))
        else:
            reason, where = data
            out.refused.append((change, reason, where))
    merged = sorted([(seq, data) for seq, _, data in page.items] + mapped, key=itemgetter(0))  # diff order
    out.block = RawItems([seq for seq, _ in merged], [data for _, data in merged])
    return out


def split_members(page: RenderedPage, mapper: Mapper) -> Split:
    """Step 2 for a segment sync's page: a block of :class:`RawMembers`, its people to add and to remove in diff
    order, the flagged rows' through the mapper and the sender's identifier check."""
    members = [(seq, data, True) for seq, _, data in page.items]
    members += [(seq, data, False) for seq, _, data in page.removals]
    out = Split(RawItems([], []), list(page.done))
    for change, op in _mapped(page, mapper, out):
        if not isinstance(op, SegmentChange):
            raise TypeError(f"a segment sync maps rows to segment changes, not {type(op).__name__}")
        problem = check_identifier(op.identifier, "identifier")
        if problem is not None:
            out.refused.append((change, problem[0], problem[1]))
        else:
            members.append((change.seq, serialize_id(op.identifier), op.add))
    members.sort(key=itemgetter(0))
    out.block = RawMembers([m[0] for m in members], [m[1] for m in members], [m[2] for m in members])
    return out


def _mapped(
    page: RenderedPage, mapper: Mapper, out: Split
) -> Iterator[tuple[RowChange, Operation[RowChange]]]:
    """The operations the mapper makes of a page's flagged rows, each with its row; rows it rejects, and rows
    that need nothing sent, go into ``out``."""
    for change in page.python:
        try:
            ops = mapper(change, change)
        except RowRejected as exc:
            out.rejected.append((change, exc.reason, exc.field))
            continue
        if not ops:
            out.done.append(change.seq)
        for op in ops:
            yield change, op
