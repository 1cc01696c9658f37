"""A request-rate limiter with a sustained ceiling, a burst allowance, and slow-down after a 429.

Customer.io's Track limit is a soft fair-use limit that does not always answer 429, so the client must
hold itself to a ceiling (150 requests/s by default, as Census does) rather than probe for the real one.

The limiter is GCRA (the "virtual scheduling" form of a token bucket): every request reserves the next
free slot on a timeline, and waits until its slot comes. Reservations make it fair (first come, first
served) and need no wake-up bookkeeping: a waiter simply sleeps until its own slot.

Parameters, exactly:

- ``rate`` — the sustained ceiling in requests per second. Over any window of ``w`` seconds no more than
  ``rate * w + burst`` requests are let through (``None`` or ``inf``: no ceiling).
- ``burst`` — the most requests let through in any one second, ``>= rate``. The slack ``burst - rate``
  is available at once when the limiter is idle (a full bucket), less a margin of 50 ms worth of
  requests for arrival jitter, and refills at ``rate``; so the default 150/600 lets 442 requests go at
  once, then 150 per second, and the server never counts more than 600 in one second.

The algorithm, as named steps:

1. **current rate** (:meth:`RateLimiter.current_rate`) — the ceiling, unless a 429 was seen: then a
   reduced rate that climbs linearly back to the ceiling over ``recovery`` seconds.
2. **tolerance** — how far ahead of the steady schedule a request may go: ``(burst - rate) / rate``
   seconds when healthy; zero while recovering, so a throttled client does not burst again.
3. **reserve** (:meth:`RateLimiter.reserve`) — the request's slot is the latest of now, the end of any
   hold, and the theoretical arrival time minus the tolerance; the theoretical arrival time then moves one
   interval (``1 / rate``) past the slot. Returns how long to wait.
4. **penalize** (:meth:`RateLimiter.penalize`) — after a 429: hold every request until ``Retry-After``
   has passed, drop outstanding reservations, and cut the rate by ``decrease`` (once per episode: the
   answers of requests already in flight do not cut it again).
5. **acquire** (:meth:`RateLimiter.acquire`) — reserve, sleep until the slot; if a penalty happened
   meanwhile, reserve again.

Every step takes the time as an argument or from an injected clock, so tests drive it with a fake clock
and never sleep.

Usage::

    limiter = RateLimiter(rate=150, burst=600)
    await limiter.acquire()       # before each request
    limiter.penalize(retry_after) # on a 429
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from dbt_cio.errors import SettingError

__all__ = [
    "DEFAULT_APP_RATE",
    "DEFAULT_BURST",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_RATE",
    "RateLimiter",
    "RateSettings",
]

DEFAULT_RATE = 150.0
DEFAULT_BURST = 600
DEFAULT_MAX_CONCURRENCY = 32
DEFAULT_APP_RATE = 10.0
DEFAULT_RECOVERY_SECONDS = 20.0
DEFAULT_DECREASE = 0.5
MAX_RETRY_AFTER = 60.0  # a server asking for longer is treated as asking for this long
JITTER_SECONDS = 0.05  # the burst is reduced by this many seconds of requests, for arrival jitter


@dataclass(frozen=True)
class RateSettings:
    """How fast the client may talk to Customer.io; checked when built (:class:`SettingError` names the setting).

    ``rate``/``burst`` govern the Track API (see :class:`RateLimiter`); ``app_rate`` the App API
    (10 requests/s, no burst). ``max_concurrency`` bounds requests in flight. ``rate=None`` lifts the
    Track ceiling entirely (benchmarks, emulator); ``burst=None`` means "no burst above the rate".
    Use :meth:`from_flags` for values given by a user, where a missing burst follows the rate.
    """

    rate: float | None = DEFAULT_RATE
    burst: float | None = DEFAULT_BURST
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    app_rate: float = DEFAULT_APP_RATE
    recovery_seconds: float = DEFAULT_RECOVERY_SECONDS
    decrease: float = DEFAULT_DECREASE

    def __post_init__(self) -> None:
        if self.rate is not None and not (self.rate > 0 and math.isfinite(self.rate)):
            raise SettingError("rate", f"must be a positive number of requests per second, got {self.rate:g}")
        if self.burst is not None and self.rate is not None and not self.burst >= self.rate:
            raise SettingError(
                "burst",
                f"is the most requests in any one second: it must be at least the rate ({self.rate:g}), "
                f"got {self.burst:g}",
            )
        if self.max_concurrency < 1:
            raise SettingError("max_concurrency", f"must be at least 1, got {self.max_concurrency}")
        if not self.app_rate > 0:
            raise SettingError("app_rate", f"must be positive, got {self.app_rate:g}")
        if not 0 < self.decrease <= 1:
            raise SettingError("decrease", f"must be in (0, 1], got {self.decrease:g}")
        if self.recovery_seconds < 0:
            raise SettingError("recovery_seconds", f"must not be negative, got {self.recovery_seconds:g}")

    @classmethod
    def from_flags(
        cls, rate: float | None = None, burst: float | None = None, max_concurrency: int | None = None
    ) -> RateSettings:
        """Settings from user-given values (None: the default). A rate above the default burst, with no
        burst given, gets a burst equal to the rate, so ``--rate 1000`` alone is valid."""
        rate = DEFAULT_RATE if rate is None else rate
        if burst is None:
            burst = max(DEFAULT_BURST, rate) if rate > 0 else DEFAULT_BURST
        return cls(
            rate=rate,
            burst=burst,
            max_concurrency=DEFAULT_MAX_CONCURRENCY if max_concurrency is None else max_concurrency,
        )

    def track_limiter(self, clock: Callable[[], float] | None = None) -> RateLimiter:
        return RateLimiter(
            self.rate, self.burst, recovery=self.recovery_seconds, decrease=self.decrease, clock=clock
        )

    def app_limiter(self, clock: Callable[[], float] | None = None) -> RateLimiter:
        return RateLimiter(
            self.app_rate, None, recovery=self.recovery_seconds, decrease=self.decrease, clock=clock
        )


class RateLimiter:
    """GCRA limiter with a burst allowance and adaptive slow-down; see the module docstring."""

    def __init__(
        self,
        rate: float | None,
        burst: float | None = None,
        *,
        recovery: float = DEFAULT_RECOVERY_SECONDS,
        decrease: float = DEFAULT_DECREASE,
        min_rate: float = 1.0,
        clock: Callable[[], float] | None = None,
    ):
        self.ceiling = math.inf if rate is None else float(rate)
        if not self.ceiling > 0:
            raise ValueError("rate must be positive")
        burst = self.ceiling if burst is None or not math.isfinite(self.ceiling) else float(burst)
        if burst < self.ceiling:
            raise ValueError("burst must be at least rate")
        # GCRA lets `capacity` requests through at once, then one per interval: any one second then holds
        # at most capacity + rate of them. The server counts arrivals, not grants, so the capacity also
        # leaves JITTER_SECONDS worth of requests for grants that arrive late, bunched with later ones.
        margin = self.ceiling * JITTER_SECONDS
        self._capacity = max(1.0, burst - self.ceiling - margin) if math.isfinite(self.ceiling) else math.inf
        self.burst = burst
        self.recovery = recovery
        self.decrease = decrease
        self.min_rate = min(min_rate, self.ceiling)
        self._clock = clock or time.monotonic
        self._tat: float | None = None  # theoretical arrival time of the next request
        self._hold_until = -math.inf
        self._recover_from = -math.inf  # when the climb back to the ceiling starts
        self._floor = self.ceiling  # the rate the climb starts from
        self._epoch = 0  # bumped by each penalty, so sleeping waiters know to re-reserve
        self.penalties = 0

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.ceiling}, burst={self.burst}, now={self.current_rate():.1f}/s)"

    # step 1
    def current_rate(self, now: float | None = None) -> float:
        """The rate allowed at ``now``: the ceiling, or the reduced rate climbing back after a 429."""
        now = self._clock() if now is None else now
        if now >= self._recover_from + self.recovery or not math.isfinite(self.ceiling):
            return self.ceiling
        if now <= self._recover_from:
            return self._floor
        climbed = (self.ceiling - self._floor) * (now - self._recover_from) / self.recovery
        return min(self.ceiling, self._floor + climbed)

    # step 2
    def _tolerance(self, now: float, interval: float) -> float:
        if now < self._recover_from + self.recovery:
            return 0.0
        return (self._capacity - 1) * interval

    # step 3
    def reserve(self, now: float | None = None) -> float:
        """Reserve the next slot; return the seconds to wait for it (0 when it is now)."""
        now = self._clock() if now is None else now
        rate = self.current_rate(max(now, self._hold_until))
        if not math.isfinite(rate):
            return max(0.0, self._hold_until - now)
        interval = 1.0 / rate
        tat = now if self._tat is None else self._tat
        slot = max(now, self._hold_until, tat - self._tolerance(now, interval))
        self._tat = max(tat, slot) + interval
        return slot - now

    # step 4
    def penalize(self, retry_after: float | None = None, now: float | None = None) -> None:
        """Slow down after a 429: hold until ``Retry-After`` passes, then climb back from a lower rate."""
        now = self._clock() if now is None else now
        wait = min(max(retry_after or 0.0, 0.0), MAX_RETRY_AFTER)
        same_episode = now < max(self._hold_until, self._recover_from) + 1.0
        self._hold_until = max(self._hold_until, now + wait)
        if not same_episode:
            self._floor = max(self.min_rate, self.current_rate(now) * self.decrease)
            self.penalties += 1
        self._recover_from = self._hold_until
        self._tat = self._hold_until  # drop reservations: everyone queues again after the hold
        self._epoch += 1

    @property
    def holding(self) -> bool:
        return self._clock() < self._hold_until

    # step 5
    async def acquire(self) -> None:
        """Wait for this request's slot."""
        while True:
            epoch = self._epoch
            delay = self.reserve()
            if delay <= 0:
                return
            await asyncio.sleep(delay)
            if epoch == self._epoch:
                return
