"""The rate limiter, driven by a fake clock: ceilings, bursts, 429 slow-down and recovery. No sleeps."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter

import pytest

from dbt_cio.customerio.ratelimit import DEFAULT_BURST, RateLimiter, RateSettings
from dbt_cio.errors import SettingError


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def schedule(limiter: RateLimiter, clock: FakeClock, count: int) -> list[float]:
    """When each of ``count`` requests, all asking at ``clock.now``, is let through."""
    return [clock.now + limiter.reserve() for _ in range(count)]


def max_in_window(times: list[float], window: float) -> int:
    """The most requests in any half-open window of ``window`` seconds."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_burst_is_available_at_once_then_the_ceiling_holds() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=150, burst=600, clock=clock)
    slots = schedule(limiter, clock, 3000)
    at_once = sum(1 for s in slots if s == clock.now)
    assert at_once == 442  # burst - rate - 5% of rate (arrival jitter): the first second holds < burst
    assert max_in_window(slots, 1.0) <= 600
    for window in (2.0, 5.0, 10.0):
        assert max_in_window(slots, window) <= 150 * window + 600
    steady = slots[at_once:]
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(steady)}
    assert gaps == {round(1 / 150, 9)}


def test_burst_equal_to_rate_means_evenly_spaced() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10, burst=10, clock=clock)
    slots = schedule(limiter, clock, 25)
    assert slots[:3] == pytest.approx([clock.now, clock.now + 0.1, clock.now + 0.2])
    assert max_in_window(slots, 1.0) == 10


def test_calendar_seconds_never_exceed_the_burst_when_requests_arrive_steadily() -> None:
    clock = FakeClock(0.0)
    limiter = RateLimiter(rate=150, burst=600, clock=clock)
    granted: list[float] = []
    # 1000 requests/s asked for 20 s; each waits for its slot
    for k in range(20_000):
        clock.now = k / 1000
        granted.append(clock.now + limiter.reserve())
    per_second = Counter(math.floor(t) for t in granted)
    assert max(per_second.values()) <= 600
    assert all(v <= 150 + 1 for s, v in per_second.items() if 1 <= s < 20)


def test_idle_time_refills_the_burst_but_never_beyond_it() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=100, burst=300, clock=clock)
    schedule(limiter, clock, 1000)  # drain and queue far ahead
    clock.now += 60  # long idle: bucket full again, and not fuller
    slots = schedule(limiter, clock, 500)
    assert sum(1 for s in slots if s == clock.now) == 195


def test_unlimited_rate_never_waits_except_while_held() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=None, clock=clock)
    assert all(limiter.reserve() == 0 for _ in range(10_000))
    limiter.penalize(retry_after=2)
    assert limiter.reserve() == pytest.approx(2)
    clock.now += 2
    assert limiter.reserve() == 0


def test_429_holds_for_retry_after_then_recovers_gradually() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=100, burst=400, recovery=10, decrease=0.5, clock=clock)
    schedule(limiter, clock, 50)
    limiter.penalize(retry_after=3)
    assert limiter.holding
    assert limiter.reserve() == pytest.approx(3)  # nothing goes before Retry-After has passed
    assert limiter.current_rate(clock.now + 3) == pytest.approx(50)  # halved
    assert limiter.current_rate(clock.now + 8) == pytest.approx(75)  # climbing linearly
    assert limiter.current_rate(clock.now + 13) == pytest.approx(100)  # back at the ceiling
    assert limiter.current_rate(clock.now + 100) == pytest.approx(100)
    # no burst while recovering: slots are spaced by the reduced rate
    clock.now += 3
    slots = schedule(limiter, clock, 5)
    assert slots[1] - slots[0] == pytest.approx(1 / 50, rel=0.05)


def test_answers_of_one_episode_cut_the_rate_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=100, burst=100, recovery=10, clock=clock)
    for _ in range(30):  # thirty requests in flight all come back 429
        limiter.penalize(retry_after=1)
    assert limiter.penalties == 1
    assert limiter.current_rate(clock.now + 1) == pytest.approx(50)
    clock.now += 5  # a new 429 well after the episode: cut again, from where the climb had got to
    rate_then = limiter.current_rate()
    limiter.penalize(retry_after=0)
    assert limiter.penalties == 2
    assert limiter.current_rate() == pytest.approx(rate_then * 0.5)


def test_rate_never_drops_below_the_floor() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10, burst=10, recovery=100, min_rate=1, clock=clock)
    for _ in range(20):
        clock.now += 2
        limiter.penalize(retry_after=0)
    assert limiter.current_rate() == pytest.approx(1)


def test_retry_after_is_capped() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10, clock=clock)
    limiter.penalize(retry_after=10_000)
    assert limiter.reserve() == pytest.approx(60)


async def test_acquire_waits_for_its_slot_on_the_loop_clock() -> None:
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(rate=1000, burst=2000, clock=loop.time)
    start = loop.time()
    await asyncio.gather(*(limiter.acquire() for _ in range(1005)))
    # 1000 at once, the next 5 one millisecond apart
    assert loop.time() - start >= 0.004


async def test_a_penalty_while_waiting_makes_waiters_queue_again() -> None:
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(rate=1000, burst=1000, clock=loop.time)
    for _ in range(5):
        limiter.reserve()
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    limiter.penalize(retry_after=0.01)
    await waiter
    assert loop.time() >= limiter._hold_until - 1e-3  # released only after the hold


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0},
        {"rate": -1},
        {"rate": 100, "burst": 50},
        {"max_concurrency": 0},
        {"app_rate": 0},
        {"decrease": 0},
    ],
)
def test_settings_are_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError) as info:
        RateSettings(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, SettingError) and info.value.setting in kwargs  # names the setting


def test_settings_from_flags_follow_the_rate() -> None:
    assert RateSettings.from_flags() == RateSettings()
    assert (RateSettings.from_flags(rate=1000).rate, RateSettings.from_flags(rate=1000).burst) == (1000, 1000)
    assert RateSettings.from_flags(rate=50).burst == DEFAULT_BURST
    assert RateSettings.from_flags(rate=50, burst=70, max_concurrency=4).max_concurrency == 4
    with pytest.raises(SettingError, match="burst"):
        RateSettings.from_flags(rate=300, burst=200)


def test_settings_build_limiters() -> None:
    settings = RateSettings(rate=200, burst=500, app_rate=10)
    track, app = settings.track_limiter(FakeClock()), settings.app_limiter(FakeClock())
    assert (track.ceiling, track.burst) == (200, 500)
    assert (app.ceiling, app.burst) == (10, 10)
    assert RateSettings(rate=None).track_limiter().ceiling == math.inf
