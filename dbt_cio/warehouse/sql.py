"""SQL text for dbt-cio's state, diffs and bookkeeping: pure builders, no I/O.

Dialect differences come from one place, :class:`Dialect`, whose fragments are rendered once per run by
dbt's own cross-database macros (``dbt.hash``, ``dbt.concat``, ``dbt.type_string``, ``dbt.type_bigint``,
``dbt.type_timestamp``, ``dbt.current_timestamp``, ``dbt.escape_single_quotes``) through the user's
adapter, so a project's own dispatch overrides apply too. Everything else is plain SQL that DuckDB,
Postgres, Snowflake, BigQuery, Redshift and Databricks all accept: ``create table if not exists``,
``create table ... as``, ``full outer join``, ``row_number() over``, multi-row ``values``, ``limit``.

Keys and hashes
    The *key text* of a row is its key column cast to the dialect's string type; a composite key joins
    its columns' texts with U+001F (the ASCII unit separator). A key value that itself contains U+001F
    could collide with another; such a collision can never be synced silently, because duplicates are
    counted on the key text and fail the sync. The *hash* is ``dbt.hash`` (md5) over the value columns,
    each cast to string with NULL as U+001E and joined with U+001F, in the sync's column order: null-safe
    and order-stable. With no value columns (collections) the hash is a constant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KEY_SEPARATOR = "\x1f"
"""Joins the texts of a composite key's columns (and the hashed values)."""
NULL_MARKER = "\x1e"
"""Stands for NULL in the hashed values."""

_A, _B = "__cio_a__", "__cio_b__"
_PROBE = "a'b\\c"


@dataclass(frozen=True)
class Dialect:
    """The few SQL fragments that differ between warehouses, rendered by dbt's cross-database macros.

    ``hash_parts``/``concat_parts`` are (prefix, separator, suffix) around the arguments, found by rendering
    the macro with placeholder arguments; ``indexes`` is True where an index makes keyed lookups in state
    and diff tables cheap (Postgres) and harmless.
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

    @classmethod
    def render(cls, adapter_type: str, macro: Callable[..., str]) -> Dialect:
        """Build the dialect by calling ``macro(name, **kwargs)``, which renders one dbt macro."""
        hashed = macro("hash", field=_A).strip()
        concat = macro("concat", fields=[_A, _B]).strip()
        escaped = macro("escape_single_quotes", expression=_PROBE).strip()
        head, tail = hashed.split(_A, 1)
        c_head, rest = concat.split(_A, 1)
        c_sep, c_tail = rest.split(_B, 1)
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


# -- table definitions ---------------------------------------------------------------------------------

Columns = Sequence[tuple[str, str]]


def state_columns(d: Dialect, key_count: int) -> list[tuple[str, str]]:
    """One row per synced key: its text, the text of each key column, the hash of what was sent, when."""
    s = d.string_type
    return [("_cio_key", s), *((f"_cio_k{i}", s) for i in range(key_count)), ("_cio_hash", s),
            ("_cio_synced_at", d.timestamp_type), ("_cio_run_id", s)]  # fmt: skip


def runs_columns(d: Dialect) -> list[tuple[str, str]]:
    s, n = d.string_type, d.bigint_type
    counts = [(name, n) for name in RUN_COUNTS]
    return [("run_id", s), ("sync_name", s), ("started_at", d.timestamp_type), ("finished_at", d.timestamp_type),
            ("outcome", s), ("error", s), *counts, ("other_counts", s)]  # fmt: skip


RUN_COUNTS = ("added", "changed", "removed", "null_keys", "sent", "accepted", "rejected")
"""The counts a run records in columns of its own; any other count goes to ``other_counts`` as JSON."""


def rejections_columns(d: Dialect) -> list[tuple[str, str]]:
    """One row per rejected key per run: ``sync_key`` as in state, ``key_display`` as a person reads it,
    and how many runs in a row the key has been rejected."""
    s = d.string_type
    return [("run_id", s), ("sync_name", s), ("sync_key", s), ("reason", s), ("field", s),
            ("rejected_at", d.timestamp_type), ("key_display", s), ("consecutive_runs", d.bigint_type)]  # fmt: skip


def locks_columns(d: Dialect) -> list[tuple[str, str]]:
    s, n = d.string_type, d.bigint_type
    return [("sync_name", s), ("token", s), ("run_id", s), ("host", s), ("pid", n),
            ("acquired_ms", n), ("heartbeat_ms", n)]  # fmt: skip


def meta_columns(d: Dialect) -> list[tuple[str, str]]:
    s = d.string_type
    return [("sync_name", s), ("meta_key", s), ("meta_value", s), ("updated_at", d.timestamp_type)]


def acks_columns(d: Dialect) -> list[tuple[str, str]]:
    """Acknowledged diff rows, as inclusive ranges of ``_cio_seq``."""
    return [("_cio_lo", d.bigint_type), ("_cio_hi", d.bigint_type)]


def create_table(relation: str, columns: Columns) -> str:
    body = ",\n    ".join(f"{name} {type_}" for name, type_ in columns)
    return f"create table if not exists {relation} (\n    {body}\n)"


def add_column(relation: str, name: str, type_: str) -> str:
    """Add a column to one of our tables (a table written by an earlier version of dbt-cio)."""
    return f"alter table {relation} add column {name} {type_}"


def count_rows(relation: str) -> str:
    return f"select count(*) from {relation}"


def drop_table(relation: str) -> str:
    return f"drop table if exists {relation}"


def insert_values(d: Dialect, relation: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A multi-row ``insert ... values``; values that are already SQL are wrapped in :class:`Raw`."""
    rendered = ",\n    ".join(
        "(" + ", ".join(v.sql if isinstance(v, Raw) else d.literal(v) for v in row) + ")" for row in rows
    )
    return f"insert into {relation} ({', '.join(columns)}) values\n    {rendered}"


