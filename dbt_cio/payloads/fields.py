"""The fields of an item rendered in SQL, and the flags that leave a row to the Python mapper.

:class:`Json` is JSON text under construction: literal pieces (the same for every row: braces, keys,
constants, written by Python's own encoder) and SQL expressions (a value's JSON text per row, from
:class:`~dbt_cio.warehouse.jsonsql.JsonSql`), concatenated by the warehouse. :class:`Fields` writes the
fields every sync type shares, each with its *flags* (SQL conditions under which the row goes through Python,
see :mod:`dbt_cio.payloads.shapes`): identifiers as Python's ``identifier_text`` reads them, attribute values
as ``to_json`` writes them, instants as ``to_unix_seconds`` reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbt_cio.contract.model import Sync
from dbt_cio.customerio.limits import (
    MAX_ATTRIBUTE_NAME_BYTES,
    MAX_ATTRIBUTE_VALUE_BYTES,
    MAX_ATTRIBUTES,
    MAX_ID_BYTES,
)
from dbt_cio.warehouse.jsonsql import JsonSql, Kind

__all__ = ["ALWAYS", "NEVER", "Column", "Fields", "Json", "attribute_problem", "dumps", "id_limit", "obj"]

ALWAYS = "1 = 1"
NEVER = "1 = 0"
_NUMERIC: frozenset[Kind] = frozenset({"double", "float4", "decimal"})


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Column:
    """A column as the page query reads it: the name the block uses, its SQL (quoted), its kind."""

    name: str
    sql: str
    kind: Kind


class Json:
    """JSON text under construction: literal JSON (the same for every row) and SQL expressions (per row)."""

    def __init__(self) -> None:
        self.parts: list[tuple[bool, str]] = []  # (is literal, text)

    @classmethod
    def of(cls, value: Any) -> Json:
        """A constant: ``value`` written as Python's compact JSON."""
        return cls().lit(dumps(value))

    def lit(self, text: str) -> Json:
        if self.parts and self.parts[-1][0]:
            self.parts[-1] = (True, self.parts[-1][1] + text)
        elif text:
            self.parts.append((True, text))
        return self

    def sql(self, expr: str) -> Json:
        self.parts.append((False, expr))
        return self

    def add(self, other: Json) -> Json:
        for is_literal, text in other.parts:
            if is_literal:
                self.lit(text)
            else:
                self.sql(text)
        return self

    def render(self, j: JsonSql) -> str:
        """The SQL expression of the whole text."""
        pieces = [j.literal(text) if is_literal else text for is_literal, text in self.parts]
        return pieces[0] if len(pieces) == 1 else j.concat(pieces)


def obj(fields: Mapping[str, Json]) -> Json:
    """A JSON object of the given fields, in order."""
    out = Json().lit("{")
    for i, (key, value) in enumerate(fields.items()):
        out.lit(("," if i else "") + dumps(key) + ":").add(value)
    return out.lit("}")


