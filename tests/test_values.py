"""dbt_cio.values: one database value to Customer.io JSON, timestamps to Unix seconds, identifiers to text."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from decimal import Decimal
from typing import Any

import pytest

from dbt_cio.customerio.values import (
    MAX_SAFE_INTEGER,
    ValueRejected,
    identifier_text,
    to_json,
    to_unix_seconds,
)

UTC = dt.UTC
T_2024_07_01_10 = 1719828000  # 2024-07-01T10:00:00Z


class Opaque:
    pass


class MyStr(str):
    pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (False, False),
        ("text", "text"),
        ("", ""),
        (MyStr("sub"), "sub"),
        (0, 0),
        (-42, -42),
        (MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
        (-MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER),
        (MAX_SAFE_INTEGER + 1, str(MAX_SAFE_INTEGER + 1)),  # a double would round it
        (-(2**63), str(-(2**63))),
        (1.5, 1.5),
        (2.0, 2.0),
        (float("nan"), None),
        (float("inf"), None),
        (float("-inf"), None),
        (Decimal("120.00"), 120),
        (Decimal("19.99"), 19.99),
        (Decimal("19.990000000000000000"), 19.99),
        (Decimal("-0.5"), -0.5),
        (Decimal("1E+3"), 1000),
        (Decimal(12345678901234567890), "12345678901234567890"),
        (Decimal("0.12345678901234567891"), "0.12345678901234567891"),  # would lose digits as a double
        (
            Decimal("12345678901234567890.1234567891"),
            "12345678901234567890.1234567891",
        ),  # over 28 digits: all kept
        (Decimal("-123456789012345678901234567890.50000"), "-123456789012345678901234567890.5"),
        (Decimal("NaN"), None),
        (Decimal("Infinity"), None),
        (Decimal("-Infinity"), None),
        (dt.datetime(2024, 7, 1, 10, 0, 0), T_2024_07_01_10),  # naive is UTC
        (dt.datetime(2024, 7, 1, 10, 0, 0, 999999), T_2024_07_01_10),  # floored
        (dt.datetime(2024, 7, 1, 12, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))), T_2024_07_01_10),
        (dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC), -1),  # floored, not truncated
        (dt.date(2024, 7, 1), 1719792000),
        (dt.date(1970, 1, 1), 0),
        (dt.time(8, 30), "08:30:00"),
        (dt.timedelta(hours=1), 3600),
        (dt.timedelta(milliseconds=1500), 1.5),
        (uuid.UUID("12345678-1234-5678-1234-567812345678"), "12345678-1234-5678-1234-567812345678"),
        ({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2]}),
        (
            {"nested": {"x": float("nan"), "when": dt.date(1970, 1, 2)}},
            {"nested": {"x": None, "when": 86400}},
        ),
        ({1: "one", uuid.UUID(int=0): "zero"}, {"1": "one", "00000000-0000-0000-0000-000000000000": "zero"}),
        ([Decimal("1.5"), None, "x"], [1.5, None, "x"]),
        ((1, 2), [1, 2]),
        ([], []),
        ({}, {}),
    ],
    ids=repr,
)
def test_to_json(value: Any, expected: Any) -> None:
    result = to_json(value)
    assert result == expected
    assert type(result) is type(expected)
    json.dumps(result, allow_nan=False)  # always valid JSON


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (b"\x00\x01", "binary"),
        (bytearray(b"x"), "binary"),
        (memoryview(b"x"), "binary"),
        (Opaque(), "Opaque"),
        ({1.5: "x"}, "map keys"),
        ([1, b"x"], "binary"),
        ({"a": {"b": Opaque()}}, "Opaque"),
        ({1, 2}, "set"),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, str) else v,  # stable across processes (pytest-xdist)
)
def test_to_json_rejects_what_has_no_faithful_form(value: Any, words: str) -> None:
    with pytest.raises(ValueRejected) as info:
        to_json(value)
    assert words in info.value.reason


def test_rejection_reason_says_what_to_do() -> None:
    with pytest.raises(ValueRejected, match="cast the column to text"):
        to_json(b"\x00")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2024, 7, 1, 10), T_2024_07_01_10),
        (dt.datetime(2024, 7, 1, 10, tzinfo=UTC), T_2024_07_01_10),
        (dt.date(2024, 7, 1), 1719792000),
        (T_2024_07_01_10, T_2024_07_01_10),
        (float(T_2024_07_01_10) + 0.9, T_2024_07_01_10),
        (Decimal("1719828000.5"), T_2024_07_01_10),
        (T_2024_07_01_10 * 1000, T_2024_07_01_10),  # milliseconds
        (T_2024_07_01_10 * 1000 + 999, T_2024_07_01_10),
        (T_2024_07_01_10 * 1_000_000, T_2024_07_01_10),  # microseconds
        (T_2024_07_01_10 * 1_000_000_000, T_2024_07_01_10),  # nanoseconds
        (0, 0),
        (-86400, -86400),  # before 1970 is kept
        ("1719828000", T_2024_07_01_10),
        ("1719828000000", T_2024_07_01_10),
        ("2024-07-01T10:00:00Z", T_2024_07_01_10),
        ("2024-07-01T10:00:00z", T_2024_07_01_10),
        ("2024-07-01T10:00:00.123456Z", T_2024_07_01_10),
        ("2024-07-01 10:00:00", T_2024_07_01_10),
        ("2024-07-01T12:00:00+02:00", T_2024_07_01_10),
        (" 2024-07-01T10:00:00Z ", T_2024_07_01_10),
        ("2024-07-01", 1719792000),
    ],
    ids=repr,
)
def test_to_unix_seconds(value: Any, expected: int) -> None:
    result = to_unix_seconds(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        "",
        "yesterday",
        "2024-13-01",
        "01/07/2024",
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        b"1",
        [1],
    ],
    ids=repr,
)
def test_to_unix_seconds_rejects(value: Any) -> None:
    with pytest.raises(ValueRejected):
        to_unix_seconds(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "abc"),
        ("  padded ", "  padded "),  # kept as is: ids are compared exactly
        (42, "42"),
        (-7, "-7"),
        (2**70, str(2**70)),
        (Decimal(42), "42"),
        (Decimal("42.000"), "42"),
        (42.0, "42"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (MyStr("x"), "x"),
        (None, None),
        ("", None),
        ("   ", None),
    ],
    ids=repr,
)
def test_identifier_text(value: Any, expected: str | None) -> None:
    assert identifier_text(value) == expected


@pytest.mark.parametrize(
    "value",
    [True, float("nan"), float("inf"), Decimal("NaN"), 1.5, Decimal("1.5"), b"1", dt.date(2024, 1, 1), [1]],
    ids=repr,
)
def test_identifier_text_rejects(value: Any) -> None:
    with pytest.raises(ValueRejected):
        identifier_text(value)


# --- values as the real drivers return them -------------------------------------------------------

_DUCKDB_SQL = """
select
    timestamp '2024-07-01 10:00:00' as ts,
    timestamptz '2024-07-01 12:00:00+02' as tstz,
    date '2024-07-01' as d,
    cast(19.99 as decimal(18, 2)) as dec,
    cast(120 as decimal(18, 2)) as dec_int,
    cast('nan' as double) as nan,
    cast('infinity' as double) as inf,
    9007199254740993::bigint as big,
    uuid '12345678-1234-5678-1234-567812345678' as u,
    [1, 2, 3] as arr,
    {'a': 1, 'b': 'x'} as st,
    interval 90 minutes as iv,
    true as flag,
    'text' as txt,
    null::varchar as nothing
