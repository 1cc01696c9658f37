"""The emulator as a Python object: configuration, state, faults and counters.

It is served over HTTP by :mod:`dbt_cio.emulator.serving`: in async tests with
``async with serve(emu) as base_url``; in synchronous tests (or to drive the real ``dbt-cio`` CLI in a
subprocess) with ``with EmulatorThread(emu) as base_url``, which runs the server on its own event loop in a
background thread.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from dbt_cio.emulator.faults import Faults
from dbt_cio.emulator.ratelimit import TokenBucket
from dbt_cio.emulator.stats import RequestStats
from dbt_cio.emulator.store import State
from dbt_cio.emulator.validation import ItemSchemas

#: Customer.io's App API limit for most endpoints (API-NOTES.md).
APP_RATE_LIMIT = 10.0
FREEZE_EVERY = 50_000  # items applied between two gc.freeze() calls (see Emulator.settle)


class Emulator:
    """A local Customer.io workspace.

    ``rate_limit`` (requests/s, ``None`` = unlimited) and ``burst`` limit the Track API; the App API has
    its own limit, ``app_rate_limit`` (10/s like Customer.io; ``None`` = unlimited). ``validate_schema``
    checks every item against Customer.io's OpenAPI document on top of the always-on structural checks
    and data limits (turn it off for throughput benchmarks). ``clock`` (monotonic) drives the rate limit
    and storms, ``wall_clock`` the per-second counters: tests can pass fake ones. ``count_only`` makes
    ``/api/v2/batch`` a receiver that only counts: each batch's items are counted (``stats.items``), neither
    checked nor stored (the body's size limit and shape still are), so a benchmark measures the client, never
    the emulator.
    """

    def __init__(
        self,
        site_id: str = "site",
        api_key: str = "key",
        app_api_key: str = "app-key",
        region: str = "us",
        rate_limit: float | None = None,
        burst: int | None = None,
        validate_schema: bool = True,
        *,
        app_rate_limit: float | None = APP_RATE_LIMIT,
        app_burst: int | None = None,
        environment_id: int = 1,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        count_only: bool = False,
    ):
        if region not in ("us", "eu"):
            raise ValueError("region must be 'us' or 'eu'")
        self.site_id = site_id
        self._api_key = api_key
        self._app_api_key = app_api_key
        self.region = region
        self.environment_id = environment_id
        self.count_only = count_only
        self.rate_limit, self.burst = rate_limit, burst
        self.app_rate_limit, self.app_burst = app_rate_limit, app_burst
        self._clock = clock
        self._wall_clock = wall_clock
        self.schemas = ItemSchemas() if validate_schema else None
        self.state = State()
        self.faults = Faults(seed=seed, clock=clock)
        self.stats = RequestStats(wall_clock)
        self._unfrozen_items = 0
        self.track_limiter: TokenBucket | None = None
        self.app_limiter: TokenBucket | None = None
        self._make_limiters()

    def settle(self, items: int) -> None:
        """Note ``items`` applied to the state; every FREEZE_EVERY items, hide the state from the GC.

        The state only grows, and once it holds a million people every full garbage collection would walk
        all of them again: about a third of the emulator's time on a large sync. ``gc.freeze()`` moves
        every object alive now out of the collector's sight; the cost is that reference cycles alive at
        that moment (a few per request in flight) are never collected, which bounds the leak by the
        number of freezes, itself bounded by the size of the state.
        """
        self._unfrozen_items += items
        if self._unfrozen_items >= FREEZE_EVERY:
            self._unfrozen_items = 0
            gc.freeze()

    def __repr__(self) -> str:
        return (
            f"Emulator(site_id={self.site_id!r}, api_key='***', app_api_key='***', region={self.region!r}, "
            f"rate_limit={self.rate_limit!r}, burst={self.burst!r})"
        )

    def _make_limiters(self) -> None:
        self.track_limiter = (
            TokenBucket(self.rate_limit, self.burst, self._clock) if self.rate_limit else None
        )
        self.app_limiter = (
            TokenBucket(self.app_rate_limit, self.app_burst, self._clock) if self.app_rate_limit else None
        )

    def set_rate_limit(self, rate_limit: float | None, burst: int | None = None) -> None:
        """Change the Track API limit (``None`` = unlimited); the bucket starts full."""
        self.rate_limit, self.burst = rate_limit, burst
        self._make_limiters()

    def set_credentials(
        self, *, site_id: str | None = None, api_key: str | None = None, app_api_key: str | None = None
    ) -> None:
        """Change the accepted credentials, e.g. revoke a key mid-run to test how a client takes a 401."""
        self.site_id = site_id if site_id is not None else self.site_id
        self._api_key = api_key if api_key is not None else self._api_key
        self._app_api_key = app_api_key if app_api_key is not None else self._app_api_key

    def requests_per_second(self, family: str | None = None) -> dict[int, int]:
        """Requests that arrived in each wall-clock second: ``{unix second: count}`` (``family``:
        ``"track"`` or ``"app"``; default both)."""
        return self.stats.requests_per_second(family)

    def reset(self) -> None:
        """Forget all state, counters and faults; refill the rate-limit buckets."""
        self.state.clear()  # same objects, so references held by tests stay valid
        self.stats.clear()
        self.faults.clear()
        self._make_limiters()
