"""Rate limit, request counting and injected faults: unit tests on a fake clock, and over real HTTP."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from dbt_cio.emulator import Emulator, Faults, serve
from dbt_cio.emulator.ratelimit import TokenBucket, retry_after_header

TRACK = {"Authorization": "Basic " + base64.b64encode(b"site:key").decode()}
APP = {"Authorization": "Bearer app-key"}


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def item(pid: str) -> dict[str, Any]:
    return {"type": "person", "identifiers": {"id": pid}, "action": "identify", "attributes": {"n": pid}}


# -- token bucket ------------------------------------------------------------------------------------------


def test_bucket_allows_burst_then_refuses_with_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.acquire() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.5)


def test_bucket_sustains_rate_and_never_exceeds_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    clock.now += 100  # a long idle time fills the bucket only to its size
    granted = sum(bucket.acquire() == 0.0 for _ in range(50))
    assert granted == 5
    granted = 0
    for _ in range(100):  # 10 seconds in steps of 0.1 s, 3 attempts each
        clock.now += 0.1
        granted += sum(bucket.acquire() == 0.0 for _ in range(3))
    assert granted == 100  # exactly the sustained rate


def test_bucket_default_burst_is_one_second() -> None:
    bucket = TokenBucket(rate=4, clock=FakeClock())
    assert sum(bucket.acquire() == 0.0 for _ in range(10)) == 4
    with pytest.raises(ValueError):
        TokenBucket(rate=0)


@pytest.mark.parametrize("seconds, header", [(0.0, "1"), (0.01, "1"), (1.0, "1"), (1.2, "2"), (30, "30")])
def test_retry_after_header_is_whole_seconds(seconds: float, header: str) -> None:
    assert retry_after_header(seconds) == header


# -- faults, without HTTP ----------------------------------------------------------------------------------


def test_fault_draws_are_reproducible_and_shared_out() -> None:
    def fates(seed: int) -> list[Any]:
        faults = Faults(seed=seed, error_rate=0.2, throttle_rate=0.2, drop_rate=0.1)
        return [faults.decide() for _ in range(2000)]

    first = fates(7)
    assert first == fates(7) and first != fates(8)
    assert 300 < first.count("error") < 500 and 300 < first.count("throttle") < 500
    assert 120 < first.count("drop") < 280


def test_storm_lasts_its_seconds() -> None:
    clock = FakeClock()
    faults = Faults(clock=clock)
    faults.storm(5)
    assert faults.decide() == "throttle"
    clock.now += 4.9
    assert faults.decide() == "throttle"
    clock.now += 0.2
    assert faults.decide() is None


def test_reject_items_by_ids_or_predicate() -> None:
    faults = Faults(reject_items={"7", "acme"})
    assert faults.rejects(item("7"))
    assert not faults.rejects(item("8"))
    assert faults.rejects({"type": "object", "identifiers": {"object_type_id": "1", "object_id": "acme"}})
    faults.reject_items = lambda it: it.get("action") == "delete"
    assert faults.rejects({"action": "delete"}) and not faults.rejects(item("7"))


def test_update_from_json_and_clear() -> None:
    faults = Faults()
    faults.update({"error_rate": "0.5", "reject_ids": ["1"], "storm_seconds": 3, "seed": 4})
    assert (
        faults.error_rate == 0.5 and faults.reject_items == {"1"} and faults.in_storm() and faults.seed == 4
    )
    with pytest.raises(ValueError, match="unknown fault settings"):
        faults.update({"eror_rate": 1})
    faults.clear()
    assert faults.error_rate == 0.0 and faults.reject_items is None and not faults.in_storm()


# -- over HTTP ---------------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def served(clock: FakeClock) -> AsyncIterator[tuple[Emulator, str, aiohttp.ClientSession]]:
    emu = Emulator(rate_limit=2, burst=3, app_rate_limit=1, app_burst=1, clock=clock, wall_clock=clock)
    async with serve(emu) as url, aiohttp.ClientSession() as session:
        yield emu, url, session


async def _post_batch(
    session: aiohttp.ClientSession, url: str, *items: dict[str, Any]
) -> tuple[int, Any, Any]:
    async with session.post(url + "/api/v2/batch", json={"batch": list(items)}, headers=TRACK) as resp:
        return resp.status, await resp.json(), resp.headers


async def test_rate_limit_answers_429_with_retry_after(served: Any, clock: FakeClock) -> None:
    emu, url, session = served
    statuses = [(await _post_batch(session, url, item(str(i))))[0] for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    status, _, headers = await _post_batch(session, url, item("late"))
    assert status == 429 and headers["Retry-After"] == "1"
    assert emu.state.person(id="late") is None  # refused requests apply nothing
    clock.now += 0.5
    assert (await _post_batch(session, url, item("after-wait")))[0] == 200
    assert emu.requests_per_second("track") == {1000: 7}
    assert emu.stats.statuses == {200: 4, 429: 3}


async def test_app_api_has_its_own_limit(served: Any, clock: FakeClock) -> None:
    emu, url, session = served
    for expected in (200, 429):
        async with session.get(url + "/v1/segments", headers=APP) as resp:
            assert resp.status == expected
    assert (await _post_batch(session, url, item("1")))[0] == 200  # Track is unaffected
    clock.now += 1
    async with session.get(url + "/v1/segments", headers=APP) as resp:
        assert resp.status == 200
    assert emu.requests_per_second("app") == {1000: 2, 1001: 1}
    assert emu.requests_per_second() == {1000: 3, 1001: 1}


async def test_requests_are_counted_per_wall_clock_second(served: Any, clock: FakeClock) -> None:
    emu, url, session = served
    emu.set_rate_limit(None)
    for second in range(3):
        for i in range(second + 1):
            await _post_batch(session, url, item(f"{second}-{i}"))
        clock.now += 1
    assert emu.requests_per_second() == {1000: 1, 1001: 2, 1002: 3}


@pytest.fixture
async def plain() -> AsyncIterator[tuple[Emulator, str, aiohttp.ClientSession]]:
    emu = Emulator(seed=1)
    async with serve(emu) as url, aiohttp.ClientSession() as session:
        yield emu, url, session


async def test_error_rate_gives_5xx_and_applies_nothing(plain: Any) -> None:
    emu, url, session = plain
    emu.faults.error_rate = 1.0
    statuses = {(await _post_batch(session, url, item(str(i))))[0] for i in range(20)}
    assert statuses == {500, 503}
    assert emu.state.people == {}


async def test_throttle_rate_gives_429_with_configured_retry_after(plain: Any) -> None:
    emu, url, session = plain
    emu.faults.update({"throttle_rate": 1.0, "retry_after": 7})
    status, _, headers = await _post_batch(session, url, item("1"))
    assert (status, headers["Retry-After"]) == (429, "7")
    assert emu.state.people == {}


async def test_partial_error_rate_is_reproducible(plain: Any) -> None:
    emu, url, session = plain
    emu.faults.update({"error_rate": 0.5, "seed": 3})
    first = [(await _post_batch(session, url, item(str(i))))[0] for i in range(30)]
    emu.faults.update({"seed": 3})
    second = [(await _post_batch(session, url, item(str(i))))[0] for i in range(30)]
    assert first == second and 200 in first and len(set(first)) > 1


async def test_storm_answers_everything_429(plain: Any) -> None:
    emu, url, session = plain
    emu.faults.storm(3600)
    assert (await _post_batch(session, url, item("1")))[0] == 429
    async with session.get(url + "/v1/segments", headers=APP) as resp:
        assert resp.status == 429 and "Retry-After" in resp.headers
    emu.faults.storm_until = None
    assert (await _post_batch(session, url, item("1")))[0] == 200


async def test_dropped_connection_applies_nothing(plain: Any) -> None:
    emu, url, session = plain
    emu.faults.drop_rate = 1.0
    with pytest.raises(aiohttp.ClientError):
        await _post_batch(session, url, item("1"))
    assert emu.state.people == {} and emu.stats.dropped == 1


async def test_drop_after_apply_applies_then_drops(plain: Any) -> None:
    emu, url, session = plain
    emu.faults.drop_after_apply_rate = 1.0
    with pytest.raises(aiohttp.ClientError):
        await _post_batch(session, url, item("1"))
    assert emu.state.person(id="1") is not None


async def test_slow_answers_make_a_short_client_timeout_fire(plain: Any) -> None:
    emu, url, session = plain
    emu.faults.slow_seconds = 1
    timeout = aiohttp.ClientTimeout(total=0.1)
    with pytest.raises(asyncio.TimeoutError):
        async with session.post(
            url + "/api/v2/batch", json={"batch": [item("1")]}, headers=TRACK, timeout=timeout
        ) as resp:
            await resp.read()
    assert emu.state.people == {}  # the client gave up before the delay ended


async def test_reject_items_answers_207_for_chosen_items(plain: Any) -> None:
    emu, url, session = plain
    emu.faults.reject_items = {"2", "4"}
    status, body, _ = await _post_batch(session, url, *(item(str(i)) for i in range(6)))
    assert status == 207
    assert [(e["batch_index"], e["reason"]) for e in body["errors"]] == [(2, "rejected"), (4, "rejected")]
    assert {p.id for p in emu.state.people.values()} == {"0", "1", "3", "5"}


async def test_faults_settable_over_admin_endpoint(plain: Any) -> None:
    _, url, session = plain
    async with session.post(url + "/_emulator/faults", json={"throttle_rate": 1, "retry_after": 2}) as resp:
        assert resp.status == 200
    assert (await _post_batch(session, url, item("1")))[0] == 429
    async with session.post(url + "/_emulator/faults", json={"clear": True}) as resp:
        assert (await resp.json())["throttle_rate"] == 0.0
    assert (await _post_batch(session, url, item("1")))[0] == 200
