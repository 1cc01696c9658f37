"""SQL text for dbt-cio's state, diffs and bookkeeping: pure builders, no I/O.

Dialect differences come from one place, :class:`~dbt_cio.warehouse.dialect.Dialect`, whose fragments are
rendered once per run by dbt's own cross-database macros through the user's adapter. Everything else is
plain SQL that DuckDB, Postgres, Spark, Snowflake, BigQuery, Redshift and Databricks all accept:
``create table if not exists``, ``create table ... as``, ``full outer join``, ``row_number() over``,
multi-row ``values``, ``limit``, ``union all``. The state's own statements need no ``delete``, ``update``
or ``merge`` (see :mod:`dbt_cio.warehouse.state`); :func:`fold_in_place` is the one that uses them, for
warehouses that have them.

Keys and hashes
    The *key text* of a row is its key column cast to the dialect's string type; a composite key joins
    its columns' texts with U+001F (the ASCII unit separator). A key value that itself contains U+001F
    could collide with another; such a collision can never be synced silently, because duplicates are
    counted on the key text and fail the sync. The *hash* is ``dbt.hash`` (md5) over the value columns,
    each cast to string with NULL as U+001E and joined with U+001F, in the sync's column order: null-safe
    and order-stable. With no value columns (collections) the hash is a constant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbt_cio.warehouse.dialect import Dialect

KEY_SEPARATOR = "\x1f"
"""Joins the texts of a composite key's columns (and the hashed values)."""
NULL_MARKER = "\x1e"
"""Stands for NULL in the hashed values."""
BUCKET_ROWS = 4096
"""Diff rows per ``_cio_bucket``: the ledger's ranges never cross a bucket, so joining the ledger to the diff
is an equality on the bucket plus a range check within it (a hash join), not a join on a range alone, which
warehouses run far slower (DuckDB: 1.1 s of CPU instead of 0.02 s for a million rows)."""

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


def lock_columns(d: Dialect) -> list[tuple[str, str]]:
    """One sync's lock table, append-only: one row per event (``acquire``, ``heartbeat``, ``release``) of
    each process that asked for the lock, times in epoch milliseconds."""
    s, n = d.string_type, d.bigint_type
    return [("token", s), ("run_id", s), ("host", s), ("pid", n), ("event", s), ("at_ms", n)]


def meta_columns(d: Dialect) -> list[tuple[str, str]]:
    """Per-sync key/value pairs, append-only: the row with the highest ``meta_seq`` is the value."""
    s = d.string_type
    return [("sync_name", s), ("meta_key", s), ("meta_value", s), ("updated_at", d.timestamp_type),
            ("meta_seq", d.bigint_type)]  # fmt: skip


def ledger_columns(d: Dialect) -> list[tuple[str, str]]:
    """Acknowledged rows of the current diff, as inclusive ``_cio_seq`` ranges: which run acknowledged them,
    when, and in which of its requests (with the HTTP status of the answer), when there was a request."""
    s, n = d.string_type, d.bigint_type
    return [("_cio_lo", n), ("_cio_hi", n), ("_cio_run_id", s), ("_cio_at", d.timestamp_type),
            ("_cio_request", n), ("_cio_status", n), ("_cio_bucket", n)]  # fmt: skip


def log_columns(d: Dialect) -> list[tuple[str, str]]:
    """The sync log: one row per operation sent (see :mod:`dbt_cio.warehouse.synclog`)."""
    s, n = d.string_type, d.bigint_type
    return [("run_id", s), ("sync_name", s), ("sync_key", s), ("key_display", s), ("action", s), ("outcome", s),
            ("http_status", n), ("reason", s), ("field", s), ("request", n), ("logged_at", d.timestamp_type),
            ("payload", s), ("diff_seq", n)]  # fmt: skip


def create_table(d: Dialect, relation: str, columns: Columns) -> str:
    body = ",\n    ".join(f"{name} {type_}" for name, type_ in columns)
    return f"create table if not exists {relation} (\n    {body}\n){_options(d)}"


