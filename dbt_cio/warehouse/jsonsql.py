"""The SQL vocabulary for JSON in one warehouse: dbt-cio's dispatched macros, rendered once, as fill-in templates.

:meth:`JsonSql.render` calls dbt-cio's ``sql_templates`` macro once (``dbt_cio/macros/templates.sql``):
it applies every dispatched macro of ``values.sql`` and ``checks.sql`` to a placeholder, so what comes back is
this warehouse's SQL for each (a project's ``dispatch:`` overrides included). Filling a template is then a
string replacement: no macro runs per column or per sync, and nothing here needs a connection, so the SQL
can also be rendered for warehouses nobody can reach (golden files).

A column's *kind* (:data:`Kind`) says which template writes its JSON; :func:`column_kind` reads it from the
type the adapter reports (dbt's ``Column.dtype``). Kinds dbt-cio does not render in SQL (nested values,
blobs, intervals, times of day, enums...) are ``other``: the payload layer sends rows holding such a value
through the Python mapper.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dbt_cio.warehouse.dialect import Dialect

__all__ = ["EXACT_ADAPTERS", "KINDS", "PLACEHOLDER", "JsonSql", "Kind", "column_kind", "decimal_digits"]

Kind = Literal[
    "text", "integer", "decimal", "double", "float4", "boolean", "timestamp", "date", "uuid", "json", "other"
]
KINDS: tuple[Kind, ...] = (
    "text", "integer", "decimal", "double", "float4", "boolean", "timestamp", "date", "uuid", "json", "other",
)  # fmt: skip

PLACEHOLDER = "__cio_x__"
"""Stands for the value in every template; replaced by a SQL expression."""
TEMPLATES_MACRO = "sql_templates"

EXACT_ADAPTERS = frozenset({"duckdb", "postgres"})
"""Where the rendered JSON is never shorter than Python's: strings escaped as ``json.dumps`` escapes them,
numbers in Python's repr (DuckDB) or in as many digits or more (PostgreSQL writes some doubles with 17 digits
where the repr needs fewer: the same double, longer), JSON columns as stored (Python writes them compact).
Checked by the golden tests on the real warehouses (tests/test_rendered.py). So an item within a size limit
as rendered is within it as Python writes it. Elsewhere number texts may be shorter than Python's, so size
limits keep a margin (see :mod:`dbt_cio.payloads.rendered`)."""

_DECIMAL = re.compile(r"(decimal|numeric|number|bignumeric)\s*(\(\s*(\d+)\s*(,\s*(\d+)\s*)?\))?")
_INTEGERS = frozenset({
    "tinyint", "smallint", "integer", "int", "bigint", "hugeint", "utinyint", "usmallint", "uinteger", "ubigint",
    "uhugeint", "int1", "int2", "int4", "int8", "int16", "int32", "int64", "byteint", "long", "short", "byte",
})  # fmt: skip
_TEXT = frozenset({"varchar", "character varying", "text", "string", "nvarchar"})  # not char(n): padded
_TIMESTAMPS = frozenset({
    "timestamp", "timestamp without time zone", "timestamp with time zone", "timestamptz", "datetime",
    "timestamp_ns", "timestamp_ms", "timestamp_s", "timestamp_us", "timestamp_ntz", "timestamp_ltz",
    "timestamp_tz",
})  # fmt: skip
_DOUBLES = frozenset({"double", "double precision", "float8", "float64"})
# 4-byte floats; "float" is 4 bytes on DuckDB and Spark, 8 on PostgreSQL, Snowflake and Redshift
_FLOAT4 = frozenset({"real", "float4"})
_FLOAT_IS_4 = frozenset({"duckdb", "spark", "databricks"})
_DOUBLE_TYPE = {"postgres": "double precision", "redshift": "double precision", "bigquery": "float64"}
"""The 8-byte float's name where it is not ``double``."""


def column_kind(adapter_type: str, dtype: str) -> Kind:
    """The kind of a column of ``dtype`` (as the adapter reports it) on ``adapter_type``."""
    name = " ".join(dtype.strip().lower().split())
    base = re.sub(r"\s*\(.*\)\s*$", "", name)  # varchar(20) -> varchar; decimal(38,10) keeps its match below
    if base in _TEXT:
        return "text"
    if base in _INTEGERS:
        return "integer"
    decimal = _DECIMAL.fullmatch(name)
    if decimal is not None:
        scale = decimal.group(5)
        if decimal.group(2) is not None and (scale is None or int(scale) == 0):
            return "integer"  # decimal(p) and decimal(p, 0): whole numbers, written as integers by Python
        return "decimal"
    if base in _DOUBLES or (base == "float" and adapter_type not in _FLOAT_IS_4):
        return "double"
    if base in _FLOAT4 or base == "float":
        return "float4"
    if base in ("boolean", "bool"):
        return "boolean"
    if base in _TIMESTAMPS:
        return "timestamp"
    if base == "date":
        return "date"
    if base == "uuid":
        return "uuid"
    if base in ("json", "jsonb") and adapter_type in ("duckdb", "postgres"):
        return "json"  # other drivers hand JSON back as text, or parse it their own way: left to Python
    return "other"