"""

_POSTGRES_SQL = """
select
    timestamp '2024-07-01 10:00:00' as ts,
    timestamptz '2024-07-01 12:00:00+02' as tstz,
    date '2024-07-01' as d,
    cast(19.99 as numeric(18, 2)) as dec,
    cast(120 as numeric(18, 2)) as dec_int,
    cast('NaN' as double precision) as nan,
    cast('Infinity' as double precision) as inf,
    9007199254740993::bigint as big,
    '12345678-1234-5678-1234-567812345678'::uuid as u,
    array[1, 2, 3] as arr,
    '{"a": 1, "b": "x"}'::jsonb as st,
    interval '90 minutes' as iv,
    true as flag,
    'text'::text as txt,
    null::varchar as nothing
"""

_EXPECTED_FROM_DRIVERS = {
    "ts": T_2024_07_01_10,
    "tstz": T_2024_07_01_10,
    "d": 1719792000,
    "dec": 19.99,
    "dec_int": 120,
    "nan": None,
    "inf": None,
    "big": "9007199254740993",
    "u": "12345678-1234-5678-1234-567812345678",
    "arr": [1, 2, 3],
    "st": {"a": 1, "b": "x"},
    "iv": 5400,
    "flag": True,
    "txt": "text",
    "nothing": None,
}


def _fetch_row(cursor: Any, sql: str) -> dict[str, Any]:
    cursor.execute(sql)
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def test_values_from_duckdb() -> None:
    import duckdb

    conn = duckdb.connect(":memory:")
    try:
        row = _fetch_row(conn.cursor(), _DUCKDB_SQL)
    finally:
        conn.close()
    assert {k: to_json(v) for k, v in row.items()} == _EXPECTED_FROM_DRIVERS


@pytest.mark.postgres
@pytest.mark.skipif(os.environ.get("DBT_CIO_SKIP_POSTGRES") == "1", reason="DBT_CIO_SKIP_POSTGRES=1")
def test_values_from_postgres() -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test")
    try:
        row = _fetch_row(conn.cursor(), _POSTGRES_SQL)
        with pytest.raises(ValueRejected, match="binary"):
            to_json(_fetch_row(conn.cursor(), "select '\\x0001'::bytea as b")["b"])
    finally:
        conn.close()
    assert {k: to_json(v) for k, v in row.items()} == _EXPECTED_FROM_DRIVERS


def test_to_json_never_crashes_on_random_nested_values() -> None:
    """Whatever a driver hands over, the answer is JSON (no NaN) or ValueRejected: never another error."""
    import random

    rng = random.Random(4)
    scalars: list[Any] = [
        None, True, 0, -1, 2**60, -(2**80), 1.5, float("nan"), float("-inf"), Decimal("1.1"),
        Decimal("-0"), Decimal("1E+30"), Decimal("sNaN"), Decimal("1E-30"), "", "é✓", dt.date(1, 1, 1),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime.min, dt.time(), dt.timedelta(days=-1),
        uuid.UUID(int=5), b"", Opaque(),
    ]  # fmt: skip

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth < 3 and roll < 0.2:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        if depth < 3 and roll < 0.35:
            return {rng.choice(["a", "b", 1, 2.5, None]): value(depth + 1) for _ in range(rng.randrange(4))}
        return rng.choice(scalars)

    outcomes = {"json": 0, "rejected": 0}
    for _ in range(3000):
        candidate = value(0)
        try:
            result = to_json(candidate)
        except ValueRejected:
            outcomes["rejected"] += 1
            continue
        json.dumps(result, allow_nan=False)
        outcomes["json"] += 1
    assert outcomes["json"] > 1000 and outcomes["rejected"] > 100
