"""One database value turned into what Customer.io expects in JSON.

Rows arrive as whatever the adapter's driver returned (DuckDB, psycopg2, or agate's ``Decimal`` for every
number). Customer.io stores attributes loosely typed, compares timestamps as integer Unix seconds and
parses numbers as IEEE doubles. The rules, chosen so that what lands in Customer.io is what the warehouse
holds:

============================  ===============================================================
database value                JSON sent
============================  ===============================================================
None, bool, str               as is
int                           number; beyond +-2**53 the exact digits as a string (a double
                              would silently round them, e.g. 64-bit snowflake ids)
float                         number; NaN and +-infinity become null
Decimal                       int when integral, else float when the float prints back to the
                              same decimal; otherwise the exact digits as a string (no silent
                              rounding); NaN and infinities become null
datetime / date               Unix seconds (int, floored); naive datetimes are UTC, dates are
                              midnight UTC
time                          ISO text ``HH:MM:SS[.ffffff]`` (a time of day is not an instant)
timedelta                     seconds as a number
UUID                          its canonical text
dict (JSON, struct, map)      object, keys as text, values converted recursively
list / tuple (arrays, JSON)   array, items converted recursively
bytes and anything else       rejected: :class:`ValueRejected` with a reason that says the fix
============================  ===============================================================

A JSON column that the driver hands back as text (DuckDB's ``JSON`` type) stays text: nothing here knows
a column's declared type, and guessing from the content would turn ordinary strings into objects.

:func:`to_unix_seconds` is the stricter conversion used where Customer.io wants a timestamp (event
``timestamp``, device ``last_used``): it also accepts ISO-8601 text and epoch numbers.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
import uuid
from decimal import Context, Decimal
from typing import Any, Union

__all__ = ["JSON", "MAX_SAFE_INTEGER", "ValueRejected", "identifier_text", "to_json", "to_unix_seconds"]

JSON = Union[None, bool, int, float, str, list["JSON"], dict[str, "JSON"]]  # noqa: UP007 (a recursive alias)

#: The largest integer a double holds exactly; Customer.io parses JSON numbers as doubles.
MAX_SAFE_INTEGER = 2**53

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_NoneType = type(None)

# Epoch numbers this large cannot be seconds (1e11 s is the year 5138): they are milliseconds,
# microseconds or nanoseconds, as event pipelines often store them.
_EPOCH_UNITS: tuple[tuple[int, int], ...] = ((10**17, 10**9), (10**14, 10**6), (10**11, 10**3))
_NUMBER_TEXT = re.compile(r"[+-]?\d+(\.\d*)?")


class ValueRejected(ValueError):
    """A value that cannot be sent to Customer.io faithfully; ``reason`` says why and what to do."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def to_json(value: Any) -> JSON:
    """Convert one database value to the JSON value Customer.io should receive (see the module table).

    Raises :class:`ValueRejected` for values with no faithful JSON form (bytes, unknown objects).
    """
    # Fast path first: most values of most rows are text, booleans, nulls and small numbers.
    kind = type(value)
    if kind is str or kind is bool or value is None:
        plain: JSON = value
        return plain
    if kind is int:
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else str(value)
    if kind is float:
        return value if value - value == 0.0 else None  # x - x is NaN for NaN and +-inf
    if kind is Decimal:
        return _decimal(value)
    if kind is dt.datetime:
        return _datetime_seconds(value)
    if kind is dt.date:
        return _date_seconds(value)
    return _to_json_other(value)