@dataclass(frozen=True)
class Raw:
    """A value that is SQL already (e.g. the dialect's ``now``), inserted as is."""

    sql: str


# -- the diff ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffColumns:
    """The model's columns a sync reads, quoted for SQL, in order: key columns first, then value columns."""

    keys: tuple[str, ...]
    values: tuple[str, ...]
    null_safe: bool = False
    """True when a null is a legitimate key value (collections, keyed by whole rows): it is then keyed as
    U+001E instead of leaving the row out as having no key."""


def key_text(d: Dialect, keys: Sequence[str], null_safe: bool = False) -> str:
    texts = [d.as_string(k) for k in keys]
    if null_safe:
        texts = [f"coalesce({t}, {d.literal(NULL_MARKER)})" for t in texts]
    if len(texts) == 1:
        return texts[0]
    joined: list[str] = []
    for i, text in enumerate(texts):
        if i:
            joined.append(d.literal(KEY_SEPARATOR))
        joined.append(text)
    return d.concat(joined)


def value_hash(d: Dialect, values: Sequence[str]) -> str:
    if not values:
        return d.hash(d.literal("-"))
    parts: list[str] = []
    for i, column in enumerate(values):
        if i:
            parts.append(d.literal(KEY_SEPARATOR))
        parts.append(f"coalesce({d.as_string(column)}, {d.literal(NULL_MARKER)})")
    return d.hash(d.concat(parts))


def has_key(cols: DiffColumns) -> str:
    """The condition for a row to take part in the diff: every key column set (unless nulls are keys)."""
    if cols.null_safe:
        return "1 = 1"
    return " and ".join(f"{k} is not null" for k in cols.keys)


def any_null(keys: Sequence[str]) -> str:
    return " or ".join(f"{k} is null" for k in keys)


def duplicate_keys(d: Dialect, relation: str, cols: DiffColumns, sample: int = 5) -> str:
    """The first ``sample`` duplicated key texts, each with the total number of duplicated keys."""
    return (
        f"select _cio_key, count(*) over () as _cio_dups from (\n"
        f"    select _cio_key from (\n"
        f"        select {key_text(d, cols.keys, cols.null_safe)} as _cio_key from {relation} where {has_key(cols)}\n"
        f"    ) keyed group by _cio_key having count(*) > 1\n"
        f") dups order by _cio_key limit {int(sample)}"
    )


def null_keys(relation: str, cols: DiffColumns) -> str:
    return f"select count(*) from {relation} where {any_null(cols.keys)}"


def null_key_sample(relation: str, cols: DiffColumns, sample: int = 5) -> str:
    return f"select {', '.join((*cols.keys, *cols.values))} from {relation} where {any_null(cols.keys)} limit {int(sample)}"


def create_diff(d: Dialect, diff: str, relation: str, state: str, cols: DiffColumns) -> str:
    """Materialise the diff: one row per added, changed or removed key, numbered by key in ``_cio_seq``.

    Step 1 (``src``): key text, value hash and key texts of every model row with a complete key.
    Step 2: full outer join with the state on the key text: no state row means *added*, no model row means
    *removed*, a different hash means *changed*; equal hashes drop out. Removed rows keep their key
    texts from state; the model's own columns are null for them.
    Step 3: number the rows by key so that readers can page through them by ``_cio_seq`` ranges.
    """
    n = len(cols.keys)
    key_texts = ", ".join(f"{d.as_string(k)} as _cio_k{i}" for i, k in enumerate(cols.keys))
    model_cols = (*cols.keys, *cols.values)
    src_cols = ", ".join(model_cols)
    merged_keys = ", ".join(f"coalesce(src._cio_k{i}, st._cio_k{i}) as _cio_k{i}" for i in range(n))
    st_keys = ", ".join(f"_cio_k{i}" for i in range(n))
    out_cols = ", ".join(f"src.{c} as {c}" for c in model_cols)
    return f"""create table {diff} as
with src as (
    select {key_text(d, cols.keys, cols.null_safe)} as _cio_key, {value_hash(d, cols.values)} as _cio_hash, {key_texts}, {src_cols}
    from {relation}
    where {has_key(cols)}
),
st as (
    select _cio_key, _cio_hash, {st_keys} from {state}
),
changes as (
    select
        case when st._cio_key is null then 'added' when src._cio_key is null then 'removed' else 'changed' end
            as _cio_change,
        coalesce(src._cio_key, st._cio_key) as _cio_key,
        src._cio_hash as _cio_hash,
        {merged_keys},
        {out_cols}
    from src full outer join st on src._cio_key = st._cio_key
    where st._cio_key is null or src._cio_key is null or src._cio_hash <> st._cio_hash
)
select row_number() over (order by _cio_key) as _cio_seq, changes.*
from changes
order by _cio_seq"""