def decimal_digits(dtype: str) -> int | None:
    """The precision of a ``decimal(p, s)`` / ``numeric(p, s)`` type (``p``), None when it states none."""
    found = _DECIMAL.fullmatch(" ".join(dtype.strip().lower().split()))
    return None if found is None or found.group(3) is None else int(found.group(3))


_SIMPLE = re.compile(r'[\w."]+')


@dataclass(frozen=True)
class JsonSql:
    """One warehouse's SQL for JSON values and row checks (see the module docstring).

    Every method returns SQL text; ``expr`` arguments are SQL expressions (a quoted column, a key text...).
    """

    dialect: Dialect
    templates: Mapping[str, str]

    @classmethod
    def render(cls, dialect: Dialect, call_macro: Callable[..., Any]) -> JsonSql:
        """Render the templates: ``call_macro(name, package, **kwargs)`` calls one macro of a package
        (:meth:`dbt_cio.warehouse.session.WarehouseSession.call_macro`). Raises what the macro raises, e.g.
        on a warehouse dbt-cio has no SQL for (its ``default__`` variants refuse)."""
        from dbt_cio.warehouse.macros import PACKAGE

        out = call_macro(TEMPLATES_MACRO, PACKAGE, x=PLACEHOLDER)
        if not isinstance(out, Mapping):
            raise TypeError(f"{PACKAGE}.{TEMPLATES_MACRO} returned {type(out).__name__}, not a mapping")
        return cls(dialect, {str(k): " ".join(str(v).split()) for k, v in out.items()})

    @classmethod
    def render_if_available(cls, dialect: Dialect, call_macro: Callable[..., Any]) -> JsonSql | None:
        """:meth:`render`, or None where dbt-cio has no SQL for this warehouse (a ``default__`` variant refused):
        there the Python mapper builds every payload."""
        from dbt_common.exceptions import DbtBaseException

        try:
            return cls.render(dialect, call_macro)
        except DbtBaseException:
            return None

    @property
    def exact(self) -> bool:
        """Whether rendered JSON is never shorter than Python's here (:data:`EXACT_ADAPTERS`)."""
        return self.dialect.adapter_type in EXACT_ADAPTERS

    def fill(self, name: str, expr: str) -> str:
        """Template ``name`` applied to ``expr`` (parenthesised unless it is a plain name)."""
        value = expr if _SIMPLE.fullmatch(expr) else f"({expr})"
        return self.templates[name].replace(PLACEHOLDER, value)

    # -- JSON texts (never NULL) ----------------------------------------------------------------------

    def value(self, expr: str, kind: Kind) -> str:
        """The JSON text of a value of ``kind``, as Python's ``to_json`` writes it (``null`` for ``other``:
        such values are left to Python by the caller)."""
        if kind in ("text", "uuid"):
            return self.fill("json_string", expr)
        if kind == "integer":
            return self.fill("json_integer", expr)
        if kind == "decimal":
            return self.fill("json_decimal", expr)
        if kind == "double":
            return self.fill("json_double", expr)
        if kind == "float4":
            return self.fill("json_float4", expr)
        if kind == "boolean":
            return self.fill("json_boolean", expr)
        if kind == "json":
            return self.fill("json_raw", expr)
        seconds = self.seconds(expr, kind, epoch=False)
        if seconds is not None:
            return f"coalesce({self.as_string(seconds)}, 'null')"
        return "'null'"

    def string(self, expr: str) -> str:
        """The JSON string of a text expression (``null`` when NULL)."""
        return self.fill("json_string", expr)

    # -- other expressions ----------------------------------------------------------------------------

    def seconds(self, expr: str, kind: Kind, *, epoch: bool = True) -> str | None:
        """Unix seconds of a timestamp or date (or, with ``epoch``, of an integer epoch as Python's
        ``to_unix_seconds`` reads it), NULL for NULL; None for kinds without a conversion here."""
        if kind == "timestamp":
            return self.fill("unix_seconds_timestamp", expr)
        if kind == "date":
            return self.fill("unix_seconds_date", expr)
        if kind == "integer" and epoch:
            return self.fill("unix_seconds_epoch", expr)
        return None

    def utf8_length(self, expr: str) -> str:
        return self.fill("utf8_length", expr)

    def utf8_longer(self, expr: str, limit: int) -> str:
        """Whether a text's UTF-8 length is over ``limit`` bytes: measured exactly only when the warehouse's cheap
        bound (``utf8_length_bound``, a quarter of the UTF-8 length at least) does not rule it out."""
        exact = f"{self.utf8_length(expr)} > {int(limit)}"
        if not self.templates.get("utf8_length_bound", "").strip():
            return exact
        return f"({self.fill('utf8_length_bound', expr)} > {int(limit) // 4} and {exact})"

    def has_visible_ascii(self, expr: str) -> str:
        return self.fill("has_visible_ascii", expr)

    def is_ascii(self, expr: str) -> str:
        return self.fill("is_ascii", expr)

    def as_string(self, expr: str) -> str:
        return self.dialect.as_string(expr)

    def as_double(self, expr: str) -> str:
        """``expr`` cast to the warehouse's 8-byte float."""
        return f"cast({expr} as {_DOUBLE_TYPE.get(self.dialect.adapter_type, 'double')})"

    def literal(self, text: str) -> str:
        return self.dialect.literal(text)

    def concat(self, parts: Sequence[str]) -> str:
        return self.dialect.concat(list(parts))
