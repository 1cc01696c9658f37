"""What the Python path's page query converts in SQL before Python reads it: instants and small decimals.

The Python mapper (:mod:`dbt_cio.payloads.mappers`) reads every value the driver builds. Some are costly to
build and then to convert, and the warehouse can make the same JSON value cheaply (bench/README.md, "the
Python path's casts"):

- a timestamp, timestamp with time zone or date: fetched as a ``datetime`` (with its ``tzinfo``, the costliest
  value a driver builds), which ``to_json`` turns into Unix seconds. Selected as those seconds instead, by the
  same SQL that renders them (``unix_seconds``, checked against ``to_json`` by tests/test_rendered.py): an
  integer, which ``to_json`` writes as it is. An instant Python cannot hold the same way (infinite, or beyond
  the years 1-9999: ``temporal_needs_python``) is selected as it was, in a column of its own, and the mapper
  sees exactly what it saw before.
- a decimal of at most 15 digits (``decimal(p, s)`` with ``p <= 15``, ``s > 0``): fetched as a ``Decimal``,
  which ``to_json`` writes as a number when a double holds it exactly, as an integer when it is whole. Any
  decimal of 15 digits or fewer comes back unchanged from the nearest double (a double keeps 15 significant
  digits), so it is selected as that double, and :meth:`PageCasts.apply` makes a whole one an ``int``: the
  value ``to_json`` returns, unchanged (NaN, a PostgreSQL numeric's, is a NaN double: null either way).

Only columns whose values go nowhere but through ``to_json`` are converted (mapped attributes: not an
identifier, key, event name, timestamp or device field, each read its own way), and only where it pays (the
engine decides, :func:`dbt_cio.engine.render.python_casts`: DuckDB). A pure function of the sync and its column
types, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbt_cio.contract.model import Sync
from dbt_cio.warehouse.jsonsql import JsonSql, column_kind, decimal_digits

__all__ = ["MAX_DOUBLE_DIGITS", "PageCasts", "page_casts", "plain_values"]

MAX_DOUBLE_DIGITS = 15
"""Significant decimal digits every double keeps: a decimal of this many digits or fewer survives the trip
through the nearest double and back (``DBL_DIG``)."""


@dataclass(frozen=True)
class PageCasts:
    """How one sync's page query selects its value columns (built by :func:`page_casts`).

    ``selects`` maps a value column (as the block names it) to the SQL selected in its place; ``extras`` are
    selected after every column, one per converted instant: the original value when Python must read it
    (``temporal_needs_python``), else NULL. ``restore`` pairs each extra's position among the extras with its
    column; ``whole`` names the decimal columns selected as doubles.
    """

    selects: Mapping[str, str]
    extras: tuple[str, ...] = ()
    restore: tuple[tuple[int, str], ...] = ()
    whole: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.selects)

    def columns(self, names: Sequence[str], quoted: Sequence[str]) -> list[str]:
        """The value columns' SQL as selected (``names`` in the block, ``quoted`` in the warehouse)."""
        return [self.selects.get(name, q) for name, q in zip(names, quoted)]

    def apply(self, values: dict[str, Any], extras: Sequence[Any]) -> dict[str, Any]:
        """Undo the conversions Python must not see: instants it reads itself, whole decimals as ints."""
        for index, name in self.restore:
            if extras[index] is not None:
                values[name] = extras[index]
        for name in self.whole:
            value = values[name]
            if value is not None and value.is_integer():
                values[name] = int(value)
        return values


def plain_values(sync: Sync) -> frozenset[str]:
    """The columns whose values go only through ``to_json`` (mapped attributes read nowhere else)."""
    special = {
        *sync.key_columns,
        *(
            c
            for c in (
                sync.identifier.column if sync.identifier else None,
                sync.name_column,
                sync.anonymous_id,
                sync.timestamp,
                sync.event_id,
                sync.object_id,
                sync.token,
                sync.platform,
                sync.last_used,
            )
            if c
        ),
    }
    if sync.type in ("collection", "segment"):
        return frozenset()  # read by their own paths (collection_data, segment ids)
    return frozenset(c for c in sync.attributes.values() if c not in special)


def page_casts(sync: Sync, j: JsonSql, columns: Sequence[tuple[str, str, str]]) -> PageCasts:
    """The conversions of ``sync``'s page query on this warehouse. ``columns`` holds ``(name in the block,
    quoted name, data type)`` of every column the sync reads
    (:meth:`~dbt_cio.warehouse.state.StateStore.column_types`)."""
    plain = plain_values(sync)
    adapter = j.dialect.adapter_type
    selects: dict[str, str] = {}
    extras: list[str] = []
    restore: list[tuple[int, str]] = []
    whole: list[str] = []
    for name, quoted, dtype in columns:
        if name not in plain or name in selects:
            continue
        kind = column_kind(adapter, dtype)
        if kind in ("timestamp", "date"):
            needs_python = j.fill("temporal_needs_python", quoted)
            seconds = j.seconds(quoted, kind, epoch=False)
            selects[name] = f"case when {needs_python} then null else {seconds} end"
            restore.append((len(extras), name))
            extras.append(f"case when {needs_python} then {quoted} end")
        elif kind == "decimal" and (decimal_digits(dtype) or MAX_DOUBLE_DIGITS + 1) <= MAX_DOUBLE_DIGITS:
            selects[name] = j.as_double(quoted)
            whole.append(name)
    return PageCasts(selects, tuple(extras), tuple(restore), tuple(whole))
