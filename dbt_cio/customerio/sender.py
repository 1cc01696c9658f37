"""The sender: a stream of operations in, a stream of results out, as Customer.io acknowledges them.

The pipeline, as named steps:

1. **pull** — operations are read lazily from the caller's (async) iterable; the reader stops pulling
   while ``max_concurrency`` requests are in flight and their results are not yet taken, so the sync is
   never held in memory: at most the in-flight requests plus one open batch per destination.
2. **check** — each batch item is serialized once (compact JSON) and checked against Customer.io's data
   limits (:func:`dbt_cio.limits.check_item`); a broken item is rejected here, with its reason, and never
   sent. A segment change's identifier is checked the same way.
3. **pack** — items are packed greedily by bytes into ``/api/v2/batch`` bodies of at most 500 KB
   (:mod:`dbt_cio.batching`); segment changes are grouped per (segment, id type, add/remove) up to 1000 ids.
4. **send** — each full batch or group becomes one request task, paced by the client's limiter and
   retried by the client on 408/429/5xx/timeouts/dropped connections.
5. **settle** — a 200 accepts every item; a 207 rejects exactly the items named by ``batch_index``; a 400
   (or 413) on a batch of several items splits it in halves and sends each again, so one bad item cannot
   sink its neighbours; retries exhausted → every operation of the request fails with the last error,
   ``retryable=True`` (the next run sends it again); 401/403 → :class:`AuthError` stops the whole run.
6. **report** — one :class:`Result` per operation, yielded in order of acknowledgement, so the caller can
   commit state in chunks while sending goes on. :meth:`Sender.send_chunks` yields them an :class:`Answer`
   at a time: the results of one request, with the request's number (counted per sender, from 1) and the
   HTTP status of its answer, or a run of local rejections (no request, no status).

The raw path (:meth:`Sender.send_raw`) takes blocks of items already serialized (rendered by the
warehouse) with a seq each, and answers a :class:`~dbt_cio.customerio.operations.RawAnswer` per request: the
same steps, sharing the concurrency (:mod:`dbt_cio.customerio.pipeline`), the client's retries and pacing,
and the settling of 207s and 400s; step 2 is only the item size limit there.

Ordering: items are packed in input order, but batches travel concurrently, so two operations on the same
entity in different batches may arrive in either order. The sync engine sends one operation per key and
run, so this does not arise there.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from dbt_cio.customerio.batching import BatchPacker, batch_body
from dbt_cio.customerio.limits import (
    MAX_BATCH_BYTES,
    MAX_ITEM_BYTES,
    MAX_SEGMENT_IDS,
    check_identifier,
    check_item,
)
from dbt_cio.customerio.operations import (
    BatchItem,
    Operation,
    RawAnswer,
    RawItems,
    RawMembers,
    Refusal,
    Result,
    SegmentChange,
)
from dbt_cio.customerio.pipeline import Dispatch, Put, requests
from dbt_cio.customerio.ratelimit import RateSettings
from dbt_cio.customerio.refusals import Posted, every, refusals_of, within_size
from dbt_cio.customerio.stats import Stats
from dbt_cio.errors import AuthError, TerminalError, TransientError

__all__ = ["DEFAULT_LINGER", "Answer", "Sender", "TrackAPI", "serialize", "serialize_id"]

R = TypeVar("R")
T = TypeVar("T")


class TrackAPI(Protocol):
    """The few calls the sender needs from a Track API client (:class:`~dbt_cio.customerio.client.CustomerIOClient`).

    ``post_batch`` returns the per-item errors of a 207 (empty on a 200) and raises the
    :mod:`dbt_cio.errors` classes for anything else; ``stats`` are the client's lifetime counters.
    """

    @property
    def rate_settings(self) -> RateSettings: ...

    @property
    def stats(self) -> Stats: ...

    async def post_batch(self, body: bytes, stats: Stats | None = None) -> list[dict[str, Any]]: ...

    async def change_segment_json(
        self, segment_id: int, id_type: str, ids: Sequence[bytes], add: bool, stats: Stats | None = None
    ) -> None: ...


DEFAULT_LINGER = 1.0  # seconds an open batch may wait for more items before it is sent anyway
_SPLIT_STATUSES = frozenset({400, 413})
_YIELD_EVERY = 512  # give the event loop a turn this often when reading a plain iterable
_SegmentKey = tuple[int, str, bool]

# Compact, UTF-8 as is, and no NaN/Infinity (not JSON: Customer.io would refuse the whole batch).
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class Answer(list[Result[R]]):
    """The results of one request, in the order of its operations: ``request`` numbers the request among
    this sender's (from 1; a batch split after a 400 makes new requests), ``status`` is the HTTP status
    Customer.io answered (200, 207, or the error's; None when no answer came, e.g. a dropped connection).
    Local rejections, which no request carried, come as an Answer with ``request`` and ``status`` None."""

    __slots__ = ("request", "status")

    def __init__(
        self, results: Iterable[Result[R]] = (), request: int | None = None, status: int | None = None
    ):
        super().__init__(results)
        self.request = request
        self.status = status


_accepted = tuple.__new__  # builds a Result from a full tuple of its fields: the hot path, a row each


class Sender(Generic[R]):
    """Sends operations through one Track API client; see the module docstring for the steps.

    ``R`` is the type of the operations' ``ref`` (handed back in their results). ``stats`` holds this
    sender's live :class:`~dbt_cio.customerio.stats.Stats` (requests, retries, 429s seen, items accepted,
    rejected and failed), readable at any time; the client's ``stats`` add up all its senders.
    """

    def __init__(
        self,
        client: TrackAPI,
        *,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        max_batch_items: int | None = None,
        linger: float = DEFAULT_LINGER,
    ):
        self.client = client
        self.max_batch_bytes = max_batch_bytes
        self.max_batch_items = max_batch_items
        self.linger = linger
        self.stats = Stats()
        self._requests = 0  # requests made so far (numbers the next one)

    def _next_request(self) -> int:
        self._requests += 1
        return self._requests

    async def send(
        self, ops: AsyncIterable[Operation[R]] | Iterable[Operation[R]]
    ) -> AsyncIterator[Result[R]]:
        """Send every operation; yield one :class:`Result` per operation as it is acknowledged.

        Raises :class:`AuthError` as soon as Customer.io refuses the credentials (results already yielded
        stand; the rest get none). Closing the iterator early cancels the requests in flight.
        """
        async for results in self.send_chunks(ops):
            for result in results:
                yield result

    async def send_chunks(
        self, ops: AsyncIterable[Operation[R]] | Iterable[Operation[R]]
    ) -> AsyncIterator[Answer[R]]:
        """As :meth:`send`, an :class:`Answer` at a time: the results of one request, or a run of local
        rejections."""

        async def read(put: Put[Answer[R]], dispatch: Dispatch[Answer[R]]) -> None:
            await self._read_all(ops, put, dispatch)

        async for answer in requests(self.client.rate_settings.max_concurrency, read):
            self._count(answer)
            yield answer

    async def send_raw(self, blocks: AsyncIterable[RawItems]) -> AsyncIterator[RawAnswer]:
        """Send blocks of serialized batch items; yield a :class:`RawAnswer` per request (or run of local
        refusals), as :meth:`send_chunks` does for operations: the same packing, requests, retries, pacing and
        settling, with seqs in place of results and no Python object per item.

        Items are taken as they are (already checked by whoever wrote them) except for their size: an item
        over :data:`~dbt_cio.customerio.limits.MAX_ITEM_BYTES` is refused here, with the reason the operation
        path gives.
        """

        async def read(put: Put[RawAnswer], dispatch: Dispatch[RawAnswer]) -> None:
            await self._read_raw(blocks, put, dispatch)

        async for answer in requests(self.client.rate_settings.max_concurrency, read):
            self._count_raw(answer)
            yield answer

    async def send_members_raw(
        self, segment_id: int, id_type: str, blocks: AsyncIterable[RawMembers]
    ) -> AsyncIterator[RawAnswer]:
        """Send blocks of serialized segment changes to one manual segment (``id_type``: how its ids identify
        people); yield a :class:`RawAnswer` per request, as :meth:`send_raw` does. Grouped as the operation path
        groups :class:`SegmentChange` operations (adds and removes apart, up to 1000 ids, in input order), so
        the same input makes the same requests; the ids are taken as they are (checked by whoever wrote them).
        """

        async def read(put: Put[RawAnswer], dispatch: Dispatch[RawAnswer]) -> None:
            groups: dict[bool, tuple[list[int], list[bytes]]] = {}
            async for block in blocks:
                for seq, data, add in zip(*block):
                    seqs, ids = groups.setdefault(add, ([], []))
                    seqs.append(seq)
                    ids.append(data)
                    if len(seqs) >= MAX_SEGMENT_IDS:
                        await dispatch(self._settle_members((segment_id, id_type, add), *groups.pop(add)))
            for add, group in list(groups.items()):
                await dispatch(self._settle_members((segment_id, id_type, add), *group))

        async for answer in requests(self.client.rate_settings.max_concurrency, read):
            self._count_raw(answer)
            yield answer

    def _count(self, results: list[Result[R]]) -> None:
        accepted = sum(1 for r in results if r.accepted)
        failed = sum(1 for r in results if r.retryable and not r.accepted)
        self._tally(accepted, failed, len(results) - accepted - failed)

    def _count_raw(self, answer: RawAnswer) -> None:
        failed = sum(1 for r in answer.refused if r.retryable)
        self._tally(len(answer.accepted), failed, len(answer.refused) - failed)

    def _tally(self, accepted: int, failed: int, rejected: int) -> None:
        for stats in (self.stats, self.client.stats):
            stats.accepted += accepted
            stats.failed += failed
            stats.rejected += rejected

    # -- steps 1 to 3: pull, check, pack -------------------------------------------------------------

    async def _read_all(
        self,
        ops: AsyncIterable[Operation[R]] | Iterable[Operation[R]],
        put: Put[Answer[R]],
        dispatch: Dispatch[Answer[R]],
    ) -> None:
        packer: BatchPacker[BatchItem[R]] = BatchPacker(self.max_batch_bytes, self.max_batch_items)
        groups: dict[_SegmentKey, list[SegmentChange[R]]] = {}
        rejected: Answer[R] = Answer()
        clock = time.monotonic
        opened = 0.0  # when the open batch got its first item

        def admit(op: BatchItem[R]) -> tuple[list[BatchItem[R]], list[bytes]] | None:
            """Steps 2 and 3 for one item (the hot path, kept free of awaits); return a closed batch."""
            nonlocal opened
            data = serialize(op.item)
            if type(data) is not bytes:
                rejected.append(Result(op.ref, False, *data))
                return None
            if not len(packer):
                opened = clock()
            closed = packer.add(op, data)
            if closed is not None:
                opened = clock()
                return closed
            if len(packer) % 64 == 0 and clock() - opened > self.linger:
                return packer.take()  # the source is slow: do not let the open batch wait for ever
            return None

        async def other(op: Operation[R]) -> None:
            if not isinstance(op, SegmentChange):
                raise TypeError(
                    f"the sender takes BatchItem or SegmentChange operations, not {type(op).__name__}"
                )
            problem = check_identifier(op.identifier, "identifier")
            if problem is not None:
                rejected.append(Result(op.ref, False, problem[0], problem[1]))
                return
            key = (op.segment_id, op.id_type, op.add)
            group = groups.setdefault(key, [])
            group.append(op)
            if len(group) >= MAX_SEGMENT_IDS:
                await flush_rejected()
                await dispatch(self._send_segment(key, groups.pop(key)))

        async def flush_rejected() -> None:
            nonlocal rejected
            if rejected:
                await put(rejected)
                rejected = Answer()

        async def step(op: Operation[R]) -> None:
            if isinstance(op, BatchItem):
                closed = admit(op)
                if closed is not None:
                    await flush_rejected()
                    await dispatch(self._settle_batch(*closed))
            else:
                await other(op)
            if len(rejected) >= 1000:
                await flush_rejected()

        if isinstance(ops, AsyncIterable):
            async for op in ops:
                await step(op)
        else:
            countdown = _YIELD_EVERY
            for op in ops:
                if type(op) is BatchItem:  # inlined `step` for the common case
                    closed = admit(op)
                    if closed is not None:
                        await flush_rejected()
                        await dispatch(self._settle_batch(*closed))
                    elif len(rejected) >= 1000:
                        await flush_rejected()
                else:
                    await step(op)
                countdown -= 1
                if not countdown:
                    countdown = _YIELD_EVERY
                    await asyncio.sleep(0)  # let responses be read while a plain iterable is packed
        await flush_rejected()
        if len(packer):
            await dispatch(self._settle_batch(*packer.take()))
        for key, group in list(groups.items()):
            await dispatch(self._send_segment(key, group))

    # -- steps 4 and 5: send, settle -----------------------------------------------------------------

    async def _post(self, tags: list[T], parts: list[bytes]) -> list[Posted[T]]:
        """POST one batch of serialized items, tagged one each: what Customer.io said of each request (a 400
        or 413 halves the batch, each half keeping its items' bytes, so one batch may take several)."""
        request = self._next_request()
        try:
            errors = await self.client.post_batch(batch_body(parts), self.stats)
        except AuthError:
            raise
        except TransientError as exc:
            return [Posted(tags, request, exc.status, every(len(tags), str(exc), retryable=True))]
        except TerminalError as exc:
            if exc.status in _SPLIT_STATUSES and len(tags) > 1:
                mid = len(tags) // 2
                left = await self._post(tags[:mid], parts[:mid])
                return left + await self._post(tags[mid:], parts[mid:])
            return [Posted(tags, request, exc.status, every(len(tags), str(exc), retryable=False))]
        if not errors:
            return [Posted(tags, request, 200, {})]
        return [Posted(tags, request, 207, refusals_of(errors, len(tags)))]

    async def _post_members(self, key: _SegmentKey, tags: list[T], ids: list[bytes]) -> Posted[T]:
        """One Track API v1 segment call for ``ids`` (JSON strings, tagged one each; a repeated id sent once):
        what Customer.io said of it, as :meth:`_post` says it of a batch (every id accepted or refused alike)."""
        segment_id, id_type, add = key
        request = self._next_request()
        try:
            await self.client.change_segment_json(
                segment_id, id_type, list(dict.fromkeys(ids)), add, self.stats
            )
        except AuthError:
            raise
        except (TransientError, TerminalError) as exc:
            refused = every(len(tags), str(exc), retryable=isinstance(exc, TransientError))
            return Posted(tags, request, exc.status, refused)
        return Posted(tags, request, 200, {})

    async def _settle_batch(self, ops: list[BatchItem[R]], parts: list[bytes]) -> list[Answer[R]]:
        """Steps 4 and 5 for operations: each posted request's results, one per operation."""
        return [_answer(posted) for posted in await self._post(ops, parts)]

    async def _send_segment(self, key: _SegmentKey, ops: list[SegmentChange[R]]) -> list[Answer[R]]:
        """Steps 4 and 5 for segment changes: the request's results, one per operation."""
        return [_answer(await self._post_members(key, ops, [serialize_id(op.identifier) for op in ops]))]

    async def _settle_members(self, key: _SegmentKey, seqs: list[int], ids: list[bytes]) -> list[RawAnswer]:
        """:meth:`_send_segment` for serialized ids: the request's acknowledged seqs and refusals."""
        return [_raw_answer(await self._post_members(key, seqs, ids))]

    # -- the raw path: serialized items, seqs in and out -------------------------------------------

    async def _read_raw(
        self, blocks: AsyncIterable[RawItems], put: Put[RawAnswer], dispatch: Dispatch[RawAnswer]
    ) -> None:
        """Steps 1 to 3 for blocks of serialized items: pull, refuse items over the size limit, pack."""
        packer: BatchPacker[int] = BatchPacker(self.max_batch_bytes, self.max_batch_items)
        clock = time.monotonic
        opened = 0.0  # when the open batch got its first item
        async for seqs, items in blocks:
            if items and max(map(len, items)) > MAX_ITEM_BYTES:
                seqs, items, refused = within_size(seqs, items)
                await put(RawAnswer([], refused))
            if not len(packer):
                opened = clock()
            closed = packer.add_block(seqs, items)
            if closed:
                opened = clock()
            for tags, parts in closed:
                await dispatch(self._settle_raw(tags, parts))
            if len(packer) and clock() - opened > self.linger:
                await dispatch(self._settle_raw(*packer.take()))  # the source is slow: send what is open
        if len(packer):
            await dispatch(self._settle_raw(*packer.take()))

    async def _settle_raw(self, seqs: list[int], parts: list[bytes]) -> list[RawAnswer]:
        """Steps 4 and 5 for raw items: each posted request's acknowledged seqs and refusals."""
        return [_raw_answer(posted) for posted in await self._post(seqs, parts)]


def _answer(posted: Posted[Any]) -> Answer[Any]:
    """A posted request's results, one per operation (a ``BatchItem`` or ``SegmentChange``: its ``ref``), in order."""
    refused = posted.refused
    if not refused:
        results = (_accepted(Result, (op.ref, True, None, None, False)) for op in posted.tags)
    else:
        results = (
            Result(op.ref, True) if i not in refused else Result(op.ref, False, *refused[i])
            for i, op in enumerate(posted.tags)
        )
    return Answer(results, posted.request, posted.status)


def _raw_answer(posted: Posted[int]) -> RawAnswer:
    """A posted request's acknowledged seqs, in order, and its refusals."""
    refused, tags = posted.refused, posted.tags
    if not refused:
        return RawAnswer(tags, [], posted.request, posted.status)
    accepted = [seq for i, seq in enumerate(tags) if i not in refused]
    refusals = [Refusal(tags[i], *refused[i]) for i in sorted(refused)]
    return RawAnswer(accepted, refusals, posted.request, posted.status)


def serialize_id(identifier: str) -> bytes:
    """A segment change's identifier as the sender writes it in a v1 ``ids`` list (a JSON string)."""
    return json.dumps(identifier).encode()


def serialize(item: Mapping[str, Any]) -> bytes | tuple[str, str | None]:
    """Step 2 for one batch item: its compact JSON as UTF-8, or ``(reason, field)`` when it cannot be
    serialized or breaks a data limit (the reasons every path reports)."""
    try:
        data = _encode(item).encode()
    except (TypeError, ValueError) as exc:
        return (f"item cannot be serialized as JSON: {exc}", None)
    problem = check_item(item, len(data))
    if problem is not None:
        return (problem[0], problem[1] or None)
    return data