def _to_json_other(value: Any) -> JSON:
    """The slow path of :func:`to_json`: containers, subclasses and the rarer scalar types."""
    if isinstance(value, dict):
        return {_key_text(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise ValueRejected(
            "binary values cannot be sent to Customer.io; cast the column to text in the model "
            "(e.g. hex or base64) or exclude it"
        )
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.datetime):
        return _datetime_seconds(value)
    if isinstance(value, dt.date):
        return _date_seconds(value)
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        return int(seconds) if seconds.is_integer() else seconds
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return _decimal(value)
    # numpy and other numeric towers register with ``numbers``; convert through the builtins.
    if isinstance(value, numbers.Integral):
        return to_json(int(value))
    if isinstance(value, numbers.Real):
        return to_json(float(value))
    raise ValueRejected(
        f"values of type {type(value).__name__} cannot be sent to Customer.io; "
        "cast the column to text, a number or a timestamp in the model"
    )


def _key_text(key: Any) -> str:
    """Object keys must be text in JSON; accept the key types a database map can sensibly have."""
    if isinstance(key, str):
        return key
    if isinstance(key, (int, uuid.UUID, Decimal)) and not isinstance(key, bool):
        return str(key)
    raise ValueRejected(f"map keys of type {type(key).__name__} cannot be sent to Customer.io; use text keys")


def _decimal(value: Decimal) -> JSON:
    """A decimal as a number when a double holds it exactly, else as its exact digits (see module table)."""
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        as_int = int(value)
        return as_int if -MAX_SAFE_INTEGER <= as_int <= MAX_SAFE_INTEGER else str(as_int)
    as_float = float(value)
    if Decimal(repr(as_float)) == value:
        return as_float
    # normalize() in a context as precise as the value: the default context's 28 digits would round it.
    return format(value.normalize(Context(prec=len(value.as_tuple().digits))), "f")


def _datetime_seconds(value: dt.datetime) -> int:
    # Integer arithmetic on the fields: several times faster than datetime subtraction, and it floors
    # (microseconds are dropped, never rounded up), also before 1970.
    seconds = (
        (value.toordinal() - _EPOCH_ORDINAL) * 86400 + value.hour * 3600 + value.minute * 60 + value.second
    )
    if value.tzinfo is not None:
        offset = value.utcoffset()
        if offset:
            seconds -= offset.days * 86400 + offset.seconds  # offsets with microseconds are not real
    return seconds


def _date_seconds(value: dt.date) -> int:
    return (value.toordinal() - _EPOCH_ORDINAL) * 86400


def to_unix_seconds(value: Any) -> int:
    """Convert a timestamp-like value to integer Unix seconds, as Customer.io's ``timestamp`` fields want.

    Accepts datetimes (naive means UTC), dates (midnight UTC), epoch numbers (int, float, Decimal or
    numeric text; seconds, or milliseconds/microseconds/nanoseconds when too large to be seconds, i.e.
    at or beyond 1e11) and ISO-8601 text (``2024-07-01``, ``2024-07-01T10:00:00Z``, ``...+02:00``, a
    space instead of ``T``). Fractions of a second are floored. Anything else raises
    :class:`ValueRejected`.
    """
    kind = type(value)
    if kind is dt.datetime:
        return _datetime_seconds(value)
    if kind is dt.date:
        return _date_seconds(value)
    if isinstance(value, bool) or value is None:
        raise ValueRejected(f"{value!r} is not a timestamp")
    if isinstance(value, dt.datetime):
        return _datetime_seconds(value)
    if isinstance(value, dt.date):
        return _date_seconds(value)
    if isinstance(value, (int, float, Decimal)):
        return _epoch_seconds(value)
    if isinstance(value, numbers.Real):
        return _epoch_seconds(float(value))
    if isinstance(value, str):
        return _parse_text_timestamp(value)
    raise ValueRejected(f"values of type {type(value).__name__} are not timestamps; use a timestamp column")


def _epoch_seconds(value: float | Decimal) -> int:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueRejected(f"{value!r} is not a timestamp")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueRejected(f"{value!r} is not a timestamp")
    magnitude = value if value >= 0 else -value
    for threshold, per_second in _EPOCH_UNITS:
        if magnitude >= threshold:
            return value // per_second if isinstance(value, int) else math.floor(value / per_second)
    return math.floor(value)


def _parse_text_timestamp(text: str) -> int:
    stripped = text.strip()
    if _NUMBER_TEXT.fullmatch(stripped):
        return _epoch_seconds(Decimal(stripped))
    iso = stripped
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    try:
        if len(iso) == 10:
            return _date_seconds(dt.date.fromisoformat(iso))
        return _datetime_seconds(dt.datetime.fromisoformat(iso))
    except ValueError:
        raise ValueRejected(
            f"{text!r} is not an ISO-8601 timestamp (expected e.g. 2024-07-01T10:00:00Z)"
        ) from None


def identifier_text(value: Any) -> str | None:
    """The text form of an identifier value (person id, object id, token, event id), or None when missing.

    Customer.io identifiers are strings. Integers (and integral decimals or floats, as some drivers return
    them) become their digits, so ``42``, ``Decimal("42")`` and ``42.0`` all name the same person; UUIDs
    their canonical text. Empty or blank text counts as missing. Raises :class:`ValueRejected` for values
    that do not name anything faithfully (NaN, fractions, booleans, binary, timestamps).
    """
    kind = type(value)
    if kind is str:
        return value if value and not value.isspace() else None
    if value is None:
        return None
    if kind is int:
        return str(value)
    if isinstance(value, bool):
        raise ValueRejected(f"{value!r} is not usable as an identifier; use text or an integer")
    if isinstance(value, str):
        return identifier_text(str(value))
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (int, numbers.Integral)):
        return str(int(value))
    if isinstance(value, (float, Decimal, numbers.Real)):
        if isinstance(value, Decimal):
            finite = value.is_finite()
        else:
            value = float(value)
            finite = math.isfinite(value)
        if not finite:
            raise ValueRejected(f"{value!r} is not usable as an identifier")
        if value != int(value):
            raise ValueRejected(f"{value!r} is not usable as an identifier (it has a fraction); use text")
        return str(int(value))
    raise ValueRejected(
        f"values of type {type(value).__name__} are not usable as identifiers; cast the column to text"
    )
