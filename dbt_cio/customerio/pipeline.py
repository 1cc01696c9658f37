"""The sender's concurrency: a reader that makes request jobs, at most ``concurrency`` of them in flight.

Shared by both of the sender's paths (operations, and raw items): the reader pulls input and packs it, and
hands each request to ``dispatch`` as a coroutine that returns the request's answers (several when a batch was
split); ``put`` hands out an answer no request carried (local refusals). The consumer gets every answer in
order of completion. The steps:

1. **read** — the reader runs as a task of its own; ``dispatch`` waits for a free slot, so the reader stops
   pulling while ``concurrency`` requests are in flight and their answers are not yet taken;
2. **run** — each job is a task; its answers (or its exception) go onto one queue, and its slot is released;
3. **hand out** — the consumer takes answers off the queue until the reader is done and no job is left;
   an exception of the reader or of a job is raised there (e.g. :class:`~dbt_cio.errors.AuthError`);
4. **close** — however the consumer ends (exhausted, raised, closed early), the reader and every job still
   in flight are cancelled and awaited.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["Dispatch", "Put", "requests"]

A = TypeVar("A")

Job = Coroutine[Any, Any, list[A]]
Put = Callable[[A], Awaitable[None]]
Dispatch = Callable[[Job[A]], Awaitable[None]]


class _Done:
    """Marks the end of the reader's output on the queue."""


_DONE = _Done()


class _TaskAnswers(list[A], Generic[A]):
    """The answers of one request job, so the consumer can count the jobs still outstanding."""


async def requests(
    concurrency: int, read: Callable[[Put[A], Dispatch[A]], Awaitable[None]]
) -> AsyncIterator[A]:
    """Run ``read(put, dispatch)`` and the jobs it dispatches; yield every answer (see the module docstring)."""
    queue: asyncio.Queue[A | _TaskAnswers[A] | BaseException | _Done] = asyncio.Queue(
        maxsize=concurrency * 2 + 2
    )
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    outstanding = 0  # jobs started whose answers are not yet taken from the queue

    async def run(job: Job[A]) -> None:
        try:
            await queue.put(_TaskAnswers(await job))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            await queue.put(exc)
        finally:
            slots.release()

    async def dispatch(job: Job[A]) -> None:
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

    async def reader() -> None:
        try:
            await read(queue.put, dispatch)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - the consumer re-raises it
            await queue.put(exc)
        else:
            await queue.put(_DONE)

    reading = asyncio.create_task(reader())
    finished = False
    try:
        while not (finished and outstanding == 0):
            entry = await queue.get()
            if isinstance(entry, _Done):
                finished = True
            elif isinstance(entry, BaseException):
                raise entry
            elif isinstance(entry, _TaskAnswers):
                outstanding -= 1
                for answer in entry:
                    yield answer
            else:
                yield entry
    finally:
        reading.cancel()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(reading, *tasks, return_exceptions=True)