def create_snapshot(d: Dialect, table: str, relation: str, cols: Sequence[str], keys: Sequence[str]) -> str:
    """Every row of the model, numbered by key text for paging (collections read whole models)."""
    return (
        f"create table {table} as\n"
        f"select row_number() over (order by {key_text(d, keys, null_safe=True)}) as _cio_seq, {', '.join(cols)}\n"
        f"from {relation}\norder by _cio_seq"
    )


def diff_counts(diff: str) -> str:
    return f"select _cio_change, count(*) from {diff} group by _cio_change"


def page(table: str, columns: Sequence[str], after: int, size: int) -> str:
    """One page of a numbered table: rows with ``after < _cio_seq <= after + size``, in order."""
    return (
        f"select {', '.join(columns)} from {table} "
        f"where _cio_seq > {int(after)} and _cio_seq <= {int(after) + int(size)} order by _cio_seq"
    )


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """The inclusive ranges that cover exactly the given sequence numbers, in order, merged.

    Acknowledgements arrive a batch at a time, and a batch is a run of consecutive diff rows, so a few
    ranges stand for thousands of acknowledged rows.
    """
    if isinstance(seqs, range) and seqs.step == 1:
        return [(seqs.start, seqs.stop - 1)] if len(seqs) else []
    ordered = iter(sorted(set(seqs)))
    first = next(ordered, None)
    if first is None:
        return []
    ranges: list[tuple[int, int]] = []
    lo = hi = first
    for seq in ordered:
        if seq == hi + 1:
            hi = seq
            continue
        ranges.append((lo, hi))
        lo = hi = seq
    ranges.append((lo, hi))
    return ranges


def stage_ranges(
    d: Dialect, acks: str, ranges: Sequence[tuple[int, int]], per_statement: int = 1000
) -> list[str]:
    """Statements that insert ``(lo, hi)`` ranges of acknowledged ``_cio_seq`` into the acks table."""
    return [
        insert_values(d, acks, ["_cio_lo", "_cio_hi"], ranges[i : i + per_statement])
        for i in range(0, len(ranges), per_statement)
    ]


def _acked_rows(acks: str, diff: str, lo: int, hi: int) -> str:
    # The outer bound lets the warehouse skip the rest of the diff (index, zone maps, partition pruning).
    return (
        f"from {diff} d join {acks} a on d._cio_seq between a._cio_lo and a._cio_hi\n"
        f"where d._cio_seq between {int(lo)} and {int(hi)}"
    )


def commit_delete(state: str, acks: str, diff: str, lo: int, hi: int) -> str:
    """Acknowledged keys leave the state (removed ones for good; added/changed ones to be re-inserted)."""
    return (
        f"delete from {state} where _cio_key in (\n    select d._cio_key {_acked_rows(acks, diff, lo, hi)}\n)"
    )


def commit_insert(
    d: Dialect, state: str, acks: str, diff: str, key_count: int, run_id: str | None, lo: int, hi: int
) -> str:
    """Acknowledged added/changed keys become current, with the hash the diff computed for them."""
    keys = ", ".join(f"d._cio_k{i}" for i in range(key_count))
    names = ", ".join(f"_cio_k{i}" for i in range(key_count))
    return (
        f"insert into {state} (_cio_key, {names}, _cio_hash, _cio_synced_at, _cio_run_id)\n"
        f"select d._cio_key, {keys}, d._cio_hash, {d.now}, {d.literal(run_id)}\n"
        f"{_acked_rows(acks, diff, lo, hi)} and d._cio_change in ('added', 'changed')"
    )


def index(table: str, name: str, column: str) -> str:
    return f"create index if not exists {name} on {table} ({column})"


def probe_columns(relation: str) -> str:
    """No rows, only the column names of a relation (read from the cursor description)."""
    return f"select * from {relation} where 1 = 0"


def update(relation: str, assignments: Mapping[str, str], where: str) -> str:
    sets = ", ".join(f"{col} = {sql}" for col, sql in assignments.items())
    return f"update {relation} set {sets} where {where}"
