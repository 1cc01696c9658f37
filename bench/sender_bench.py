"""Sender benchmark: achieved requests/s against the ceiling, and items/s with the ceiling lifted.

Run from the repository root::

    python bench/sender_bench.py                    # all three parts, default sizes
    python bench/sender_bench.py ceiling --seconds 20
    python bench/sender_bench.py lifted --items 1000000
    python bench/sender_bench.py pack --items 200000

- ``ceiling``: a backlog of one-item requests at the default 150 requests/s with a 600 burst. The
  emulator (in its own process) counts requests per wall-clock second; we report the steady-state rate
  (whole seconds after the first two, which hold the burst, and before the last) against the ceiling, and
  the busiest second against the burst.
- ``lifted``: people with 8 attributes through the full sender (serialize, check, pack, send, settle)
  with no ceiling, against an emulator in its own process with schema validation off. Reports items/s
  and requests/s, and the sender process's CPU share: below 100% means it was waiting for the emulator.
- ``pack``: the sender's CPU work alone (serialize, check limits, pack), no network: the ceiling of
  what the sender could feed.

The emulator runs in a separate process so it does not share the sender's interpreter lock.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from dbt_cio.customerio.batching import BatchPacker
from dbt_cio.customerio.client import CustomerIOClient
from dbt_cio.customerio.credentials import Credentials
from dbt_cio.customerio.limits import check_item, dumps
from dbt_cio.customerio.operations import BatchItem
from dbt_cio.customerio.ratelimit import DEFAULT_BURST, DEFAULT_RATE, RateSettings
from dbt_cio.customerio.sender import Sender


def _serve(conn: Connection, rate_limit: float | None) -> None:
    """Child process: run an emulator until the parent closes the pipe."""
    from dbt_cio.emulator import Emulator, serve

    async def main() -> None:
        emu = Emulator(
            site_id="bench",
            api_key="bench-key",
            app_api_key="bench-app",
            validate_schema=False,
            rate_limit=rate_limit,
            app_rate_limit=None,
        )
        async with serve(emu) as url:
            conn.send(url)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, conn.recv)  # returns (or raises EOFError) when told to stop

    try:
        asyncio.run(main())
    except EOFError:
        pass


class EmulatorProcess:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self._parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, None), daemon=True)

    def __enter__(self) -> str:
        self._proc.start()
        return str(self._parent.recv())

    def __exit__(self, *exc: object) -> None:
        self._parent.send("stop")
        self._proc.join(30)


def people(n: int) -> Iterator[BatchItem]:
    for i in range(n):
        yield BatchItem(
            i,
            {
                "type": "person",
                "identifiers": {"id": f"user-{i:08d}"},
                "action": "identify",
                "attributes": {
                    "email": f"user{i}@example.com",
                    "first_name": "Jane",
                    "last_name": "Doe",
                    "plan": ("free", "pro", "enterprise")[i % 3],
                    "seats": i % 50,
                    "created_at": 1_700_000_000 + i,
                    "active": i % 2 == 0,
                    "score": (i % 100) / 7,
                },
            },
        )


def client(url: str, settings: RateSettings) -> CustomerIOClient:
    creds = Credentials(
        site_id="bench", api_key="bench-key", app_api_key="bench-app", region="us", track_url=url
    )
    return CustomerIOClient(creds, settings)


async def _stats(cio: CustomerIOClient) -> dict[str, Any]:
    assert cio._session is not None
    async with cio._session.get(f"{cio.track_url}/_emulator/stats") as resp:
        return dict(await resp.json())


async def bench_ceiling(seconds: float, rate: float, burst: float) -> None:
    n = int(rate * seconds + (burst - rate))
    with EmulatorProcess() as url:
        async with client(url, RateSettings(rate=rate, burst=burst)) as cio:
            t0 = time.monotonic()
            accepted = 0
            async for result in Sender(cio, max_batch_items=1).send(people(n)):
                accepted += result.accepted
            elapsed = time.monotonic() - t0
            stats = await _stats(cio)
    per_second = [v for _, v in sorted((int(k), v) for k, v in stats["by_family"]["track"].items())]
    # The burst (burst - rate requests at once) straddles the first calendar second or two: skip those two,
    # and the last, partial second.
    steady = per_second[2:-1]
    mean = statistics.mean(steady) if steady else float("nan")
    print(
        f"ceiling: {n} one-item requests, rate={rate:g}/s burst={burst:g}: {accepted} accepted in {elapsed:.1f}s"
    )
    print(
        f"  steady-state requests/s (whole seconds 3..n-1): mean {mean:.1f} = {100 * mean / rate:.1f}% "
        f"of the ceiling; min {min(steady)}, max {max(steady)}"
    )
    print(
        f"  busiest second: {max(per_second)} (burst allowance {burst:g}); "
        f"overall after the initial burst: {(n - (burst - rate)) / elapsed:.1f}/s"
    )
    print(f"  per second: {per_second}")


async def bench_lifted(items: int, concurrency: int) -> None:
    with EmulatorProcess() as url:
        async with client(url, RateSettings(rate=None, max_concurrency=concurrency)) as cio:
            cpu0, t0 = time.process_time(), time.monotonic()
            accepted = 0
            async for result in Sender(cio).send(people(items)):
                accepted += result.accepted
            elapsed, cpu = time.monotonic() - t0, time.process_time() - cpu0
            requests = cio.stats.requests
            stats = await _stats(cio)
    print(
        f"lifted: {items} people (8 attributes), no ceiling, concurrency {concurrency}: {accepted} accepted "
        f"in {elapsed:.1f}s = {items / elapsed:,.0f} items/s, {requests / elapsed:.1f} requests/s "
        f"({items / max(requests - 1, 1):.0f} items/request)"
    )
    print(
        f"  sender process CPU {cpu:.1f}s = {100 * cpu / elapsed:.0f}% of wall time; emulator stored "
        f"{stats['items']} items"
    )


def bench_pack(items: int) -> None:
    ops = list(people(items))  # built first: the input's own cost is not the sender's
    t0 = time.process_time()
    packer: BatchPacker[BatchItem] = BatchPacker()
    batches = 0
    for op in ops:
        data = dumps(op.item).encode()
        if check_item(op.item, len(data)) is None and packer.add(op, data) is not None:
            batches += 1
    cpu = time.process_time() - t0
    print(
        f"pack: {items} people serialized, checked and packed in {cpu:.2f}s CPU = {items / cpu:,.0f} items/s "
        f"({batches + 1} bodies of <= 500 KB)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("part", nargs="?", choices=["all", "ceiling", "lifted", "pack"], default="all")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the ceiling run")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE)
    parser.add_argument("--burst", type=float, default=DEFAULT_BURST)
    parser.add_argument("--items", type=int, default=300_000, help="people for the lifted and pack runs")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    if args.part in ("all", "pack"):
        bench_pack(args.items)
    if args.part in ("all", "ceiling"):
        asyncio.run(bench_ceiling(args.seconds, args.rate, args.burst))
    if args.part in ("all", "lifted"):
        asyncio.run(bench_lifted(args.items, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
