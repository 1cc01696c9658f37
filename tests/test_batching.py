"""Packing serialized items into /api/v2/batch bodies: never over the limit, in order, nothing lost."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from dbt_cio.customerio.batching import BATCH_OVERHEAD, BatchPacker, batch_body, pack
from dbt_cio.customerio.limits import MAX_BATCH_BYTES, dumps


def item_bytes(n: int, size: int) -> bytes:
    """An item whose serialized form is exactly ``size`` bytes."""
    base = f'{{"type":"person","identifiers":{{"id":"{n}"}},"action":"identify","attributes":{{"p":""}}}}'
    pad = size - len(base)
    assert pad >= 0
    data = base.replace('"p":""', '"p":"' + "x" * pad + '"').encode()
    assert len(data) == size
    return data


def test_body_is_the_items_joined_in_a_batch_object() -> None:
    parts = [b'{"a":1}', b'{"b":2}']
    body = batch_body(parts)
    assert json.loads(body) == {"batch": [{"a": 1}, {"b": 2}]}
    assert len(body) == BATCH_OVERHEAD + sum(map(len, parts)) + 1


def test_exactly_full_batch_fits_and_one_more_byte_closes_it() -> None:
    size = 1000
    per_batch = (MAX_BATCH_BYTES - BATCH_OVERHEAD + 1) // (size + 1)
    items = [(i, item_bytes(i, size)) for i in range(per_batch * 3)]
    batches = list(pack(items))
    assert [len(tags) for tags, _ in batches] == [per_batch] * 3
    tight = MAX_BATCH_BYTES - (BATCH_OVERHEAD + per_batch * size + per_batch - 1)
    assert 0 <= tight < size + 1


def test_random_sizes_never_exceed_the_limit_and_keep_order() -> None:
    rng = random.Random(7)
    items = [(i, item_bytes(i, rng.randint(100, 32_000))) for i in range(2_000)]
    batches = list(pack(items))
    seen = []
    for tags, parts in batches:
        body = batch_body(parts)
        assert len(body) <= MAX_BATCH_BYTES
        assert [item["identifiers"]["id"] for item in json.loads(body)["batch"]] == [str(t) for t in tags]
        seen.extend(tags)
    assert seen == list(range(2_000))
    # greedy: every batch but the last would have overflowed with the next batch's first item
    for (_, parts), (_, nxt) in itertools.pairwise(batches):
        assert len(batch_body(parts)) + 1 + len(nxt[0]) > MAX_BATCH_BYTES


def test_packer_is_incremental_and_measures_its_size() -> None:
    packer: BatchPacker[str] = BatchPacker(max_bytes=100)
    assert packer.size == BATCH_OVERHEAD and len(packer) == 0
    assert packer.add("a", b"x" * 40) is None
    assert packer.add("b", b"y" * 40) is None
    assert packer.size == len(batch_body([b"x" * 40, b"y" * 40]))
    closed = packer.add("c", b"z" * 40)
    assert closed == (["a", "b"], [b"x" * 40, b"y" * 40])
    assert packer.take() == (["c"], [b"z" * 40])
    assert packer.take() == ([], [])


def test_max_items_caps_a_batch() -> None:
    batches = list(pack(((i, b"{}") for i in range(10)), max_items=4))
    assert [tags for tags, _ in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_an_item_that_cannot_fit_at_all_is_a_usage_error() -> None:
    with pytest.raises(ValueError):
        list(pack([(0, b"x" * 200)], max_bytes=100))
    with pytest.raises(ValueError):
        BatchPacker(max_bytes=BATCH_OVERHEAD)


def test_realistic_person_items_pack_about_two_thousand_per_request() -> None:
    items = [
        (
            i,
            dumps(
                {
                    "type": "person",
                    "identifiers": {"id": f"user-{i:07d}"},
                    "action": "identify",
                    "attributes": {
                        "email": f"user{i}@example.com",
                        "first_name": "Jane",
                        "last_name": "Doe",
                        "plan": "premium",
                        "seats": i % 50,
                        "created_at": 1700000000 + i,
                        "active": True,
                        "score": 0.5,
                    },
                }
            ).encode(),
        )
        for i in range(10_000)
    ]
    batches = list(pack(items))
    assert all(len(batch_body(parts)) <= MAX_BATCH_BYTES for _, parts in batches)
    assert 2_000 <= len(batches[0][0]) <= 2_600