def create_table_as(d: Dialect, relation: str, select: str) -> str:
    return f"create table {relation}{_options(d)} as\n{select}"


def _options(d: Dialect) -> str:
    return f" {d.table_options}" if d.table_options else ""


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
    """Materialise the diff (:func:`diff_select`) as the table ``diff``."""
    return create_table_as(d, diff, diff_select(d, relation, state, cols))


def diff_select(d: Dialect, relation: str, state: str, cols: DiffColumns) -> str:
    """The diff: one row per added, changed or removed key, numbered by key in ``_cio_seq``.

    Step 1 (``src``): key text, value hash and key texts of every model row with a complete key.
    Step 2: full outer join with the state on the key text: no state row means *added*, no model row means
    *removed*, a different hash means *changed*; equal hashes drop out. Removed rows keep their key
    texts from state; the model's own columns are null for them.
    Step 3: number the rows by key so that readers can page through them by ``_cio_seq`` ranges, and put
    them in buckets of :data:`BUCKET_ROWS` (``_cio_bucket``) for the ledger's join.
    """
    n = len(cols.keys)
    key_texts = ", ".join(f"{d.as_string(k)} as _cio_k{i}" for i, k in enumerate(cols.keys))
    model_cols = (*cols.keys, *cols.values)
    src_cols = ", ".join(model_cols)
    merged_keys = ", ".join(f"coalesce(src._cio_k{i}, st._cio_k{i}) as _cio_k{i}" for i in range(n))
    st_keys = ", ".join(f"_cio_k{i}" for i in range(n))
    out_cols = ", ".join(f"src.{c} as {c}" for c in model_cols)
    return f"""with src as (
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
),
numbered as (
    select row_number() over (order by _cio_key) as _cio_seq, changes.*
    from changes
)
select cast(floor(_cio_seq / {BUCKET_ROWS}) as {d.bigint_type}) as _cio_bucket, numbered.*
from numbered
order by _cio_seq"""


def create_snapshot(d: Dialect, table: str, relation: str, cols: Sequence[str], keys: Sequence[str]) -> str:
    """Every row of the model, numbered by key text for paging (collections read whole models)."""
    return create_table_as(d, table, snapshot_select(d, relation, cols, keys))


