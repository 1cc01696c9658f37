"""What differs between warehouses, in one place: SQL fragments rendered by dbt's macros, and capabilities.

The fragments (string/bigint/timestamp types, ``now``, ``hash``, ``concat``, how quotes are escaped) are
rendered once per run by dbt's own cross-database macros (``dbt.type_string``, ``dbt.hash``, ...) through
the user's adapter, so a project's own dispatch overrides apply too.

The capabilities say which statements the state layer may rely on:

``transactions``
    Several statements can be made atomic (``begin`` ... ``commit``). DuckDB, PostgreSQL, Snowflake and
    Redshift can. dbt-spark and dbt-databricks have no multi-statement transactions; dbt-bigquery runs
    every statement on its own.
``row_dml``
    ``delete`` and ``update`` work on dbt-cio's own tables. Spark's default (parquet/Hive) tables have no
    DELETE, UPDATE or MERGE; Databricks (Delta) and BigQuery have them, at a price per statement.
``list_tables``
    A statement that lists the names of a schema's tables, where it is much cheaper than the adapter's
    own listing: dbt-spark lists relations with ``show table extended``, which reads every table's
    metadata (seconds for a state schema of a few dozen tables); ``show tables`` reads names only.
    Empty: the adapter's listing is used.

Adapters not listed below are assumed to have neither: the portable, append-only path (see
:mod:`dbt_cio.warehouse.state`) needs only ``create table``, ``insert``, ``select``, ``drop table`` and
``alter table ... rename``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CAPABILITIES", "Dialect"]

_A, _B = "__cio_a__", "__cio_b__"
_PROBE = "a'b\\c"

#: adapter type -> (transactions, row_dml)
CAPABILITIES: dict[str, tuple[bool, bool]] = {
    "duckdb": (True, True),
    "postgres": (True, True),
    "redshift": (True, True),
    "snowflake": (True, True),
    "bigquery": (False, True),
    "databricks": (False, True),
    "spark": (False, False),
}

#: adapter type -> the string type of dbt-cio's own columns and casts where dbt's ``type_string`` is too narrow:
#: Redshift makes ``TEXT`` a VARCHAR(256), too short for rejection reasons and run errors (up to 2,000
#: characters), long composite keys, and the values of a row joined to be hashed (dbt's ``hash`` casts its
#: argument to ``TEXT`` too, so a wide row would not fit).
_WIDE_STRING = {"redshift": "varchar(65535)"}
#: adapter type -> what follows ``create table <name>`` for our own tables (Spark: parquet, not Hive text)
_TABLE_OPTIONS = {"spark": "using parquet"}
#: adapters whose ``alter table ... rename to`` takes a qualified new name (others want the bare name)
_RENAME_QUALIFIED = frozenset({"spark", "databricks", "snowflake"})
#: adapter type -> a statement listing a schema's tables by name, ``{schema}`` the rendered schema
_LIST_TABLES = {"spark": "show tables in {schema}"}


@dataclass(frozen=True)
class Dialect:
    """The few SQL fragments that differ between warehouses, and what the warehouse can do.

    ``hash_parts``/``concat_parts``/``days_from_now_parts`` are (prefix, separator, suffix) around the
    arguments, found by rendering the macro with placeholder arguments; ``indexes`` is True where an index makes keyed lookups in state
    and diff tables cheap (Postgres) and harmless. See the module docstring for ``transactions``,
    ``row_dml`` and ``list_tables``; ``table_options`` follow ``create table <name>`` for our own tables.
    """

    adapter_type: str
    string_type: str
    bigint_type: str
    timestamp_type: str
    now: str
    hash_parts: tuple[str, str]
    concat_parts: tuple[str, str, str]
    backslash_escapes: bool
    indexes: bool
    transactions: bool = True
    row_dml: bool = True
    table_options: str = ""
    days_from_now_parts: tuple[str, str] = ("(current_timestamp + interval '1 day' * (", "))")
    list_tables: str = ""

    @classmethod
    def render(cls, adapter_type: str, macro: Callable[..., str]) -> Dialect:
        """Build the dialect by calling ``macro(name, **kwargs)``, which renders one dbt macro."""
        hashed = macro("hash", field=_A).strip()
        concat = macro("concat", fields=[_A, _B]).strip()
        escaped = macro("escape_single_quotes", expression=_PROBE).strip()
        head, tail = hashed.split(_A, 1)
        now = macro("current_timestamp").strip()
        shifted = macro("dateadd", datepart="day", interval=_A, from_date_or_timestamp=now).strip()
        d_head, d_tail = shifted.split(_A, 1)
        c_head, rest = concat.split(_A, 1)
        c_sep, c_tail = rest.split(_B, 1)
        transactions, row_dml = CAPABILITIES.get(adapter_type, (False, False))
        string_type = macro("type_string").strip()
        wide = _WIDE_STRING.get(adapter_type)
        if wide is not None:
            head, tail = (
                head.replace(f" {string_type})", f" {wide})"),
                tail.replace(f" {string_type})", f" {wide})"),
            )
            string_type = wide
        return cls(
            adapter_type=adapter_type,
            string_type=string_type,
            bigint_type=macro("type_bigint").strip(),
            timestamp_type=macro("type_timestamp").strip(),
            now=now,
            hash_parts=(head, tail),
            days_from_now_parts=(d_head, d_tail),
            concat_parts=(c_head, c_sep, c_tail),
            backslash_escapes="\\'" in escaped,
            indexes=adapter_type == "postgres",
            transactions=transactions,
            row_dml=row_dml,
            table_options=_TABLE_OPTIONS.get(adapter_type, ""),
            list_tables=_LIST_TABLES.get(adapter_type, ""),
        )

    def hash(self, expression: str) -> str:
        return f"{self.hash_parts[0]}{expression}{self.hash_parts[1]}"

    def concat(self, parts: Sequence[str]) -> str:
        if len(parts) == 1:
            return parts[0]
        head, sep, tail = self.concat_parts
        return f"{head}{sep.join(parts)}{tail}"

    def days_from_now(self, days: int) -> str:
        """The time ``days`` days from now (negative: ago), by dbt's ``dateadd`` macro."""
        return f"{self.days_from_now_parts[0]}{int(days)}{self.days_from_now_parts[1]}"

    def as_string(self, expression: str) -> str:
        return f"cast({expression} as {self.string_type})"

    def literal(self, value: Any) -> str:
        """A SQL literal for a Python value: NULL, an integer, or an escaped string."""
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, int):
            return str(value)
        text = str(value)
        if self.backslash_escapes:
            return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + text.replace("'", "''") + "'"

    def rename_table(self, relation: str, new_relation: str, new_identifier: str) -> str:
        """``alter table ... rename to ...`` as this warehouse wants it (qualified new name, or bare)."""
        target = new_relation if self.adapter_type in _RENAME_QUALIFIED else new_identifier
        return f"alter table {relation} rename to {target}"
