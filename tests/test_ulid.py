"""dbt_cio.ulid: Crockford base32 ULIDs, deterministic per (sync, event id, timestamp)."""

from __future__ import annotations

import re

import pytest

from dbt_cio.customerio.ulid import CROCKFORD_ALPHABET, MAX_TIMESTAMP_MS, encode, event_ulid

ULID_PATTERN = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def decode(text: str) -> int:
    """Independent decoder for the tests: base32 digits, most significant first."""
    value = 0
    for char in text:
        value = value * 32 + CROCKFORD_ALPHABET.index(char)
    return value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0" * 26),
        (1, "0" * 25 + "1"),
        (31, "0" * 25 + "Z"),
        (32, "0" * 24 + "10"),
        (2**128 - 1, "7" + "Z" * 25),
    ],
)
def test_encode_known_values(value: int, expected: str) -> None:
    assert encode(value) == expected


def test_encode_timestamp_prefix_matches_the_ulid_spec_example() -> None:
    # The ULID spec's example: 1469918176385 ms encodes as the time part "01ARYZ6S41".
    assert encode(1469918176385 << 80)[:10] == "01ARYZ6S41"


@pytest.mark.parametrize("value", [-1, 2**128])
def test_encode_rejects_out_of_range(value: int) -> None:
    with pytest.raises(ValueError):
        encode(value)


def test_crockford_alphabet_leaves_out_ambiguous_letters() -> None:
    assert len(CROCKFORD_ALPHABET) == 32
    assert not set("ILOU") & set(CROCKFORD_ALPHABET)


def test_event_ulid_is_deterministic_and_well_formed() -> None:
    first = event_ulid("orders", "o-1001", 1719828000000)
    assert first == event_ulid("orders", "o-1001", 1719828000000)
    assert ULID_PATTERN.match(first)
    assert decode(first) >> 80 == 1719828000000


def test_event_ulid_depends_on_sync_event_id_and_time() -> None:
    base = event_ulid("orders", "o-1001", 1000)
    assert event_ulid("orders", "o-1002", 1000) != base
    assert event_ulid("refunds", "o-1001", 1000) != base
    assert event_ulid("orders", "o-1001", 2000) != base
    # the random part is the same for the same (sync, event id), whatever the time
    mask = 2**80 - 1
    assert decode(event_ulid("orders", "o-1001", 2000)) & mask == decode(base) & mask


def test_event_ulid_does_not_confuse_concatenations() -> None:
    assert event_ulid("ab", "c") != event_ulid("a", "bc")


def test_event_ulid_without_time_starts_with_zero_time() -> None:
    assert event_ulid("orders", "o-1").startswith("0000000000")


@pytest.mark.parametrize(("given", "kept"), [(-5, 0), (MAX_TIMESTAMP_MS + 10, MAX_TIMESTAMP_MS)])
def test_event_ulid_clamps_time_to_48_bits(given: int, kept: int) -> None:
    assert decode(event_ulid("s", "e", given)) >> 80 == kept


def test_event_ulids_sort_by_time() -> None:
    ids = [event_ulid("s", str(i), ms) for i, ms in enumerate([5, 1000, 1719828000000, 2**47])]
    assert ids == sorted(ids)


def test_event_ulid_handles_unicode() -> None:
    assert ULID_PATTERN.match(event_ulid("événements", "id-✓"))


def test_encode_matches_a_digit_by_digit_reference() -> None:
    import random

    rng = random.Random(20240701)
    for _ in range(2000):
        value = rng.getrandbits(128)
        digits = []
        rest = value
        for _ in range(26):
            digits.append(CROCKFORD_ALPHABET[rest % 32])
            rest //= 32
        assert encode(value) == "".join(reversed(digits))
        assert decode(encode(value)) == value


def test_event_ulids_makes_the_same_ids_as_event_ulid() -> None:
    import random

    from dbt_cio.customerio.ulid import event_ulids

    rng = random.Random(14)
    makers = {name: event_ulids(name) for name in ("orders", "é漢", "", "a\x00b")}
    for _ in range(5000):
        name = rng.choice(list(makers))
        event_id = "".join(rng.choice("ab\x00é𝄞-19") for _ in range(rng.randint(0, 12)))
        ms = rng.choice([0, -5, 1_719_828_000_000, 2**48 - 1, 2**48 + 5, rng.randint(-(10**15), 10**15)])
        assert makers[name](event_id, ms) == event_ulid(name, event_id, ms), (name, event_id, ms)
