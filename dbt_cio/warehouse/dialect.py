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

#: adapter type -> what follows ``create table <name>`` for our own tables (Spark: parquet, not Hive text)
_TABLE_OPTIONS = {"spark": "using parquet"}
#: adapters whose ``alter table ... rename to`` takes a qualified new name (others want the bare name)
_RENAME_QUALIFIED = frozenset({"spark", "databricks", "snowflake"})
#: adapter type -> a statement listing a schema's tables by name, ``{schema}`` the rendered schema
_LIST_TABLES = {"spark": "show tables in {schema}"}


@dataclass(frozen=True)
class Dialect:
    """The few SQL fragments that differ between warehouses, and what the warehouse can do.

    ``hash_parts``/``concat_parts`` are (prefix, separator, suffix) around the arguments, found by rendering
    the macro with placeholder arguments; ``indexes`` is True where an index makes keyed lookups in state
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
    list_tables: str = ""

    @classmethod
    def render(cls, adapter_type: str, macro: Callable[..., str]) -> Dialect:
        """Build the dialect by calling ``macro(name, **kwargs)``, which renders one dbt macro."""
        hashed = macro("hash", field=_A).strip()
        concat = macro("concat", fields=[_A, _B]).strip()
        escaped = macro("escape_single_quotes", expression=_PROBE).strip()
        head, tail = hashed.split(_A, 1)
        c_head, rest = concat.split(_A, 1)
        c_sep, c_tail = rest.split(_B, 1)
        transactions, row_dml = CAPABILITIES.get(adapter_type, (False, False))
        return cls(
            adapter_type=adapter_type,
            string_type=macro("type_string").strip(),
            bigint_type=macro("type_bigint").strip(),
            timestamp_type=macro("type_timestamp").strip(),
            now=macro("current_timestamp").strip(),
            hash_parts=(head, tail),
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
