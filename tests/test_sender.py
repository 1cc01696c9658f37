"""The sender over real HTTP against the emulator: batching, 207, 400/413 narrowing, 401, 429, 5xx,
dropped connections, a faulted run that still lands every valid operation exactly once, the rate
ceiling as the emulator counts it, laziness, and the OpenAPI shape of every request."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from batch_stand_in import batch_stand_in
from openapi import RequestRecorder

from dbt_cio.customerio.client import CustomerIOClient, RetrySettings
from dbt_cio.customerio.credentials import Credentials
from dbt_cio.customerio.operations import BatchItem, Operation, Result, SegmentChange
from dbt_cio.customerio.ratelimit import RateSettings
from dbt_cio.customerio.sender import Sender
from dbt_cio.emulator import Emulator, serve
from dbt_cio.errors import AuthError

FAST_RETRY = RetrySettings(max_attempts=8, base_delay=0.001, max_delay=0.01, max_retry_after=0.01)


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[Emulator, str]]:
    emu = Emulator(site_id="site", api_key="key", app_api_key="app-key")
    async with serve(emu) as base_url:
        yield emu, base_url


def make_client(url: str, recorder: RequestRecorder | None = None, **rate: Any) -> CustomerIOClient:
    settings = RateSettings(**{"rate": None, "max_concurrency": 8, **rate})
    return CustomerIOClient(
        Credentials(site_id="site", api_key="key", app_api_key="app-key", region="us", track_url=url),
        settings,
        retry=FAST_RETRY,
        rng=random.Random(5),
        trace_configs=[recorder.config] if recorder else (),
    )


def person(i: int, **extra: Any) -> BatchItem:
    attributes = {
        "email": f"user{i}@example.com",
        "plan": "pro",
        "seats": i % 7,
        "created_at": 1700000000 + i,
        **extra,
    }
    return BatchItem(
        ("person", i),
        {"type": "person", "identifiers": {"id": f"u{i}"}, "action": "identify", "attributes": attributes},
    )


def event(i: int) -> BatchItem:
    return BatchItem(
        ("event", i),
        {
            "type": "person",
            "identifiers": {"id": f"u{i}"},
            "action": "event",
            "name": "purchased",
            "timestamp": 1700000000,
            "attributes": {"n": i},
        },
    )


async def collect(sender: Sender, ops: Any) -> list[Result]:
    return [result async for result in sender.send(ops)]


def by_ref(results: list[Result]) -> dict[Any, Result]:
    refs = Counter(r.ref for r in results)
    assert max(refs.values()) == 1, "one result per operation"
    return {r.ref: r for r in results}


async def test_people_and_events_are_packed_sent_and_match_the_openapi_document(
    emulator: tuple[Emulator, str],
) -> None:
    emu, url = emulator
    recorder = RequestRecorder()
    ops: list[Operation] = [person(i) for i in range(3000)] + [event(i) for i in range(500)]
    async with make_client(url, recorder) as client:
        sender = Sender(client)
        results = await collect(sender, ops)
    assert len(by_ref(results)) == 3500 and all(r.accepted for r in results)
    assert len(emu.state.people) == 3000 and len(emu.state.events) == 500
    assert emu.state.person(id="u42").attributes["seats"] == 0  # type: ignore[union-attr]
    batches = [c for _, p, c in recorder.sent if p == "/api/v2/batch"]
    assert all(len(c) <= 500_000 for c in batches)
    assert len(batches) < 3500 / 500  # packed by bytes, a couple of thousand per request
    assert recorder.validate_all() == 3500
    assert client.stats.accepted == 3500 and client.stats.requests == len(batches) + 1  # + the region check
    assert sender.stats.accepted == 3500 and sender.stats.requests == len(batches)  # this run's own figures


async def test_invalid_items_are_rejected_locally_with_reasons_and_never_sent(
    emulator: tuple[Emulator, str],
) -> None:
    emu, url = emulator
    ops = [
        person(0),
        BatchItem("long-id", {"type": "person", "identifiers": {"id": "x" * 151}, "action": "identify"}),
        person(1, bio="b" * 1001),
        BatchItem(
            "huge",
            {
                "type": "person",
                "identifiers": {"id": "h"},
                "action": "identify",
                "attributes": {f"a{i}": "v" * 900 for i in range(40)},
            },
        ),
        person(2, score=float("nan")),
        person(3, when=object()),
        SegmentChange("seg-long", 1, "id", "s" * 200, True),
        person(4),
    ]
    async with make_client(url) as client:
        results = by_ref(await collect(Sender(client), ops))
    assert results["long-id"] == Result(
        "long-id", False, "identifier is longer than 150 bytes", "identifiers.id"
    )
    assert results[("person", 1)].field == "attributes.bio"
    assert "32000" in results["huge"].reason  # type: ignore[operator]
    assert "JSON" in results[("person", 2)].reason and "JSON" in results[("person", 3)].reason  # type: ignore[operator]
    assert results["seg-long"].field == "identifier"
    assert not any(r.retryable for r in results.values())
    assert results[("person", 0)].accepted and results[("person", 4)].accepted
    assert emu.stats.items == 2 and set(emu.state._by_id) == {"u0", "u4"}  # only the valid ones arrived
    assert client.stats.rejected == 6


async def test_207_rejects_exactly_the_items_named_and_accepts_the_rest(
    emulator: tuple[Emulator, str],
) -> None:
    emu, url = emulator
    emu.faults.reject_items = {"u3", "u500", "u999"}
    async with make_client(url) as client:
        results = by_ref(await collect(Sender(client), [person(i) for i in range(1000)]))
    refused = {ref for ref, r in results.items() if not r.accepted}
    assert refused == {("person", 3), ("person", 500), ("person", 999)}
    assert all(not results[ref].retryable and results[ref].reason for ref in refused)
    assert len(emu.state.people) == 997


async def test_answers_say_which_request_carried_each_operation_and_its_status(
    emulator: tuple[Emulator, str],
) -> None:
    emu, url = emulator
    emu.faults.reject_items = {"u3"}
    too_long = BatchItem("long", {"type": "person", "identifiers": {"id": "x" * 151}, "action": "identify"})
    async with make_client(url) as client:
        sender = Sender(client, max_batch_items=5)
        answers = [answer async for answer in sender.send_chunks([person(i) for i in range(10)] + [too_long])]
    local = [answer for answer in answers if answer.request is None]
    assert [(r.ref, r.accepted) for answer in local for r in answer] == [("long", False)]
    assert local[0].status is None
    sent = sorted((answer for answer in answers if answer.request is not None), key=lambda a: a.request or 0)
    assert [answer.request for answer in sent] == [1, 2]  # numbered per sender, from 1
    assert [answer.status for answer in sent] == [207, 200]  # u3 is in the first batch of five
    assert [r.ref for r in sent[0]] == [("person", i) for i in range(5)]


async def test_a_body_over_the_limit_is_narrowed_down_by_splitting(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    async with make_client(url) as client:
        # a sender allowed 2 MB bodies: the emulator answers 413, the sender splits until they fit
        sender = Sender(client, max_batch_bytes=2_000_000)
        results = await collect(sender, [person(i, note="n" * 900) for i in range(1500)])
    assert all(r.accepted for r in results) and len(emu.state.people) == 1500
    assert emu.stats.statuses[413] >= 1


async def test_a_whole_batch_400_is_narrowed_so_one_bad_item_cannot_sink_its_neighbours() -> None:
    # The emulator answers item problems with 207, as Customer.io documents; this stand-in answers the
    # other real-world shape, a 400 for a whole batch, whenever a batch holds a "poison" item.
    seen: list[int] = []

    async def batch(request: web.Request) -> web.Response:
        items = (await request.json())["batch"]
        seen.append(len(items))
        if any(item["identifiers"]["id"].startswith("poison") for item in items):
            return web.json_response({"meta": {"error": "malformed request"}}, status=400)
        return web.json_response({})

    async with batch_stand_in(batch) as url:
        ops = [person(i) for i in range(64)]
        ops[37] = BatchItem(
            "poison", {"type": "person", "identifiers": {"id": "poison"}, "action": "identify"}
        )
        async with make_client(url) as client:
            answers = [answer async for answer in Sender(client).send_chunks(ops)]
    results = by_ref([result for answer in answers for result in answer])
    # each request of the binary search is an answer of its own, numbered, with its status
    numbers = [answer.request or 0 for answer in answers]
    assert len(set(numbers)) == len(numbers) and all(2 <= n <= len(seen) for n in numbers)
    poisoned = next(answer for answer in answers if any(r.ref == "poison" for r in answer))
    assert poisoned.status == 400 and len(poisoned) == 1
    assert {answer.status for answer in answers if answer is not poisoned} == {200}
    assert [ref for ref, r in results.items() if not r.accepted] == ["poison"]
    assert "malformed request" in results["poison"].reason  # type: ignore[operator]
    assert not results["poison"].retryable
    assert seen[0] == 64 and len(seen) <= 2 * 7 + 1  # a binary search, not one request per item


async def test_401_stops_the_run_at_once(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    async with make_client(url, max_concurrency=2) as client:
        sender = Sender(client, max_batch_items=10)
        got: list[Result] = []
        with pytest.raises(AuthError):
            async for result in sender.send(person(i) for i in range(10_000)):
                got.append(result)
                if len(got) == 20:
                    emu._api_key = "revoked"  # the key is revoked mid-run
        requests_after = emu.stats.statuses[401]
    assert all(r.accepted for r in got)
    assert requests_after <= 3  # the requests already in flight, no more
    assert len(emu.state.people) < 200


@pytest.mark.parametrize("fault", ["error_rate", "throttle_rate", "drop_rate"])
async def test_transient_faults_are_retried_until_accepted(
    emulator: tuple[Emulator, str], fault: str
) -> None:
    emu, url = emulator
    async with make_client(url) as client:
        setattr(emu.faults, fault, 0.3)
        results = await collect(Sender(client, max_batch_items=25), [person(i) for i in range(500)])
    assert all(r.accepted for r in results) and len(emu.state.people) == 500
    assert client.stats.retries > 0
    if fault == "throttle_rate":
        assert client.stats.throttled > 0


async def test_retries_exhausted_fail_every_operation_of_the_request_as_retryable(
    emulator: tuple[Emulator, str],
) -> None:
    emu, url = emulator
    async with make_client(url) as client:
        emu.faults.error_rate = 1.0
        results = await collect(
            Sender(client),
            [person(i) for i in range(10)]
            + [SegmentChange(("seg", i), 1, "id", f"u{i}", True) for i in range(3)],
        )
    assert len(results) == 13
    assert all(not r.accepted and r.retryable and "50" in (r.reason or "") for r in results)
    assert client.stats.failed == 13


async def test_a_faulted_run_lands_every_valid_operation_exactly_once(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    emu.schemas = None  # item shapes are checked elsewhere; here only the fate of each operation matters
    rng = random.Random(11)
    ops: list[Operation] = []
    invalid: set[Any] = set()
    for i in range(6000):
        ops.append(person(i))
        if i % 3 == 0:
            ops.append(event(i))  # events without an id: a resend would show up as a duplicate
        if rng.random() < 0.01:
            bad = BatchItem(
                ("bad", i), {"type": "person", "identifiers": {"id": "z" * 200}, "action": "identify"}
            )
            ops.append(bad)
            invalid.add(bad.ref)
    async with make_client(url) as client:
        emu.faults.error_rate, emu.faults.throttle_rate, emu.faults.drop_rate = 0.10, 0.05, 0.02
        results = by_ref(await collect(Sender(client, max_batch_items=50), ops))
    assert len(results) == len(ops)
    assert {ref for ref, r in results.items() if not r.accepted} == invalid
    assert all(results[ref].reason for ref in invalid)
    assert len(emu.state.people) == 6000
    assert len(emu.state.events) == 2000
    assert Counter(e.attributes["n"] for e in emu.state.events).most_common(1)[0][1] == 1
    statuses = emu.stats.statuses
    assert statuses[429] > 0 and statuses[500] + statuses[503] > 0 and emu.stats.dropped > 0


async def test_segment_changes_are_grouped_up_to_1000_ids(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    emu.schemas = None  # the segment bodies are validated below, from what was sent
    recorder = RequestRecorder()
    async with make_client(url, recorder) as client:
        segment = await client.create_segment("members")
        await collect(Sender(client), [person(i) for i in range(2500)])
        adds = [SegmentChange(("add", i), segment["id"], "id", f"u{i}", True) for i in range(2500)]
        removes = [SegmentChange(("rm", i), segment["id"], "id", f"u{i}", False) for i in range(0, 2500, 2)]
        results = await collect(Sender(client), adds)
        results += await collect(Sender(client), removes)
        unknown = await collect(Sender(client), [SegmentChange("nowhere", 777, "id", "u1", True)])
    assert all(r.accepted for r in results) and len(results) == 3750
    assert emu.state.segment_member_ids(segment["id"]) == {f"u{i}" for i in range(1, 2500, 2)}
    calls = [(p, len(json.loads(c)["ids"])) for _, p, c in recorder.sent if "/segments/" in p]
    assert sorted(n for _, n in calls) == sorted([1000, 1000, 500, 1000, 250, 1])
    assert unknown[0].accepted is False and "not found" in (unknown[0].reason or "")
    assert not unknown[0].retryable
    recorder.validate_all()


async def test_the_emulator_never_sees_more_than_the_burst_in_any_second(
    emulator: tuple[Emulator, str],
) -> None:
    emu, url = emulator
    async with make_client(url, rate=100.0, burst=150, max_concurrency=16) as client:
        results = await collect(Sender(client, max_batch_items=1), [person(i) for i in range(320)])
    assert all(r.accepted for r in results)
    per_second = emu.requests_per_second("track")
    assert max(per_second.values()) <= 150  # rate 100 + 50 of burst, and never rate + burst
    assert sum(per_second.values()) == 321


async def test_input_is_pulled_lazily_and_results_stream_while_sending(
    emulator: tuple[Emulator, str],
) -> None:
    emu, url = emulator
    emu.schemas = None
    pulled = 0
    ahead: list[int] = []

    def source() -> Iterator[Operation]:
        nonlocal pulled
        for i in range(3000):
            pulled += 1
            yield person(i)

    async with make_client(url, max_concurrency=2) as client:
        consumed = 0
        async for _ in Sender(client, max_batch_items=10).send(source()):
            consumed += 1
            ahead.append(pulled - consumed)
    assert consumed == 3000
    assert max(ahead) <= 200  # never more than a few requests' worth ahead of the consumer


async def test_async_sources_and_closing_early(emulator: tuple[Emulator, str]) -> None:
    _emu, url = emulator

    async def source() -> AsyncIterator[Operation]:
        for i in range(2000):
            if i % 100 == 0:
                await asyncio.sleep(0)
            yield person(i)

    async with make_client(url, max_concurrency=4) as client:
        sender = Sender(client, max_batch_items=50)
        stream = sender.send(source())
        first = [await stream.__anext__() for _ in range(5)]
        await stream.aclose()  # cancels what is in flight, leaves nothing running
        assert all(r.accepted for r in first)
        rest = await collect(sender, source())
    assert len(rest) == 2000 and all(r.accepted for r in rest)


async def test_a_partial_batch_is_sent_when_the_source_is_slow(emulator: tuple[Emulator, str]) -> None:
    _emu, url = emulator

    async def trickle() -> AsyncIterator[Operation]:
        for i in range(3):
            yield person(i)
        await asyncio.sleep(0.05)
        for i in range(3, 200):
            yield person(i)

    async with make_client(url) as client:
        results = await collect(Sender(client, linger=0.0), trickle())
    assert len(results) == 200 and all(r.accepted for r in results)


async def test_an_unknown_operation_is_a_programming_error(emulator: tuple[Emulator, str]) -> None:
    _, url = emulator
    async with make_client(url) as client:
        with pytest.raises(TypeError):
            await collect(Sender(client), [person(1), "not an operation"])


async def test_a_server_slower_than_the_ceiling_is_met_by_slowing_down(
    emulator: tuple[Emulator, str],
) -> None:
    emu, url = emulator
    emu.set_rate_limit(40, 40)  # Customer.io allows less than our ceiling today
    settings = RateSettings(rate=80.0, burst=80, max_concurrency=4)
    creds = Credentials(site_id="site", api_key="key", region="us", track_url=url)
    retry = RetrySettings(max_attempts=8, base_delay=0.01, max_delay=0.1)  # Retry-After honoured in full
    async with CustomerIOClient(creds, settings, retry=retry) as client:
        sender = Sender(client, max_batch_items=1)
        results = await collect(sender, [person(i) for i in range(120)])
    assert all(r.accepted for r in results) and len(emu.state.people) == 120
    assert client.track_limiter.penalties >= 1
    assert client.track_limiter.current_rate() < 80  # still climbing back
    # A client that kept its pace would see every other request refused; this one adapts.
    assert sender.stats.throttled < sender.stats.requests / 3


async def test_nothing_to_send_sends_nothing(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    async with make_client(url) as client:
        sender = Sender(client)
        assert await collect(sender, []) == []
    assert sender.stats.requests == 0 and emu.stats.items == 0
