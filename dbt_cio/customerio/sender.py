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

Ordering: items are packed in input order, but batches travel concurrently, so two operations on the same
entity in different batches may arrive in either order. The sync engine sends one operation per key and
run, so this does not arise there.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from dbt_cio.customerio.batching import BatchPacker, batch_body
from dbt_cio.customerio.limits import MAX_BATCH_BYTES, MAX_SEGMENT_IDS, check_identifier, check_item
from dbt_cio.customerio.operations import BatchItem, Operation, Result, SegmentChange
from dbt_cio.customerio.ratelimit import RateSettings
from dbt_cio.customerio.stats import Stats
from dbt_cio.errors import AuthError, TerminalError, TransientError

__all__ = ["DEFAULT_LINGER", "Answer", "Sender", "TrackAPI"]

R = TypeVar("R")


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

    async def change_segment(
        self, segment_id: int, id_type: str, ids: Sequence[str], add: bool, stats: Stats | None = None
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


class _Done:
    """Marks the end of the reader's output on the results queue."""


_DONE = _Done()
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
        concurrency = self.client.rate_settings.max_concurrency
        queue: _Queue[R] = asyncio.Queue(maxsize=concurrency * 2 + 2)
        slots = asyncio.Semaphore(concurrency)
        tasks: set[asyncio.Task[None]] = set()
        outstanding = 0  # request tasks started whose results are not yet taken from the queue

        async def run(job: _Job[R]) -> None:
            try:
                await queue.put(await job)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
                await queue.put(exc)
            finally:
                slots.release()

        async def dispatch(job: _Job[R]) -> None:
            nonlocal outstanding
            try:
                await slots.acquire()
            except asyncio.CancelledError:
                job.close()  # never started: do not leave an un-awaited coroutine behind
                raise
            outstanding += 1
            task = asyncio.create_task(run(job))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        reader = asyncio.create_task(self._read(ops, queue, dispatch))
        finished = False
        try:
            while not (finished and outstanding == 0):
                entry = await queue.get()
                if isinstance(entry, _Done):
                    finished = True
                    continue
                if isinstance(entry, BaseException):
                    raise entry
                if isinstance(entry, _TaskAnswers):
                    outstanding -= 1
                    for answer in entry:
                        self._count(answer)
                        yield answer
                    continue
                self._count(entry)
                yield entry
        finally:
            reader.cancel()
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(reader, *tasks, return_exceptions=True)

    def _count(self, results: list[Result[R]]) -> None:
        accepted = sum(1 for r in results if r.accepted)
        failed = sum(1 for r in results if r.retryable and not r.accepted)
        for stats in (self.stats, self.client.stats):
            stats.accepted += accepted
            stats.failed += failed
            stats.rejected += len(results) - accepted - failed

    # -- steps 1 to 3: pull, check, pack -------------------------------------------------------------

    async def _read(
        self,
        ops: AsyncIterable[Operation[R]] | Iterable[Operation[R]],
        queue: _Queue[R],
        dispatch: _Dispatch[R],
    ) -> None:
        try:
            await self._read_all(ops, queue, dispatch)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - the consumer re-raises it
            await queue.put(exc)
        else:
            await queue.put(_DONE)

    async def _read_all(
        self,
        ops: AsyncIterable[Operation[R]] | Iterable[Operation[R]],
        queue: _Queue[R],
        dispatch: _Dispatch[R],
    ) -> None:
        packer: BatchPacker[BatchItem[R]] = BatchPacker(self.max_batch_bytes, self.max_batch_items)
        groups: dict[_SegmentKey, list[SegmentChange[R]]] = {}
        rejected: Answer[R] = Answer()
        clock = time.monotonic
        opened = 0.0  # when the open batch got its first item

        def admit(op: BatchItem[R]) -> tuple[list[BatchItem[R]], list[bytes]] | None:
            """Steps 2 and 3 for one item (the hot path, kept free of awaits); return a closed batch."""
            nonlocal opened
            try:
                data = _encode(op.item).encode()
            except (TypeError, ValueError) as exc:
                rejected.append(Result(op.ref, False, f"item cannot be serialized as JSON: {exc}", None))
                return None
            problem = check_item(op.item, len(data))
            if problem is not None:
                rejected.append(Result(op.ref, False, problem[0], problem[1] or None))
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
                await queue.put(rejected)
                rejected = Answer()

        async def step(op: Operation[R]) -> None:
            if isinstance(op, BatchItem):
                closed = admit(op)
                if closed is not None:
                    await flush_rejected()
                    await dispatch(self._send_batch(*closed))
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
                        await dispatch(self._send_batch(*closed))
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
            await dispatch(self._send_batch(*packer.take()))
        for key, group in list(groups.items()):
            await dispatch(self._send_segment(key, group))

    # -- steps 4 and 5: send, settle -----------------------------------------------------------------

    async def _send_batch(self, ops: list[BatchItem[R]], parts: list[bytes]) -> _TaskAnswers[R]:
        return _TaskAnswers(await self._settle_batch(ops, parts))

    async def _settle_batch(self, ops: list[BatchItem[R]], parts: list[bytes]) -> list[Answer[R]]:
        request = self._next_request()
        try:
            errors = await self.client.post_batch(batch_body(parts), self.stats)
        except AuthError:
            raise
        except TransientError as exc:
            return [Answer((Result(op.ref, False, str(exc), None, True) for op in ops), request, exc.status)]
        except TerminalError as exc:
            if exc.status in _SPLIT_STATUSES and len(ops) > 1:
                mid = len(ops) // 2
                left = await self._settle_batch(ops[:mid], parts[:mid])
                return left + await self._settle_batch(ops[mid:], parts[mid:])
            return [Answer((Result(op.ref, False, str(exc), None, False) for op in ops), request, exc.status)]
        if not errors:
            return [
                Answer((_accepted(Result, (op.ref, True, None, None, False)) for op in ops), request, 200)
            ]
        refused: dict[int, dict[str, Any]] = {}
        for error in errors:
            index = error.get("batch_index")
            if isinstance(index, int) and 0 <= index < len(ops):
                refused.setdefault(index, error)
        results: Answer[R] = Answer((), request, 207)
        for i, op in enumerate(ops):
            refusal = refused.get(i)
            if refusal is None:
                results.append(Result(op.ref, True))
            else:
                reason = refusal.get("message") or refusal.get("reason") or "rejected by Customer.io"
                if (
                    refusal.get("reason")
                    and refusal.get("message")
                    and refusal["reason"] not in refusal["message"]
                ):
                    reason = f"{refusal['reason']}: {refusal['message']}"
                results.append(Result(op.ref, False, str(reason), refusal.get("field") or None, False))
        return [results]

    async def _send_segment(self, key: _SegmentKey, ops: list[SegmentChange[R]]) -> _TaskAnswers[R]:
        segment_id, id_type, add = key
        ids = list(dict.fromkeys(op.identifier for op in ops))
        request = self._next_request()
        try:
            await self.client.change_segment(segment_id, id_type, ids, add, self.stats)
        except AuthError:
            raise
        except TransientError as exc:
            failed = (Result(op.ref, False, str(exc), None, True) for op in ops)
            return _TaskAnswers([Answer(failed, request, exc.status)])
        except TerminalError as exc:
            refused = (Result(op.ref, False, str(exc), None, False) for op in ops)
            return _TaskAnswers([Answer(refused, request, exc.status)])
        return _TaskAnswers([Answer((Result(op.ref, True) for op in ops), request, 200)])


class _TaskAnswers(list[Answer[R]]):
    """The answers of one request task (several when a batch was split), so the consumer can count tasks."""


_Queue = asyncio.Queue[Answer[R] | _TaskAnswers[R] | BaseException | _Done]
_Job = Coroutine[Any, Any, _TaskAnswers[R]]
_Dispatch = Callable[[_Job[R]], Awaitable[None]]