def snapshot_select(d: Dialect, relation: str, cols: Sequence[str], keys: Sequence[str]) -> str:
    return (
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


def bucketed_ranges(seqs: Iterable[int]) -> list[tuple[int, int, int]]:
    """:func:`seq_ranges`, each cut where it crosses a bucket (see :data:`BUCKET_ROWS`), with its bucket."""
    out: list[tuple[int, int, int]] = []
    size = BUCKET_ROWS
    for lo, hi in seq_ranges(seqs):
        for bucket in range(lo // size, hi // size + 1):
            out.append((max(lo, bucket * size), min(hi, (bucket + 1) * size - 1), bucket))
    return out


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


# -- the ledger and the fold -------------------------------------------------------------------------------


def _acked(ledger: str, diff: str) -> str:
    """The diff rows the ledger acknowledges (``d``), each with its ledger row (``l``)."""
    return (
        f"from {ledger} l join {diff} d on d._cio_bucket = l._cio_bucket "
        f"and d._cio_seq between l._cio_lo and l._cio_hi"
    )


def _current(changes: str = "d") -> str:
    return f"{changes}._cio_change in ('added', 'changed')"


def _state_row(key_count: int, alias: str = "s") -> str:
    keys = "".join(f"{alias}._cio_k{i}, " for i in range(key_count))
    return f"{alias}._cio_key, {keys}{alias}._cio_hash, {alias}._cio_synced_at, {alias}._cio_run_id"


def _acked_state_row(key_count: int) -> str:
    keys = "".join(f"d._cio_k{i}, " for i in range(key_count))
    return f"d._cio_key, {keys}d._cio_hash, l._cio_at as _cio_synced_at, l._cio_run_id as _cio_run_id"


def folded_state(state: str, ledger: str, diff: str, key_count: int) -> str:
    """The state with the ledger applied, as a query: keys the ledger acknowledges leave the state (removed
    ones for good), and the acknowledged added and changed ones come back with the hash the diff computed."""
    return (
        f"select {_state_row(key_count)} from {state} s\n"
        f"left join (select distinct d._cio_key {_acked(ledger, diff)}) a on a._cio_key = s._cio_key\n"
        f"where a._cio_key is null\n"
        f"union all\n"
        f"select {_acked_state_row(key_count)} {_acked(ledger, diff)} where {_current()}"
    )


def fold_in_place(state: str, ledger: str, diff: str, key_count: int) -> list[str]:
    """The same fold as :func:`folded_state`, in place, for warehouses with transactions and DELETE: run as
    one transaction, the ledger emptied in it so the fold can never be applied twice."""
    names = ", ".join(["_cio_key", *(f"_cio_k{i}" for i in range(key_count)), "_cio_hash", "_cio_synced_at",
                       "_cio_run_id"])  # fmt: skip
    return [
        f"delete from {state} where _cio_key in (select d._cio_key {_acked(ledger, diff)})",
        (
            f"insert into {state} ({names})\nselect {_acked_state_row(key_count)} {_acked(ledger, diff)} "
            f"where {_current()}"
        ),
        f"delete from {ledger} where 1 = 1",  # BigQuery wants a where
    ]


def key_display(d: Dialect, key_columns: Sequence[str], alias: str = "d") -> str:
    """A row's key as a person reads it, from its key texts: the text itself for a single key, else
    ``col=value, col=value`` (as :func:`dbt_cio.warehouse.changes.readable_key` writes it in Python)."""
    if len(key_columns) == 1:
        return f"{alias}._cio_key"
    parts: list[str] = []
    for i, column in enumerate(key_columns):
        parts += [d.literal(f"{', ' if i else ''}{column}="), f"{alias}._cio_k{i}"]
    return d.concat(parts)


def log_from_ledger(
    d: Dialect, log: str, ledger: str, diff: str, sync_name: str, key_columns: Sequence[str],
    actions: Mapping[str, str], *, once: bool = False,
) -> str:  # fmt: skip
    """The sync log's rows for the operations the ledger acknowledges: one per acknowledged diff row that a
    request carried (rows that needed no operation have no request), with the request's number, its HTTP
    status and when it was committed. ``once`` leaves out rows the log already holds for the same run and
    diff row (a fold done again after a crash)."""
    cases = " ".join(f"when {d.literal(kind)} then {d.literal(action)}" for kind, action in actions.items())
    names = ", ".join(name for name, _type in log_columns(d))
    again = (
        f"\n  and not exists (select 1 from {log} x where x.run_id = l._cio_run_id and x.diff_seq = d._cio_seq)"
        if once else ""
    )  # fmt: skip
    return (
        f"insert into {log} ({names})\n"
        f"select l._cio_run_id, {d.literal(sync_name)}, d._cio_key, {key_display(d, key_columns)}, "
        f"case d._cio_change {cases} end, 'accepted', l._cio_status, null, null, l._cio_request, l._cio_at, "
        f"null, d._cio_seq\n{_acked(ledger, diff)}\nwhere l._cio_request is not null{again}"
    )


def index(table: str, name: str, column: str) -> str:
    return f"create index if not exists {name} on {table} ({column})"


def probe_columns(relation: str) -> str:
    """No rows, only the column names of a relation (read from the cursor description)."""
    return f"select * from {relation} where 1 = 0"


def update(relation: str, assignments: Mapping[str, str], where: str) -> str:
    sets = ", ".join(f"{col} = {sql}" for col, sql in assignments.items())
    return f"update {relation} set {sets} where {where}"
