"""The sender's raw path (``Sender.send_raw``: serialized items with seqs) over real HTTP against the emulator:
packing, 207 refusals mapped to seqs, a whole-batch 400 halved with every item's bytes kept, items over the
size limit refused locally with the operation path's reason, retries and exhausted retries, and the same
requests and bodies as the operation path for the same items."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiohttp import web
from batch_stand_in import batch_stand_in
from openapi import RequestRecorder
from test_sender import collect, emulator, make_client, person

from dbt_cio.customerio.limits import MAX_ITEM_BYTES
from dbt_cio.customerio.operations import RawAnswer, RawItems, RawMembers, SegmentChange
from dbt_cio.customerio.sender import Sender, serialize
from dbt_cio.emulator import Emulator

__all__ = ["emulator"]  # the fixture, shared with test_sender


def raw(i: int, **extra: Any) -> bytes:
    data = serialize(person(i, **extra).item)
    assert isinstance(data, bytes)
    return data


async def blocks(items: Sequence[tuple[int, bytes]], size: int = 100) -> AsyncIterator[RawItems]:
    for start in range(0, len(items), size):
        chunk = items[start : start + size]
        yield RawItems([seq for seq, _ in chunk], [data for _, data in chunk])


async def answers(
    sender: Sender[Any], items: Sequence[tuple[int, bytes]], size: int = 100
) -> list[RawAnswer]:
    return [answer async for answer in sender.send_raw(blocks(items, size))]


def outcome(got: list[RawAnswer]) -> tuple[list[int], dict[int, Any]]:
    accepted = sorted(seq for answer in got for seq in answer.accepted)
    refused = {r.seq: r for answer in got for r in answer.refused}
    return accepted, refused


async def test_items_are_packed_sent_and_acknowledged_by_seq(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    async with make_client(url) as client:
        sender: Sender[Any] = Sender(client)
        got = await answers(sender, [(i, raw(i, note="n" * 400)) for i in range(3000)], size=700)
    accepted, refused = outcome(got)
    assert accepted == list(range(3000)) and not refused
    assert len(emu.state.people) == 3000
    assert all(answer.status == 200 and answer.request for answer in got)
    assert len(got) >= 3  # about 1.4 MB: three bodies of at most 500 KB
    assert sender.stats.accepted == client.stats.accepted == 3000


async def test_207_refusals_are_mapped_to_their_seqs(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    emu.faults.reject_items = {"u3", "u500", "u999"}
    async with make_client(url) as client:
        got = await answers(Sender(client), [(1000 + i, raw(i)) for i in range(1000)])
    accepted, refused = outcome(got)
    assert set(refused) == {1003, 1500, 1999}
    assert len(accepted) == 997 and not set(accepted) & set(refused)
    assert all(not r.retryable and "reject_items" in r.reason for r in refused.values())
    assert {a.status for a in got if a.refused} == {207}
    assert len(emu.state.people) == 997


async def test_the_reasons_are_the_operation_paths(emulator: tuple[Emulator, str]) -> None:
    """The same items through both paths: the same refusals (reason and field), the same requests."""
    emu, url = emulator
    emu.faults.reject_items = {"u7"}
    big = person(5, note="x" * MAX_ITEM_BYTES)
    ops = [person(i) for i in range(20)]
    ops[5] = big
    data = json.dumps(big.item, separators=(",", ":"), ensure_ascii=False).encode()
    async with make_client(url) as client:
        by_ops = [a async for a in Sender(client, max_batch_items=8).send_chunks(ops)]
        items = [(i, data if i == 5 else raw(i)) for i in range(20)]
        by_raw = await answers(Sender(client, max_batch_items=8), items, size=6)
    expected = {r.ref[1]: (r.reason, r.field) for a in by_ops for r in a if not r.accepted}
    accepted, refused = outcome(by_raw)
    assert {seq: (r.reason, r.field) for seq, r in refused.items()} == expected
    assert set(expected) == {5, 7} and "more than the 32000 allowed" in expected[5][0]
    local = [a for a in by_raw if a.request is None]
    assert [[r.seq for r in a.refused] for a in local] == [[5]] and local[0].status is None
    assert accepted == [i for i in range(20) if i not in (5, 7)]
    assert sorted(a.status or 0 for a in by_raw if a.request) == [200, 200, 207]  # 19 items, 8 a batch


async def test_a_whole_batch_400_is_halved_keeping_each_items_bytes() -> None:
    seen: list[list[str]] = []

    async def batch(request: web.Request) -> web.Response:
        items = (await request.json())["batch"]
        seen.append([item["identifiers"]["id"] for item in items])
        if any(item["identifiers"]["id"] == "u37" for item in items):
            return web.json_response({"meta": {"error": "malformed request"}}, status=400)
        return web.json_response({})

    async with batch_stand_in(batch) as url, make_client(url) as client:
        got = await answers(Sender(client), [(i, raw(i)) for i in range(64)], size=64)
    accepted, refused = outcome(got)
    assert list(refused) == [37] and accepted == [i for i in range(64) if i != 37]
    assert refused[37].reason and "malformed request" in refused[37].reason and not refused[37].retryable
    poisoned = next(a for a in got if a.refused)
    assert poisoned.status == 400 and len(poisoned) == 1
    assert seen[0] == [f"u{i}" for i in range(64)] and len(seen) <= 2 * 7 + 1
    sent_ok = sorted(int(i[1:]) for ids in seen for i in ids if i != "u37")
    assert set(sent_ok) == set(accepted)  # every item's own bytes, in every half


@pytest.mark.parametrize("fault", ["error_rate", "throttle_rate", "drop_rate"])
async def test_transient_faults_are_retried_until_accepted(
    emulator: tuple[Emulator, str], fault: str
) -> None:
    emu, url = emulator
    async with make_client(url) as client:
        setattr(emu.faults, fault, 0.3)
        got = await answers(Sender(client, max_batch_items=25), [(i, raw(i)) for i in range(500)])
    accepted, refused = outcome(got)
    assert accepted == list(range(500)) and not refused and len(emu.state.people) == 500
    assert client.stats.retries > 0
    if fault == "throttle_rate":
        assert client.stats.throttled > 0


async def test_retries_exhausted_fail_every_item_of_the_request_as_retryable(
    emulator: tuple[Emulator, str],
) -> None:
    emu, url = emulator
    async with make_client(url) as client:
        emu.faults.error_rate = 1.0
        got = await answers(Sender(client), [(i, raw(i)) for i in range(10)])
    accepted, refused = outcome(got)
    assert not accepted and sorted(refused) == list(range(10))
    assert all(r.retryable and "50" in r.reason for r in refused.values())
    assert client.stats.failed == 10


async def test_nothing_to_send_sends_nothing(emulator: tuple[Emulator, str]) -> None:
    emu, url = emulator
    async with make_client(url) as client:
        sender: Sender[Any] = Sender(client)
        assert await answers(sender, []) == []
    assert sender.stats.requests == 0 and emu.stats.items == 0


# -- segment changes (``Sender.send_members_raw``) -------------------------------------------------------


async def members(rows: Sequence[tuple[int, str, bool]], size: int = 300) -> AsyncIterator[RawMembers]:
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        yield RawMembers(
            [s for s, _, _ in chunk], [json.dumps(i).encode() for _, i, _ in chunk], [a for *_, a in chunk]
        )


async def test_segment_ids_make_the_operation_paths_requests(emulator: tuple[Emulator, str]) -> None:
    """Adds and removes interleaved as a diff has them: grouped apart up to 1000 ids, in the same requests (paths,
    ids, order) as the same changes as operations, and acknowledged by seq; a segment that does not exist
    refuses every id of its request, for good."""
    emu, url = emulator
    emu.schemas = None  # the segment bodies are checked below, from what was sent
    rows = [(i, f"u{i}", i % 3 != 0) for i in range(2600)]  # every third one removed
    sent: dict[str, list[tuple[str, list[str]]]] = {}
    for way in ("operations", "raw"):
        recorder = RequestRecorder()
        async with make_client(url, recorder) as client:
            segment = (await client.create_segment(f"members {way}"))["id"]
            await collect(Sender(client), [person(i) for i in range(2600)])
            if way == "operations":
                ops = [SegmentChange(seq, segment, "id", ident, add) for seq, ident, add in rows]
                results = await collect(Sender(client), ops)
                assert all(r.accepted for r in results) and len(results) == len(rows)
            else:
                got = [a async for a in Sender(client).send_members_raw(segment, "id", members(rows))]
                accepted, refused = outcome(got)
                assert accepted == list(range(2600)) and not refused
                assert [a.status for a in got] == [200] * len(got) and all(a.request for a in got)
            assert emu.state.segment_member_ids(segment) == {f"u{i}" for i in range(2600) if i % 3}
        calls = [(p, c) for _, p, c in recorder.sent if "/segments/" in p]
        sent[way] = [(p.rsplit("/", 1)[-1], json.loads(c)["ids"]) for p, c in calls]
    assert sent["raw"] == sent["operations"]
    assert sorted(len(ids) for _, ids in sent["raw"]) == [733, 867, 1000]  # 1,733 adds, 867 removes
    async with make_client(url) as client:
        nowhere = [a async for a in Sender(client).send_members_raw(777, "id", members(rows[:5]))]
    accepted, refused = outcome(nowhere)
    assert not accepted and sorted(refused) == [0, 1, 2, 3, 4]
    assert all(not r.retryable and "not found" in r.reason for r in refused.values())
