"""The Customer.io client over real HTTP against the emulator: region, auth, errors, retries, App API."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

import pytest
from openapi import RequestRecorder

from dbt_cio.customerio.client import CustomerIOClient, RetrySettings, error_for_status
from dbt_cio.customerio.credentials import Credentials
from dbt_cio.customerio.ratelimit import RateSettings
from dbt_cio.emulator import Emulator, serve
from dbt_cio.errors import AuthError, TerminalError, TransientError, UsageError

API_KEY = "track-secret-0123456789"
APP_KEY = "app-secret-0123456789"
FAST_RETRY = RetrySettings(max_attempts=4, base_delay=0.001, max_delay=0.005, max_retry_after=0.01)


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[Emulator, str]]:
    emu = Emulator(site_id="site", api_key=API_KEY, app_api_key=APP_KEY)
    async with serve(emu) as base_url:
        yield emu, base_url


def creds(base_url: str, **changes: Any) -> Credentials:
    values: dict[str, Any] = {
        "site_id": "site",
        "api_key": API_KEY,
        "app_api_key": APP_KEY,
        "region": "us",
        "track_url": base_url,
    }
    values.update(changes)
    return Credentials(**values)


def client(base_url: str, **changes: Any) -> CustomerIOClient:
    return CustomerIOClient(
        creds(base_url, **changes),
        RateSettings(rate=None),
        retry=FAST_RETRY,
        rng=random.Random(1),
        timeout=5.0,
    )


async def test_region_is_found_and_both_apis_use_the_override(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    emu.region = "eu"
    async with client(url, region="auto") as cio:
        assert cio.region == "eu"
        assert cio.track_url == url and cio.app_url == url
        assert cio.stats.requests == 1


async def test_wrong_key_stops_before_anything_is_sent_and_never_shows_the_key(
    emulator: tuple[Emulator, str],
) -> None:
    emu, url = emulator
    wrong = "wrong-secret-abcdef"
    cio = client(url, api_key=wrong)
    with pytest.raises(AuthError) as info:
        await cio.__aenter__()
    assert info.value.status == 401
    for text in (str(info.value), repr(cio), repr(cio.credentials)):
        assert wrong not in text and API_KEY not in text
    assert "region" in str(info.value)
    assert emu.stats.items == 0


async def test_wrong_app_key_is_an_auth_error_and_a_missing_one_a_usage_error(
    emulator: tuple[Emulator, str],
) -> None:
    _, url = emulator
    async with client(url, app_api_key="nope") as cio:
        with pytest.raises(AuthError):
            await cio.list_segments()
    async with client(url, app_api_key=None) as cio:
        with pytest.raises(UsageError, match="CUSTOMERIO_APP_API_KEY"):
            await cio.list_segments()


async def test_segments_and_collections_through_the_app_api(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    recorder = RequestRecorder()
    cio = CustomerIOClient(
        creds(url), RateSettings(rate=None, app_rate=1000), retry=FAST_RETRY, trace_configs=[recorder.config]
    )
    async with cio:
        created = await cio.create_segment("VIPs", "people who pay a lot")
        assert created["name"] == "VIPs" and isinstance(created["id"], int)
        assert [s["id"] for s in await cio.list_segments()] == [created["id"]]
        assert (await cio.get_segment(created["id"]))["name"] == "VIPs"  # type: ignore[index]
        assert await cio.get_segment(99_999) is None

        people = [{"type": "person", "identifiers": {"id": i}, "action": "identify"} for i in "123"]
        assert await cio.post_batch(json.dumps({"batch": people}).encode()) == []
        await cio.change_segment(created["id"], "id", ["1", "2", "3"], add=True)
        await cio.change_segment(created["id"], "id", ["2"], add=False)
        assert emu.state.segment_member_ids(created["id"]) == {"1", "3"}
        with pytest.raises(TerminalError) as info:
            await cio.change_segment(424242, "id", ["1"], add=True)
        assert info.value.status == 404

        collection = await cio.create_collection("plans", [{"plan": "basic"}, {"plan": "pro"}])
        assert [c["name"] for c in await cio.list_collections()] == ["plans"]
        await cio.replace_collection(collection["id"], [{"plan": "enterprise"}])
        assert emu.state.collections[collection["id"]].data == [{"plan": "enterprise"}]
        with pytest.raises(TerminalError, match="data\\[0\\]"):
            await cio.replace_collection(collection["id"], [{"big": "x" * 20_000}])
        # rows already written as JSON (rendered by the warehouse): created, then replaced, as they are
        rows = ['{"plan":"é","n":1.5}'.encode(), b'{"plan":null}']
        made = await cio.put_collection_json(None, 'rendered "plans"', rows)
        assert emu.state.collections[made["id"]].name == 'rendered "plans"'
        assert emu.state.collections[made["id"]].data == [{"plan": "é", "n": 1.5}, {"plan": None}]
        await cio.put_collection_json(made["id"], "ignored on replace", rows[1:])
        assert emu.state.collections[made["id"]].data == [{"plan": None}]
        assert emu.state.collections[made["id"]].name == 'rendered "plans"'
    # the Track bodies we built match Customer.io's OpenAPI document
    assert len(recorder.track) == 4
    recorder.validate_all()


async def test_segment_calls_take_1_to_1000_ids(emulator: tuple[Emulator, str]) -> None:
    _, url = emulator
    async with client(url) as cio:
        with pytest.raises(ValueError):
            await cio.change_segment(1, "id", [], add=True)
        with pytest.raises(ValueError):
            await cio.change_segment(1, "id", [str(i) for i in range(1001)], add=True)


async def test_5xx_is_retried_then_raised_with_the_last_error(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    async with client(url) as cio:
        emu.faults.error_rate = 1.0
        with pytest.raises(TransientError) as info:
            await cio.post_batch(b'{"batch":[]}')
        assert info.value.status in (500, 503)
        assert cio.stats.retries == FAST_RETRY.max_attempts - 1
        emu.faults.error_rate = 0.5
        for _ in range(5):
            assert await cio.post_batch(b'{"batch":[]}') == []


async def test_429_is_counted_slows_the_limiter_and_is_retried(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    async with client(url) as cio:
        emu.faults.storm(0.02)
        assert await cio.post_batch(b'{"batch":[]}') == []
        assert cio.stats.throttled >= 1
        assert cio.track_limiter.penalties == 1


async def test_dropped_connections_and_timeouts_are_transient(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    cio = CustomerIOClient(
        creds(url), RateSettings(rate=None), retry=RetrySettings(max_attempts=1), timeout=0.2
    )
    async with cio:
        emu.faults.drop_rate = 1.0
        with pytest.raises(TransientError, match="connection"):
            await cio.post_batch(b'{"batch":[]}')
        emu.faults.drop_rate = 0.0
        emu.faults.slow_seconds = 0.5
        with pytest.raises(TransientError, match="timed out"):
            await cio.post_batch(b'{"batch":[]}')


async def test_207_errors_are_returned(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    emu.faults.reject_items = {"b"}
    items = [{"type": "person", "identifiers": {"id": i}, "action": "identify"} for i in "abc"]
    async with client(url) as cio:
        errors = await cio.post_batch(json.dumps({"batch": items}).encode())
    assert [e["batch_index"] for e in errors] == [1]


async def test_a_request_outside_the_context_is_refused() -> None:
    cio = CustomerIOClient(Credentials(site_id="s", api_key="k"))
    with pytest.raises(RuntimeError):
        await cio.post_batch(b"{}")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AuthError),
        (403, AuthError),
        (408, TransientError),
        (429, TransientError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (400, TerminalError),
        (404, TerminalError),
        (413, TerminalError),
        (301, TerminalError),
    ],
)
def test_statuses_become_error_classes(status: int, kind: type) -> None:
    error = error_for_status(status, b'{"meta":{"errors":["bad thing"]}}', 2.0, "POST /api/v2/batch")
    assert type(error) is kind
    assert error.status == status  # type: ignore[attr-defined]
    if status != 301:
        assert "bad thing" in str(error)


def test_error_messages_are_shortened() -> None:
    error = error_for_status(400, b"x" * 10_000, None, "POST /x")
    assert len(str(error)) < 400


def test_backoff_is_exponential_jittered_capped_and_honours_retry_after() -> None:
    retry = RetrySettings(base_delay=1, max_delay=8)
    rng = random.Random(3)
    for attempt in range(1, 10):
        for _ in range(50):
            delay = retry.delay(attempt, None, rng)
            assert 0 <= delay <= min(8, 2 ** (attempt - 1))
    assert retry.delay(1, 5.0, rng) >= 5.0
    assert retry.delay(1, 10_000, rng) == 60.0


def test_retry_after_as_seconds_or_http_date() -> None:
    from datetime import datetime, timedelta
    from email.utils import format_datetime

    from dbt_cio.customerio.client import _retry_after

    assert _retry_after("3") == 3.0 and _retry_after("0.5") == 0.5 and _retry_after("-4") == 0.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (_retry_after(later) or 0) <= 31


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"meta":{"error":"bad id"}}', "bad id"),
        (b'{"meta":{"errors":["one","two"]}}', "one; two"),
        (b'{"errors":[{"reason":"invalid","message":"name too long"}]}', "name too long"),
        (b"<html>oops</html>", "<html>oops</html>"),
        (b"", ""),
    ],
)
def test_error_bodies_of_every_shape_give_their_message(raw: bytes, expected: str) -> None:
    from dbt_cio.customerio.client import _message

    assert _message(raw) == expected
