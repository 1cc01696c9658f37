"""The one thread every warehouse call runs on.

dbt adapter connections belong to the thread that opened them, and the sync engine runs on an asyncio event
loop: each warehouse call is handed to this dedicated worker thread, from synchronous code with
:meth:`WarehouseThread.run` or from the event loop with :meth:`WarehouseThread.call`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["WarehouseThread"]

T = TypeVar("T")


class WarehouseThread:
    """Runs every warehouse call on one thread, in the order calls arrive."""

    def __init__(self, name: str = "dbt-cio-warehouse") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the warehouse thread and wait for it (from synchronous code)."""
        return self._pool.submit(fn, *args, **kwargs).result()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the warehouse thread without blocking the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        """Wait for the calls already handed over, then stop the thread."""
        self._pool.shutdown(wait=True)