@dataclass
class Fields:
    """The columns of one sync's rows and the SQL vocabulary, with the helpers every type shares."""

    def __init__(self, sync: Sync, j: JsonSql, columns: Mapping[str, Column], *, now: int):
        self.sync = sync
        self.j = j
        self.columns = columns
        self.now = now
        self.numeric_fields = 0

    def col(self, name: str | None) -> Column:
        assert name is not None
        return self.columns[name]

    @staticmethod
    def key(i: int, name: str) -> Column:
        """Key column ``i`` of a removed row: its text, from state."""
        return Column(name, f"_cio_k{i}", "text")

    # -- identifiers ------------------------------------------------------------------------------

    def ident_text(self, c: Column) -> tuple[str, list[str]]:
        """The text Python's ``identifier_text`` makes of a value (SQL), and the flags that leave the row to
        Python (null, blank, or not a kind written here)."""
        j, x = self.j, c.sql
        if c.kind == "text":
            return x, [f"{x} is null or not ({j.has_visible_ascii(x)})"]
        if c.kind in ("integer", "uuid"):
            return j.as_string(x), [f"{x} is null"]
        if c.kind == "decimal":
            digits = j.fill("decimal_integer_text", x)
            return digits, [f"{digits} is null"]
        return "null", [ALWAYS]

    def identifier(self, c: Column, max_bytes: int | None) -> tuple[Json, list[str]]:
        """The JSON string of an identifier, and its flags (its byte length too, with ``max_bytes``)."""
        text, flags = self.ident_text(c)
        if c.kind == "text":
            value = Json().sql(self.j.string(c.sql))
            if max_bytes is not None:
                flags.append(f"{c.sql} is not null and {self.j.utf8_longer(c.sql, max_bytes)}")
        else:  # digits or a uuid: nothing to escape
            value = Json().lit('"').sql(text).lit('"')
        return value, flags

    def optional_identifier(self, c: Column | None) -> tuple[str, Json, list[str]]:
        """``(present, JSON, flags)`` of an identifier that may be missing (an event's person or anonymous
        id): ``present`` is the SQL condition that the row has one."""
        if c is None:
            return NEVER, Json.of(None), []
        j, x = self.j, c.sql
        if c.kind == "text":
            return (f"{x} is not null and {j.has_visible_ascii(x)}", Json().sql(j.string(x)),
                    [f"{x} is not null and not ({j.has_visible_ascii(x)})"])  # fmt: skip
        if c.kind in ("integer", "uuid"):
            return f"{x} is not null", Json().lit('"').sql(j.as_string(x)).lit('"'), []
        if c.kind == "decimal":
            digits = j.fill("decimal_integer_text", x)
            return (
                f"{digits} is not null",
                Json().lit('"').sql(digits).lit('"'),
                [f"{x} is not null and {digits} is null"],
            )
        return NEVER, Json.of(None), [f"{x} is not null"]

    # -- values -----------------------------------------------------------------------------------

    def value(self, c: Column, value_limit: int | None) -> tuple[Json, list[str]]:
        """The JSON of an attribute value as Python's ``to_json`` writes it, and its flags; ``value_limit``
        applies the identify attribute checks (texts, and JSON as written, over it go to Python)."""
        j, x, kind = self.j, c.sql, c.kind
        if kind in _NUMERIC:
            self.numeric_fields += 1
        flags: list[str] = []
        if kind == "other":
            flags.append(f"{x} is not null")
        elif kind == "decimal":
            flags.append(f"{x} is not null and {j.fill('decimal_needs_python', x)}")
        elif kind in ("timestamp", "date"):
            flags.append(f"{x} is not null and {j.fill('temporal_needs_python', x)}")
        elif kind == "json":
            too_long = f" or {j.utf8_longer(j.as_string(x), value_limit)}" if value_limit else ""
            flags.append(f"{x} is not null and ({j.fill('json_needs_python', x)}{too_long})")
        elif kind == "text" and value_limit is not None:
            flags.append(f"{x} is not null and {j.utf8_longer(x, value_limit)}")
        return Json().sql(j.value(x, kind)), flags

    def attributes(
        self, attrs: Sequence[tuple[str, str]], *, checked: bool
    ) -> tuple[dict[str, Json], list[str]]:
        """Every mapped attribute's JSON, by name, and their flags (``checked``: an identify's limits)."""
        fields: dict[str, Json] = {}
        flags: list[str] = []
        for name, column in attrs:
            fields[name], more = self.value(self.col(column), MAX_ATTRIBUTE_VALUE_BYTES if checked else None)
            flags += more
        return fields, flags

    def seconds(self, c: Column) -> tuple[str, list[str]]:
        """Unix seconds of a timestamp-like column as Python's ``to_unix_seconds`` reads it (SQL, NULL for
        NULL), and its flags (ISO text, floats and other kinds are parsed by Python)."""
        seconds = self.j.seconds(c.sql, c.kind)
        if seconds is None:
            return "null", [f"{c.sql} is not null"]
        if c.kind in ("timestamp", "date"):
            return seconds, [f"{c.sql} is not null and {self.j.fill('temporal_needs_python', c.sql)}"]
        return seconds, []


def attribute_problem(names: Sequence[str]) -> bool:
    """Whether every identify with these attribute names breaks a limit (too many, or a name too long)."""
    return len(names) > MAX_ATTRIBUTES or any(len(n.encode()) > MAX_ATTRIBUTE_NAME_BYTES for n in names)


def id_limit(id_type: str) -> int | None:
    """The sender checks the length of ``id`` and ``object_id`` identifiers only (``check_item``)."""
    return MAX_ID_BYTES if id_type == "id" else None
