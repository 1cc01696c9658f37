"""Golden equivalence: items rendered by the warehouse (dbt_cio.payloads.rendered) against the Python mapper.

For every sync type, on every warehouse in ``TARGETS`` (real DuckDB and PostgreSQL; adding Spark is one
line there once it runs in CI), a model of edge values is built in the warehouse, diffed by the real
``StateStore`` (all rows added; then, after committing them, rows changed and removed), and every diff row
goes both ways: the page query through the adapter (small pages, so paging is exercised), and today's path
(``iter_changes``, the mapper, the sender's JSON encoding and limit checks). Per row:

- a row the Python path rejects is flagged (it goes to Python, which rejects it with its reason);
- a row the test declares ``py`` (Python sends it, the SQL leaves it to Python) is flagged, and no other;
- every other row is rendered, and its parsed JSON equals Python's, types included (``100.0`` is not
  ``100``), with the same keys in the same order (events: the ULID first), in never fewer bytes than
  Python's (so Customer.io's size limit can be checked on the rendered bytes) and, on DuckDB, exactly as
  many (unless a JSON column is embedded as stored);
- a row that needs nothing sent is ``done``.

Row keys say what is expected of them: ``ok-...`` rendered, ``rej-...`` rejected by Python, ``py-...`` left
to Python (other keys: rendered). The warehouse's session time zone is set away from UTC, so time zones are
honoured by both paths, not assumed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import pytest
from conftest import INTEGRATION_PROJECT, SPARK_SCHEMA, _drop_pg_schemas, spark_env

from dbt_cio.contract.model import Identifier, NamedRef, Sync
from dbt_cio.customerio.limits import MAX_ITEM_BYTES, check_identifier, check_item
from dbt_cio.customerio.operations import SegmentChange
from dbt_cio.payloads.mappers import RowRejected, mapper_for
from dbt_cio.payloads.rendered import render_plan
from dbt_cio.project import DbtArgs, Project
from dbt_cio.warehouse.jsonsql import JsonSql
from dbt_cio.warehouse.schema import StateSchema

NOW = 1_750_000_000
PAGE = 4  # rows per page: every sync below spans several pages
TIME_ZONE = "America/New_York"

# The warehouses the equivalence is checked on (Spark in scripts/test's run of its own, one JVM for them all)
TARGETS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("spark", id="spark", marks=pytest.mark.spark),
]

# logical type -> SQL type per warehouse (None: the warehouse has no such type; rows using it are skipped)
TYPES: dict[str, dict[str, str | None]] = {
    "text": {"duckdb": "varchar", "postgres": "text", "spark": "string"},
    "bigint": {"duckdb": "bigint", "postgres": "bigint", "spark": "bigint"},
    "int": {"duckdb": "integer", "postgres": "integer", "spark": "int"},
    "huge": {"duckdb": "hugeint", "postgres": "numeric(38,0)", "spark": "decimal(38,0)"},
    "dec": {"duckdb": "decimal(38,10)", "postgres": "numeric(38,10)", "spark": "decimal(38,10)"},
    "money": {"duckdb": "decimal(10,2)", "postgres": "numeric(10,2)", "spark": "decimal(10,2)"},
    "numeric": {"duckdb": None, "postgres": "numeric", "spark": None},  # unbounded
    "double": {"duckdb": "double", "postgres": "double precision", "spark": "double"},
    "real": {"duckdb": "real", "postgres": "real", "spark": "float"},
    "bool": {"duckdb": "boolean", "postgres": "boolean", "spark": "boolean"},
    "ts": {"duckdb": "timestamp", "postgres": "timestamp", "spark": "timestamp_ntz"},
    "tstz": {"duckdb": "timestamptz", "postgres": "timestamptz", "spark": "timestamp"},
    "date": {"duckdb": "date", "postgres": "date", "spark": "date"},
    "json": {"duckdb": "json", "postgres": "json", "spark": None},
    "jsonb": {"duckdb": None, "postgres": "jsonb", "spark": None},
    "uuid": {"duckdb": "uuid", "postgres": "uuid", "spark": None},
    "blob": {"duckdb": "blob", "postgres": "bytea", "spark": "binary"},
    "time": {"duckdb": "time", "postgres": "time", "spark": None},
    "list": {"duckdb": "integer[]", "postgres": "integer[]", "spark": "array<int>"},
}


# -- the warehouse --------------------------------------------------------------------------------------


@dataclass
class Warehouse:
    """A loaded project on one target, a schema for the edge models, the state schema, the JSON SQL."""

    target: str
    project: Project
    schema: str
    state: StateSchema
    json_sql: JsonSql
    tables: int = 0

    @property
    def session(self) -> Any:
        return self.project.session

    def literal(self, type_: str, value: Any) -> str:
        """A SQL expression of ``value`` as a ``type_`` (a key of TYPES) on this warehouse."""
        sql_type = TYPES[type_][self.target]
        d = self.session.dialect
        if value is None:
            return f"cast(null as {sql_type})"
        if type_ == "bool":
            return "true" if value else "false"
        if type_ == "blob":
            hexed = value.hex()
            literals = {"postgres": f"decode('{hexed}', 'hex')", "spark": f"unhex('{hexed}')"}
            return literals.get(self.target, f"from_hex('{hexed}')")
        if type_ == "list":
            items = ", ".join(str(v) for v in value)
            return {"postgres": f"array[{items}]", "spark": f"array({items})"}.get(self.target, f"[{items}]")
        if type_ in ("json", "jsonb") and not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False)
        return f"cast({d.literal(str(value))} as {sql_type})"

    def model(self, name: str, columns: Sequence[tuple[str, str]], rows: Sequence[Mapping[str, Any]]) -> str:
        """Create the table ``name`` of these columns and rows (a column missing from a row is NULL); return
        its relation. Columns whose type this warehouse lacks are left out, and so are the rows whose
        expectation rests on one of them (their ``because``)."""
        columns = [(c, t) for c, t in columns if TYPES[t][self.target] is not None]
        kept = {c for c, _ in columns}
        rows = [r for r in rows if r.get("because") in (None, *kept)]
        relation = self.session.relation(self.project.database, self.schema, name)
        selects = [
            "select " + ", ".join(f"{self.literal(t, row.get(c))} as {c}" for c, t in columns) for row in rows
        ]
        with self.session.transaction("creating an edge model"):
            self.session.execute(f"drop table if exists {relation}")
            self.session.execute(f"create table {relation} as\n" + "\nunion all\n".join(selects))
        return relation


@pytest.fixture(scope="module", params=TARGETS)
def warehouse(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    target = request.param
    if target == "postgres" and os.environ.get("DBT_CIO_SKIP_POSTGRES"):
        pytest.skip("DBT_CIO_SKIP_POSTGRES is set")
    if target == "spark" and os.environ.get("DBT_CIO_SKIP_SPARK"):
        pytest.skip("DBT_CIO_SKIP_SPARK is set")
    root = tmp_path_factory.mktemp(f"rendered_{target}")
    path = root / "project"
    shutil.copytree(INTEGRATION_PROJECT, path, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*"))
    schema = {"postgres": f"rd_{uuid.uuid4().hex[:10]}", "spark": SPARK_SCHEMA}.get(target, "main")
    env = {"DBT_CIO_DUCKDB_PATH": str(root / "edge.duckdb"), "DBT_CIO_PG_SCHEMA": schema, **spark_env(root)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    project = Project.load(DbtArgs(project_dir=path, profiles_dir=path, target=target))
    try:
        session = project.session
        session.connect()
        session.create_schema(project.database, schema)
        with session.transaction("setting the time zone"):
            zone = {
                "duckdb": [f"set TimeZone = '{TIME_ZONE}'"],
                "postgres": [f"set time zone '{TIME_ZONE}'"],
                "spark": [  # and dates before 1582 as they are (no rebase to the Julian calendar)
                    f"set spark.sql.session.timeZone = {TIME_ZONE}",
                    "set spark.sql.parquet.datetimeRebaseModeInWrite = CORRECTED",
                    "set spark.sql.parquet.int96RebaseModeInWrite = CORRECTED",
                ],
            }
            for statement in zone[target]:
                session.execute(statement)
        state = StateSchema.open(session, project.state_schema, project.database, mode=project.state_mode)
        yield Warehouse(target, project, schema, state, JsonSql.render(session.dialect, session.call_macro))
    finally:
        project.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if target == "postgres":
            _drop_pg_schemas(schema)


# -- both paths, row by row -----------------------------------------------------------------------------


@dataclass
class Compared:
    """What one diff of a sync came to, by seq: rendered, done, flagged; the Python path's outcome."""

    rendered: dict[int, bytes] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)
    flagged: set[int] = field(default_factory=set)
    python: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _python_path(sync: Sync, change: Any) -> tuple[Any, ...]:
    """The Python path's outcome for one change: ("reject", reason), ("none",), ("item", bytes) or
    ("segment", add, bytes of the identifier as a JSON string)."""
    try:
        ops = mapper_for(sync, now=NOW, segment_id=7)(change, None)
    except RowRejected as exc:
        return ("reject", exc.reason)
    if not ops:
        return ("none",)
    [op] = ops
    if isinstance(op, SegmentChange):
        problem = check_identifier(op.identifier, "identifier")
        return ("reject", problem[0]) if problem else ("segment", op.add, _encode(op.identifier).encode())
    data = _encode(op.item).encode()
    problem = check_item(op.item, len(data))
    return ("reject", problem[0]) if problem else ("item", data)


def compare(w: Warehouse, sync: Sync) -> Compared:
    """Diff ``sync`` and run every diff row both ways."""
    store = w.state.store
    summary = store.compute_diff(sync)
    plan = render_plan(sync, w.json_sql, store.column_types(sync), now=NOW)
    out = Compared()
    pages = count()
    for rows in iter(lambda: store.read_page(sync, plan.page_sql, next(pages), PAGE, summary.table), []):
        page = plan.decode(rows)
        for seq, _key, data in (*page.items, *page.removals):
            out.rendered[seq] = data
        out.done.update(page.done)
        out.flagged.update(change.seq for change in page.python)
    for changes in store.iter_changes(sync, page_size=PAGE):
        for change in changes:
            out.python[change.seq] = _python_path(sync, change)
            out.keys[change.seq] = change.key
            out.kinds[change.seq] = change.change
    assert len(out.python) == summary.total
    return out


def _strict(a: Any, b: Any, where: str, ordered: bool = True) -> None:
    """``a == b`` with JSON types kept apart (``1``, ``1.0`` and ``true`` differ) and, with ``ordered``, keys
    in the same order."""
    assert type(a) is type(b), f"{where}: {a!r} ({type(a).__name__}) vs {b!r} ({type(b).__name__})"
    if isinstance(a, dict):
        if ordered:
            assert list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        assert set(a) == set(b), f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for key in a:
            _strict(a[key], b[key], f"{where}.{key}", ordered)
    elif isinstance(a, list):
        assert len(a) == len(b), f"{where}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            _strict(x, y, f"{where}[{i}]", ordered)
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def by_prefix(key: str, kind: str) -> str:
    """What the key says is expected of a row: ``ok``, ``rej`` or ``py`` (see the module docstring)."""
    prefix = key.split("-", 1)[0]
    return prefix if prefix in ("ok", "rej", "py") else "ok"


def key_text_expect(limit: int | None = 150) -> Any:
    """For removed rows, whose item holds only the key text: Python refuses blank text and (``limit``) ids
    over 150 bytes; text without printable ASCII is left to Python."""

    def expect(key: str, kind: str) -> str:
        if kind != "removed":
            return by_prefix(key, kind)
        if not key or key.isspace() or (limit is not None and len(key.encode()) > limit):
            return "rej"
        return "ok" if any("!" <= ch <= "~" for ch in key) else "py"

    return expect


def check(
    w: Warehouse, sync: Sync, out: Compared, *, json_columns: bool = False, expect: Any = by_prefix
) -> None:
    """The equivalence (see the module docstring) over one compared diff; ``expect(key, change kind)`` says
    what is expected of each row."""
    exact = w.json_sql.exact
    for seq, outcome in out.python.items():
        key, where = out.keys[seq], f"{sync.name} {out.kinds[seq]} {out.keys[seq]!r}"
        expected = expect(key, out.kinds[seq])
        if expected == "rej" or outcome[0] == "reject":
            assert outcome[0] == "reject" and expected == "rej", f"{where}: Python says {outcome}"
            assert seq in out.flagged, f"{where}: Python rejects it ({outcome[1]}) but it was not flagged"
            continue
        if expected == "py":
            assert seq in out.flagged, f"{where}: expected to be left to Python"
            continue
        assert seq not in out.flagged, f"{where}: flagged, though Python sends it as {outcome}"
        if outcome[0] == "none":
            assert seq in out.done, where
            continue
        assert seq in out.rendered, f"{where}: neither rendered nor done"
        data, python = out.rendered[seq], outcome[-1]
        rendered_value, python_value = json.loads(data), json.loads(python)
        if sync.type == "event":  # the ULID is spliced in first; the rest keeps the mapper's order
            assert next(iter(rendered_value)) == "id", where
            _strict(rendered_value, python_value, where, ordered=False)
            assert [k for k in rendered_value if k != "id"] == [k for k in python_value if k != "id"], where
        else:
            _strict(rendered_value, python_value, where)
        if exact:  # never shorter than Python's (so the size limit is checked on the rendered bytes)
            assert len(data) >= len(python), f"{where}: {len(data)} bytes rendered, {len(python)} by Python"
        if w.target == "duckdb" and not json_columns:  # DuckDB: exactly as long
            assert len(data) == len(python), f"{where}: {len(data)} bytes rendered, {len(python)} by Python"
    assert out.flagged <= set(out.python)


def commit_all(w: Warehouse, sync: Sync, out: Compared) -> None:
    """Take every row of the diff into state (rejected ones too: removed rows of every sort follow)."""
    w.state.store.commit(sync, sorted(out.python))
    w.state.store.fold(sync)


def make_sync(
    w: Warehouse, type_: str, name: str, relation: str, columns: Sequence[str], **fields: Any
) -> Sync:
    return Sync(name=name, model=name, unique_id=f"model.edge.{name}", relation=relation, type=type_,  # type: ignore[arg-type]
                columns=tuple(columns), **fields)  # fmt: skip


# -- people ---------------------------------------------------------------------------------------------

PEOPLE_COLUMNS = [
    ("pid", "text"), ("txt", "text"), ("big", "bigint"), ("huge", "huge"), ("dec", "dec"), ("money", "money"),
    ("num", "numeric"), ("dbl", "double"), ("flt", "real"), ("flag", "bool"), ("ts", "ts"), ("tstz", "tstz"),
    ("day", "date"), ("js", "json"), ("jb", "jsonb"), ("uid", "uuid"), ("bin", "blob"), ("tm", "time"),
    ("lst", "list"), ("i", "int"),
]  # fmt: skip
PEOPLE_ROWS: list[dict[str, Any]] = [
    {"pid": "ok-nulls"},
    {"pid": "ok-typical", "txt": "Ada", "big": 42, "huge": 10**30, "dec": "1200.5000000000", "money": "19.99",
     "num": "3.14159", "dbl": 1200.5, "flt": 0.1, "flag": True, "ts": "2024-07-01 10:00:00",
     "tstz": "2024-07-01 12:00:00+02:00", "day": "2024-07-01", "js": {"a": [1, 2.5, "x"], "b": None, "c": {"d": True}},
     "jb": {"a": [1, 2.5, "x"], "b": None}, "uid": "6f1c2a1e-9a8b-4c1d-8e2f-3a4b5c6d7e8f", "i": 7},
    {"pid": "ok-empty", "txt": "", "js": '""', "jb": "[]", "dbl": 0.0, "flt": -0.0, "big": 0, "dec": "0", "flag": False},
    {"pid": "ok-unicode", "txt": "é漢字𝄞 Ünïcödé", "js": {"é": "𝄞", "k": "\u00e9"}, "jb": {"é": "漢字"}},
    {"pid": "ok-control", "txt": 'a"b\\c\nd\te\x01f\x1fg\x7fh/i\u2028j\rk\bl\fm', "js": {"c": "\x01\n\"/"}},
    {"pid": "ok-nan", "dbl": "NaN", "flt": "NaN", "num": "NaN"},
    {"pid": "ok-inf", "dbl": "Infinity", "flt": "-Infinity", "num": "Infinity"},
    {"pid": "ok-ninf", "dbl": "-Infinity", "num": "-Infinity"},
    {"pid": "ok-2p53", "big": 2**53, "huge": -(2**53), "dec": "9007199254740992"},
    {"pid": "ok-2p53p1", "big": 2**53 + 1, "huge": -(2**53 + 1), "dec": "-9007199254740993.0000000000"},
    {"pid": "ok-bigint-max", "big": 2**63 - 1, "huge": 10**37, "i": -(2**31)},
    {"pid": "ok-dec-long", "dec": "1234567890123456789.123456789", "money": "-0.50", "num": "0.000000000000000000001"},
    {"pid": "py-dec-30", "dec": "12345678901234567890.1234567891"},  # over 28 digits: left to Python
    {"pid": "py-num-31", "num": "123456789012345678901234567890.5", "because": "num"},
    {"pid": "ok-dec-small", "dec": "0.0000123450", "money": "0.01", "num": "-0.00001"},
    {"pid": "ok-dec-15", "dec": "12345.6789012345", "num": "1234567890.12345"},
    {"pid": "ok-dec-18", "dec": "12345678.9012345678", "num": "12345678901234567890123.45"},
    {"pid": "py-dec-16", "dec": "123456.7890123456"},
    {"pid": "py-dec-17", "dec": "1234567.8901234567"},
    {"pid": "py-num-tiny", "num": "1e-400", "because": "num"},
    {"pid": "ok-pre1970", "ts": "1969-12-31 23:59:59.5", "tstz": "1900-01-01 00:00:00+00:00", "day": "1960-01-01"},
    {"pid": "ok-tz", "ts": "2024-07-01 10:00:00.999999", "tstz": "2024-03-10 02:30:00-05:00", "day": "1970-01-01"},
    {"pid": "ok-tz-far", "tstz": "1969-07-20 20:17:40-11:30", "ts": "9999-12-31 23:59:59", "day": "0001-01-01"},
    {"pid": "ok-doubles-1", "dbl": 1e16, "flt": 3.4e38, "big": -1},
    {"pid": "ok-doubles-2", "dbl": 1e15, "flt": 1.5e-7},
    {"pid": "ok-doubles-3", "dbl": 123456789012345.67, "flt": 100.0},
    {"pid": "ok-doubles-4", "dbl": 5e-324, "flt": 16777217.0},
    {"pid": "ok-doubles-5", "dbl": 100.0, "flt": 1e10},
    {"pid": "ok-doubles-6", "dbl": 0.30000000000000004, "flt": -1e-30},
    {"pid": "ok-doubles-7", "dbl": -1e22, "flt": 1e16},
    {"pid": "ok-doubles-8", "dbl": 1.2345678901234567e15, "flt": 1234567.0},
    {"pid": "ok-doubles-9", "dbl": 9999999999999998.0, "flt": 0.0001},
    {"pid": "ok-json-scalars", "js": "123", "jb": "true"},
    {"pid": "ok-json-null", "js": "null", "jb": "null"},
    {"pid": "py-time", "tm": "10:00:00.5", "because": "tm"},
    {"pid": "py-list", "lst": [1, 2], "because": "lst"},
    {"pid": "rej-blob", "bin": b"\x00\x01", "because": "bin"},
    {"pid": "py-json-bigint", "js": '{"n": 12345678901234567890}', "because": "js"},
    {"pid": "py-json-surrogates", "js": '{"s": "\\ud834\\udd1e"}', "because": "js"},  # escaped 𝄞
    {"pid": "ok-json-escapes", "js": '{"s": "\\u00e9\\n\\/\\"", "t": [1, 2.50, -0, 0.1]}'},
    {"pid": "py-json-exp", "js": '{"x": 1.5e3}', "jb": '{"x": 1.5E3}', "because": "js"},
    {"pid": "rej-long-text", "txt": "é" * 501},
    {"pid": "ok-1000-bytes", "txt": "é" * 500},
    {"pid": "rej-long-json", "js": {"s": "x" * 1000}, "because": "js"},
    {"pid": "ok-" + "x" * 147},
    {"pid": "rej-" + "x" * 147},
    {"pid": "ok-" + "é" * 73},
    {"pid": "rej-" + "é" * 74},
    {"pid": "é", "expect": "py"},
    {"pid": "\u00e9\u00e8", "expect": "py"},
    {"pid": "   ", "expect": "rej"},
    {"pid": "\u00a0\u2003", "expect": "rej"},
    {"pid": "", "expect": "rej"},
    {"pid": "id with spaces and \"quotes\" \\ and \x01"},
]  # fmt: skip
JSON_COLUMNS = ("js", "jb")


def _expect_rows(rows: Sequence[Mapping[str, Any]], key: str, base: Any = by_prefix) -> Any:
    """``expect`` for :func:`check`: a row's own ``expect`` when it has one, else ``base``."""
    declared = {str(row[key]): row["expect"] for row in rows if "expect" in row}

    def expect(text: str, kind: str) -> str:
        if kind != "removed" and text in declared:
            return str(declared[text])
        return str(base(text, kind))

    return expect


def test_people(warehouse: Warehouse) -> None:
    w = warehouse
    relation = w.model("edge_people", PEOPLE_COLUMNS, PEOPLE_ROWS)
    names = [c for c, t in PEOPLE_COLUMNS if TYPES[t][w.target] is not None]
    sync = make_sync(w, "person", "edge_people", relation, names, identifier=Identifier("pid"),
                     attributes={c: c for c in names[1:]}, mode="upsert", on_delete="delete")  # fmt: skip
    expect = _expect_rows(PEOPLE_ROWS, "pid", key_text_expect())
    first = compare(w, sync)
    assert {o[0] for o in first.python.values()} == {"item", "reject"}
    check(w, sync, first, json_columns=True, expect=expect)
    # then: a few rows change, every row that is not plainly ok leaves the model (its key is removed)
    commit_all(w, sync, first)
    changed = [
        {**row, "txt": f"changed {i}", "dbl": float(i) / 3} if i % 3 == 0 else row
        for i, row in enumerate(PEOPLE_ROWS)
        if str(row["pid"]).startswith("ok-") and i % 5
    ]
    w.model("edge_people", PEOPLE_COLUMNS, changed)
    second = compare(w, sync)
    assert {*second.kinds.values()} == {"changed", "removed"}
    check(w, sync, second, json_columns=True, expect=expect)


# -- the Python path's casts (dbt_cio.warehouse.casts) ---------------------------------------------------

CAST_ROWS: list[dict[str, Any]] = [
    *PEOPLE_ROWS,
    {"pid": "cast-money", "money": "-12345678.90", "tstz": "0001-01-02 00:00:00+00:00", "ts": "0001-01-01"},
    {"pid": "cast-whole", "money": "100.00", "tstz": "1969-12-31 23:59:59.999999+14:00", "day": "9999-12-31"},
    {"pid": "cast-zero", "money": "-0.00", "ts": "1970-01-01 00:00:00.000001", "day": "1969-12-31"},
    {
        "pid": "cast-inf",
        "ts": "infinity",
        "tstz": "-infinity",
        "day": "infinity",
        "because": "num",
    },  # PostgreSQL
]


def test_python_path_casts_map_every_row_as_before(warehouse: Warehouse) -> None:
    """Instants selected as Unix seconds and decimals of up to 15 digits as doubles: every row maps to the
    very same item (or rejection) as when the driver's values are read, edge values included."""
    from dbt_cio.warehouse.casts import page_casts

    w = warehouse
    relation = w.model("cast_people", PEOPLE_COLUMNS, CAST_ROWS)
    rows = [
        r
        for r in CAST_ROWS
        if r.get("because") in (None, *(c for c, t in PEOPLE_COLUMNS if TYPES[t][w.target]))
    ]
    names = [c for c, t in PEOPLE_COLUMNS if TYPES[t][w.target] is not None]
    attributes = {c: c for c in names[1:]}
    sync = make_sync(w, "person", "cast_people", relation, names, identifier=Identifier("pid"),
                     attributes={**attributes, "seen_again": "ts"}, mode="upsert")  # fmt: skip
    store = w.state.store
    store.compute_diff(sync)
    casts = page_casts(sync, w.json_sql, store.column_types(sync, sized=True))
    assert set(casts.selects) == {"money", "ts", "tstz", "day"}  # not dec(38,10), unbounded numeric, int...
    assert set(casts.whole) == {"money"}
    as_read = {c.seq: c for page in store.iter_changes(sync, page_size=PAGE) for c in page}
    as_cast = {c.seq: c for page in store.iter_changes(sync, page_size=PAGE, casts=casts) for c in page}
    assert as_read.keys() == as_cast.keys() and len(as_read) == len(rows)
    converted: dict[str, int] = {}
    for seq, read in as_read.items():
        where = f"row {read.key!r}"
        assert _python_path(sync, as_cast[seq]) == _python_path(sync, read), where
        for name in ("money", "ts", "tstz", "day"):
            value = as_cast[seq].values[name]
            if value is not None and read.values[name] is not value:
                converted[name] = converted.get(name, 0) + 1
                assert type(value) in (int, float) or value == read.values[name], f"{where}.{name}"
    assert min(converted.values()) >= 3 and len(converted) == 4, converted  # the casts did convert


def test_python_path_casts_leave_fields_read_their_own_way() -> None:
    """Identifiers, event names, timestamps, device fields and keys are never converted: only attributes."""
    from dbt_cio.warehouse.casts import plain_values

    base = {"model": "m", "unique_id": "model.m", "relation": "r", "columns": ("a", "b", "c", "d", "e")}
    event = Sync(name="e", type="event", identifier=Identifier("a"), event_id="b", timestamp="c",
                 name_column="d", attributes={"x": "c", "y": "e", "z": "d"}, **base)  # type: ignore[arg-type]  # fmt: skip
    assert plain_values(event) == {"e"}
    device = Sync(name="d", type="device", identifier=Identifier("a"), token="b", last_used="c",
                  platform="d", attributes={"x": "e", "y": "c"}, **base)  # type: ignore[arg-type]  # fmt: skip
    assert plain_values(device) == {"e"}
    collection = Sync(name="c", type="collection", **base)  # type: ignore[arg-type]
    assert plain_values(collection) == frozenset()


def test_people_by_email_in_update_mode_cleared_on_delete(warehouse: Warehouse) -> None:
    """Update-only identify (``_update: true``, also when the block maps an attribute of that name), email
    identifiers (no length limit on them), and the clear of a removed person."""
    w = warehouse
    columns = [("email", "text"), ("plan", "text"), ("score", "double"), ("seen", "tstz")]
    rows: list[dict[str, Any]] = [
        {"email": "ok-ada@example.com", "plan": "pro", "score": 1.5, "seen": "2024-07-01 10:00:00+00:00"},
        {"email": "ok-grace@example.com", "plan": None, "score": "NaN"},
        {"email": "ok-" + "x" * 200 + "@example.com", "plan": "free"},
        {"email": "é@example.com", "plan": "team"},
        {"email": " ", "expect": "rej"},
    ]
    relation = w.model("edge_emails", columns, rows)
    sync = make_sync(w, "person", "edge_emails", relation, [c for c, _ in columns],
                     identifier=Identifier("email", "email"), mode="update", on_delete="clear",
                     attributes={"plan": "plan", "_update": "score", "seen": "seen"})  # fmt: skip
    expect = _expect_rows(rows, "email", key_text_expect(limit=None))
    first = compare(w, sync)
    check(w, sync, first, expect=expect)
    commit_all(w, sync, first)
    w.model("edge_emails", columns, [{**rows[0], "plan": "free"}])
    second = compare(w, sync)
    assert sorted(second.kinds.values()) == ["changed", "removed", "removed", "removed", "removed"]
    check(w, sync, second, expect=expect)


def test_people_by_integer_decimal_and_uuid_ids(warehouse: Warehouse) -> None:
    w = warehouse
    for name, type_, values, rejected in (
        ("edge_int_ids", "bigint", [1, 0, -5, 2**53 + 1, 2**63 - 1], set()),
        ("edge_dec_ids", "money", ["42.00", "-7.00", "0.00", "42.50"], {"42.50"}),
        (
            "edge_uuid_ids",
            "uuid",
            ["6f1c2a1e-9a8b-4c1d-8e2f-3a4b5c6d7e8f", "00000000-0000-0000-0000-000000000000"],
            set(),
        ),
    ):
        if TYPES[type_][w.target] is None:
            continue
        columns = [("pid", type_), ("plan", "text")]
        rows = [{"pid": value, "plan": f"plan {i}"} for i, value in enumerate(values)]
        relation = w.model(name, columns, rows)
        sync = make_sync(w, "person", name, relation, ["pid", "plan"], identifier=Identifier("pid"),
                         attributes={"plan": "plan"}, on_delete="delete")  # fmt: skip

        def expect(key: str, kind: str, rejected: set[str] = rejected) -> str:
            return "rej" if key in rejected and kind != "removed" else "ok"

        first = compare(w, sync)
        check(w, sync, first, expect=expect)
        commit_all(w, sync, first)
        w.model(name, columns, rows[1:])
        check(w, sync, compare(w, sync), expect=expect)


def _wide_value(target: int, base: int, fill: str) -> list[str]:
    """Forty attribute texts (each under 1000 bytes) that make an identify item of ``base`` bytes with empty
    texts exactly ``target`` bytes long, with ``fill`` characters (escaped by JSON when they are controls)."""
    per_char = len(json.dumps(fill, ensure_ascii=False).encode()) - 2  # bytes in the item
    need = target - base
    values = []
    for _ in range(40):
        n = min(need // per_char, 999 // max(1, len(fill.encode())))
        values.append(fill * n)
        need -= n * per_char
    values[-1] += "x" * need  # the remainder in plain characters
    assert need < 999, need
    return values


def test_item_size_limit_is_checked_on_the_rendered_bytes(warehouse: Warehouse) -> None:
    """Items of exactly 32,000 bytes are sent, of 32,001 are Python's to reject; control characters (six
    bytes each once escaped) count as Python counts them."""
    w = warehouse
    names = [f"a{i:02d}" for i in range(40)]
    columns = [("pid", "text"), *((n, "text") for n in names)]
    base = len(_encode({"type": "person", "identifiers": {"id": "ok-32000-plain"}, "action": "identify",
                        "attributes": dict.fromkeys(names, "")}).encode())  # fmt: skip
    rows = []
    for key, size, fill in (("ok-32000-plain", MAX_ITEM_BYTES, "x"), ("rej-32001-plain", MAX_ITEM_BYTES + 1, "x"),
                            ("ok-32000-ctrl", MAX_ITEM_BYTES, "\x01"), ("rej-32001-ctrl", MAX_ITEM_BYTES + 1, "\x01"),
                            ("ok-32000-utf8", MAX_ITEM_BYTES, "é"), ("ok-small", 500, "y")):  # fmt: skip
        shift = len(key) - len("ok-32000-plain")
        rows.append({"pid": key, **dict(zip(names, _wide_value(size - shift, base, fill)))})
    relation = w.model("edge_wide", columns, rows)
    sync = make_sync(w, "person", "edge_wide", relation, [c for c, _ in columns], identifier=Identifier("pid"),
                     attributes={n: n for n in names})  # fmt: skip
    out = compare(w, sync)
    sizes = {out.keys[seq]: len(o[-1]) for seq, o in out.python.items() if o[0] == "item"}
    assert sizes["ok-32000-plain"] == sizes["ok-32000-ctrl"] == sizes["ok-32000-utf8"] == MAX_ITEM_BYTES
    check(w, sync, out)


# -- events ---------------------------------------------------------------------------------------------

EVENT_COLUMNS = [
    ("eid", "text"), ("person", "text"), ("anon", "text"), ("ev", "text"), ("at", "tstz"), ("amount", "dec"),
    ("meta", "json"), ("tags", "text"), ("qty", "bigint"), ("ratio", "double"),
]  # fmt: skip
EVENT_ROWS: list[dict[str, Any]] = [
    {"eid": "ok-identified", "person": "p1", "ev": "Order Completed", "at": "2024-07-01 10:00:00+02:00",
     "amount": "12.50", "meta": {"items": [1, 2]}, "tags": "a,b", "qty": 3, "ratio": 0.25},
    {"eid": "ok-anonymous", "anon": "anon-1", "ev": "Viewed", "at": "2024-07-01 10:00:00.75+00:00"},
    {"eid": "ok-both", "person": "p2", "anon": "anon-2", "ev": "Both"},
    {"eid": "py-blank-person", "person": "  ", "anon": "anon-3", "ev": "Blank person"},
    {"eid": "py-unicode-person", "person": "é", "ev": "Unicode person"},
    {"eid": "rej-nobody", "ev": "Nobody"},
    {"eid": "rej-blank-both", "person": "", "anon": " ", "ev": "Blank both"},
    {"eid": "ok-no-timestamp", "person": "p3", "ev": "Now"},
    {"eid": "ok-before-1970", "person": "p4", "ev": "Old", "at": "1960-01-01 00:00:00+00:00"},
    {"eid": "ok-epoch", "person": "p5", "ev": "Epoch", "at": "1970-01-01 00:00:00.5+00:00"},
    {"eid": "rej-no-name", "person": "p6"},
    {"eid": "rej-blank-name", "person": "p7", "ev": "   "},
    {"eid": "rej-long-name", "person": "p8", "ev": "x" * 101},
    {"eid": "ok-name-100", "person": "p9", "ev": "é" * 49 + "xx"},
    {"eid": "rej-long-person", "person": "x" * 151, "anon": "anon-4", "ev": "Too long"},
    {"eid": "ok-é漢字-\x01", "person": "p10", "ev": 'Quote " and \\ and \n'},
    {"eid": "é", "person": "p11", "ev": "Unicode id", "expect": "py"},
    {"eid": "py-json-meta", "person": "p12", "ev": "Meta", "meta": '{"big": 12345678901234567890}', "because": "meta"},
    {"eid": "ok-nan", "person": "p13", "ev": "NaN", "ratio": "NaN", "qty": 2**53 + 1},
]  # fmt: skip


def test_track_events_with_anonymous_ids(warehouse: Warehouse) -> None:
    w = warehouse
    relation = w.model("edge_events", EVENT_COLUMNS, EVENT_ROWS)
    names = [c for c, t in EVENT_COLUMNS if TYPES[t][w.target] is not None]
    attributes = {c: c for c in ("amount", "meta", "tags", "qty", "ratio") if c in names}
    sync = make_sync(w, "event", "edge_events", relation, names, identifier=Identifier("person"),
                     anonymous_id="anon", event_type="track", name_column="ev", event_id="eid", timestamp="at",
                     attributes=attributes)  # fmt: skip
    first = compare(w, sync)
    check(w, sync, first, json_columns=True, expect=_expect_rows(EVENT_ROWS, "eid"))
    # events are append only: changed and removed rows need nothing sent
    commit_all(w, sync, first)
    w.model("edge_events", EVENT_COLUMNS, [{**row, "ev": "Renamed"} for row in EVENT_ROWS[:5]])
    second = compare(w, sync)
    assert {*second.kinds.values()} == {"changed", "removed"}
    assert second.done == set(second.python) and not second.rendered and not second.flagged


@pytest.mark.parametrize(
    ("name", "type_", "values"),
    [
        ("date", "date", ["2024-07-01", "1969-12-31", "1970-01-01"]),
        ("naive", "ts", ["2024-07-01 10:00:00.999999", "1969-12-31 23:59:59.5", "0001-01-01 00:00:00"]),
        (
            "epoch",
            "bigint",
            [1719828000, 1719828000123, 1719828000123456, 1719828000123456789, -1500, -1719828000123],
        ),
        ("text", "text", ["2024-07-01T10:00:00Z", "1719828000"]),
    ],
)
def test_page_and_screen_events_with_each_kind_of_timestamp(
    warehouse: Warehouse, name: str, type_: str, values: list[Any]
) -> None:
    """Page events named by a URL column, screen events with a static name, timestamps of every kind Python
    reads (ISO text is parsed by Python: those rows are left to it)."""
    w = warehouse
    columns = [("view_id", "text"), ("email", "text"), ("url", "text"), ("at", type_)]
    prefix = "py" if type_ == "text" else "ok"
    rows = [{"view_id": f"{prefix}-{i}", "email": f"u{i}@example.com", "url": f"https://example.com/{i}", "at": v}
            for i, v in enumerate(values)] + [{"view_id": "ok-null", "email": "n@example.com", "url": "https://x"}]  # fmt: skip
    relation = w.model(f"edge_views_{name}", columns, rows)
    page = make_sync(w, "event", f"edge_pages_{name}", relation, [c for c, _ in columns],
                     identifier=Identifier("email", "email"), event_type="page", name_column="url",
                     event_id="view_id", timestamp="at")  # fmt: skip
    check(w, page, compare(w, page))
    screen = make_sync(w, "event", f"edge_screens_{name}", relation, [c for c, _ in columns],
                       identifier=Identifier("email", "email"), event_type="screen", event_name="Home",
                       event_id="view_id", attributes={"url": "url"})  # fmt: skip
    check(w, screen, compare(w, screen), expect=lambda key, kind: "ok")


# -- objects and relationships --------------------------------------------------------------------------

OBJECT_COLUMNS = [("company", "text"), ("name", "text"), ("employees", "int"), ("founded", "date"),
                  ("revenue", "dec"), ("tags", "json")]  # fmt: skip
OBJECT_ROWS: list[dict[str, Any]] = [
    {"company": "ok-acme", "name": "Acme", "employees": 120, "founded": "1999-01-01", "revenue": "1234.50",
     "tags": ["b2b"]},
    {"company": "ok-empty", "name": ""},
    {"company": "rej-" + "c" * 147, "name": "Long id"},
    {"company": "rej-long-name", "name": "n" * 1001},
    {"company": "ok-" + "c" * 147, "name": "Longest id"},
    {"company": "é", "name": "Unicode id", "expect": "py"},
]  # fmt: skip


@pytest.mark.parametrize("on_delete", ["delete", "clear"])
def test_objects(warehouse: Warehouse, on_delete: str) -> None:
    w = warehouse
    name = f"edge_objects_{on_delete}"
    relation = w.model(name, OBJECT_COLUMNS, OBJECT_ROWS)
    names = [c for c, t in OBJECT_COLUMNS if TYPES[t][w.target] is not None]
    sync = make_sync(w, "object", name, relation, names, object_type_id="1", object_id="company",
                     on_delete=on_delete, attributes={c: c for c in names[1:]})  # fmt: skip
    expect = _expect_rows(OBJECT_ROWS, "company", key_text_expect())
    first = compare(w, sync)
    check(w, sync, first, json_columns=True, expect=expect)
    commit_all(w, sync, first)
    w.model(name, OBJECT_COLUMNS, [{**OBJECT_ROWS[0], "employees": 121}])
    second = compare(w, sync)
    check(w, sync, second, json_columns=True, expect=expect)


def _pair_expect(limits: tuple[int | None, int | None]) -> Any:
    """Removed rows of a two-column key: each part checked as a key text (``limits``: their byte limits)."""

    def expect(key: str, kind: str) -> str:
        if kind != "removed":
            return by_prefix(key, kind)
        found = [key_text_expect(limit)(part, kind) for part, limit in zip(key.split("\x1f"), limits)]
        return "rej" if "rej" in found else "py" if "py" in found else "ok"

    return expect


def test_relationships_mirrored(warehouse: Warehouse) -> None:
    w = warehouse
    columns = [("company", "text"), ("person", "text"), ("role", "text"), ("since", "date")]
    rows: list[dict[str, Any]] = [
        {"company": "ok-acme", "person": "p1", "role": "admin", "since": "2020-02-29"},
        {"company": "ok-acme", "person": "p2", "role": None},
        {"company": "ok-globex", "person": "p1", "role": "é"},
        {"company": "rej-long-role", "person": "p3", "role": "r" * 1001},
        {"company": "rej-long-person", "person": "p" * 151},
        {"company": "rej-" + "c" * 147, "person": "p4"},
        {"company": "py-unicode-person", "person": "é"},
        {"company": "rej-blank-person", "person": " "},
    ]
    relation = w.model("edge_members", columns, rows)
    sync = make_sync(w, "relationship", "edge_members", relation, [c for c, _ in columns], object_type_id="1",
                     object_id="company", identifier=Identifier("person"), mode="mirror",
                     attributes={"role": "role", "since": "since"})  # fmt: skip
    expect = _pair_expect((150, 150))
    first = compare(w, sync)
    check(w, sync, first, expect=expect)
    commit_all(w, sync, first)
    w.model("edge_members", columns, [{**rows[0], "role": "owner"}])
    second = compare(w, sync)
    assert second.kinds[min(second.kinds)] in ("changed", "removed") and "removed" in second.kinds.values()
    check(w, sync, second, expect=expect)


# -- segments and devices -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["mirror", "add"])
def test_segment_memberships(warehouse: Warehouse, mode: str) -> None:
    """Integer ids (digits, beyond 2^53 too) and text ids; every id's length is checked, whatever its type."""
    w = warehouse
    relation = w.model("edge_members_int", [("pid", "bigint")], [{"pid": v} for v in (1, 42, 2**53 + 1, -7)])
    ints = make_sync(w, "segment", f"edge_segment_int_{mode}", relation, ["pid"], identifier=Identifier("pid"),
                     mode=mode, segment=NamedRef(name="Edge"))  # fmt: skip
    first = compare(w, ints)
    check(w, ints, first, expect=lambda key, kind: "ok")
    assert len(first.rendered) == 4
    commit_all(w, ints, first)
    w.model("edge_members_int", [("pid", "bigint")], [{"pid": 1}])
    second = compare(w, ints)
    check(w, ints, second, expect=lambda key, kind: "ok")
    assert len(second.rendered) == (3 if mode == "mirror" else 0)
    texts = [{"email": "ok-a@example.com"}, {"email": "rej-" + "e" * 147}, {"email": "é", "expect": "py"},
             {"email": "  ", "expect": "rej"}]  # fmt: skip
    relation = w.model("edge_members_text", [("email", "text")], texts)
    emails = make_sync(w, "segment", f"edge_segment_text_{mode}", relation, ["email"],
                       identifier=Identifier("email", "email"), mode=mode, segment=NamedRef(id=3))  # fmt: skip
    by_key = _expect_rows(texts, "email", key_text_expect())

    def expect(key: str, kind: str) -> str:
        return (
            "ok" if kind == "removed" and mode == "add" else str(by_key(key, kind))
        )  # add mode removes none

    first = compare(w, emails)
    check(w, emails, first, expect=expect)
    commit_all(w, emails, first)
    w.model("edge_members_text", [("email", "text")], texts[:1])
    check(w, emails, compare(w, emails), expect=expect)


DEVICE_COLUMNS = [
    ("person", "text"), ("token", "text"), ("platform", "text"), ("last_used", "tstz"), ("push", "bool"),
    ("version", "text"), ("build", "bigint"), ("ratio", "double"), ("price", "dec"), ("meta", "json"),
]  # fmt: skip
DEVICE_ROWS: list[dict[str, Any]] = [
    {"person": "ok-1", "token": "t1", "platform": "ios", "last_used": "2024-07-01 10:00:00+00:00", "push": True,
     "version": "1.2.3", "build": 42, "ratio": 0.5, "price": "9.99"},
    {"person": "ok-2", "token": "t2", "platform": "Android", "push": False, "build": 2**53 + 1, "ratio": "NaN"},
    {"person": "ok-3", "token": "t3", "platform": "IOS"},
    {"person": "py-space", "token": "t4", "platform": " ios"},
    {"person": "rej-web", "token": "t5", "platform": "web"},
    {"person": "rej-dotted", "token": "t6", "platform": "İOS"},
    {"person": "rej-none", "token": "t7"},
    {"person": "rej-blank-token", "token": " ", "platform": "ios"},
    {"person": "py-unicode-token", "token": "é", "platform": "ios"},
    {"person": "py-json", "token": "t8", "platform": "ios", "meta": {"a": 1}, "because": "meta"},
    {"person": "ok-quote", "token": 't"9\\', "platform": "android", "version": 'v"1\n'},
]  # fmt: skip


def test_devices_deleted_with_their_person(warehouse: Warehouse) -> None:
    w = warehouse
    relation = w.model("edge_devices", DEVICE_COLUMNS, DEVICE_ROWS)
    names = [c for c, t in DEVICE_COLUMNS if TYPES[t][w.target] is not None]
    attributes = {"push_enabled": "push", "app_version": "version", "build": "build", "ratio": "ratio",
                  "price": "price", **({"meta": "meta"} if "meta" in names else {})}  # fmt: skip
    sync = make_sync(w, "device", "edge_devices", relation, names, identifier=Identifier("person"), token="token",
                     platform="platform", last_used="last_used", on_delete="delete", attributes=attributes)  # fmt: skip
    expect = _pair_expect((150, None))
    first = compare(w, sync)
    check(w, sync, first, expect=expect)
    commit_all(w, sync, first)
    w.model("edge_devices", DEVICE_COLUMNS, [{**DEVICE_ROWS[0], "version": "1.2.4"}])
    check(w, sync, compare(w, sync), expect=expect)


# -- collections ----------------------------------------------------------------------------------------


def test_collection_rows(warehouse: Warehouse) -> None:
    """Each row as ``collection_data`` writes it; rows over 10 KB, and values Python cannot send, flagged."""
    from dbt_cio.customerio.limits import MAX_COLLECTION_ROW_BYTES
    from dbt_cio.errors import CollectionError
    from dbt_cio.payloads.collections import collection_data

    w = warehouse
    columns = [("sku", "text"), ("price", "dec"), ("stock", "bigint"), ("ratio", "double"), ("added", "date"),
               ("spec", "json"), ("blob", "blob"), ("notes", "text")]  # fmt: skip
    names = [c for c, t in columns if TYPES[t][w.target] is not None]  # the columns this warehouse has
    empty = {c: "ok-10000" if c == "sku" else "" if c == "notes" else None for c in names}
    room = MAX_COLLECTION_ROW_BYTES - len(_encode(empty).encode())
    rows: list[dict[str, Any]] = [
        {"sku": "ok-1", "price": "9.99", "stock": 3, "ratio": 0.5, "added": "2024-07-01", "spec": {"w": 1.5}},
        {
            "sku": "ok-2",
            "price": "12345678901234567890.5",
            "stock": 2**53 + 1,
            "ratio": "Infinity",
            "notes": "é\n",
        },
        {"sku": "ok-10000", "notes": "n" * room},
        {"sku": "rej-10001", "notes": "n" * (room + 1)},
        {"sku": "rej-blob", "blob": b"\x01", "because": "blob"},
        {"sku": "py-spec", "spec": '{"big": 12345678901234567890}', "because": "spec"},
    ]
    relation = w.model("edge_products", columns, rows)
    sync = make_sync(w, "collection", "edge_products", relation, names, collection=NamedRef(name="products"))
    store = w.state.store
    store.compute_diff(sync)  # the column types are read from the diff table
    plan = render_plan(sync, w.json_sql, store.column_types(sync), now=NOW)
    pages = [plan.decode(rows) for rows in store.iter_row_pages(sync, plan.page_sql, 2)]
    python_rows = [row for page in store.iter_rows(sync, 2) for row in page]
    rendered = {seq: data for page in pages for seq, _key, data in page.items}
    flagged = {change.seq for page in pages for change in page.python}
    assert len(rendered) + len(flagged) == len(python_rows)
    for seq, row in enumerate(python_rows, start=1):
        expected = by_prefix(str(row["sku"]), "added")
        if row["sku"] == "ok-10000" and not w.json_sql.exact:  # within NUMBER_SLACK of the limit: Python's
            expected = "py"
        assert (seq in flagged) == (expected != "ok"), row["sku"]
        try:
            data = _encode(collection_data(sync, [row])[0]).encode()
        except CollectionError:
            assert expected == "rej", row["sku"]
            continue
        assert expected != "rej", row["sku"]
        if seq in rendered:
            _strict(json.loads(rendered[seq]), json.loads(data), str(row["sku"]))
            assert len(rendered[seq]) >= len(data) if "spec" in names else len(rendered[seq]) == len(data)
    assert plan.collection_json(pages) is None  # flagged rows: the collection is built by Python
    good = [page for page in pages if not page.python]
    assert plan.collection_json(good) == [data for page in good for _s, _k, data in page.items]


# -- numbers, many of them ------------------------------------------------------------------------------


def _random_doubles(n: int) -> list[float]:
    import math
    import random
    import struct

    rng = random.Random(14)
    out: list[float] = [5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e15, 1e16, 1e-4, 1e-5,
                        9999999999999998.0, 999999999999999.9, 0.1, 100.0, -0.0, 0.0, 2.0**53, 2.0**53 + 2]  # fmt: skip
    while len(out) < n:
        pick = rng.random()
        if pick < 0.3:
            x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        elif pick < 0.5:
            x = rng.uniform(-1e6, 1e6)
        elif pick < 0.7:
            x = round(rng.uniform(-1000, 1000), rng.randint(0, 6))
        elif pick < 0.85:
            x = rng.randint(1, 999) * 10.0 ** rng.randint(-20, 22)
        else:
            x = rng.randint(-(2**53), 2**53) / 10 ** rng.randint(0, 18)
        if math.isfinite(x):
            out.append(x)
    return out


def test_doubles_are_written_as_pythons_repr(warehouse: Warehouse) -> None:
    """Thousands of doubles (random bit patterns, decimals, powers of ten, the 1e15/1e16 and 1e-4 edges)
    rendered by the warehouse, against Python's JSON of the same value as the driver returns it."""
    w = warehouse
    d = w.session.dialect
    values = _random_doubles(4_000 if w.target == "spark" else 20_000)  # Spark plans a VALUES list slowly
    kind = "float8" if w.target == "postgres" else "double"
    rows = ", ".join(f"({i}, {d.literal(repr(v))})" for i, v in enumerate(values))
    table = f"(select i, cast(t as {kind}) as v from (values {rows}) s(i, t))"
    in_range = "v = 0 or abs(v) between 1e-30 and 1e30"  # what a 4-byte float holds without an error
    for sql_kind, expression, where in (("double", "v", "1 = 1"), ("float4", "cast(v as real)", in_range)):
        rendered = w.json_sql.value(expression, sql_kind)  # type: ignore[arg-type]
        query = f"select i, {expression}, {rendered} from {table} x where {where} order by i"
        _cols, fetched = w.session.query(query, "rendering doubles")
        for _i, v, text in fetched:
            python = _encode(v if math.isfinite(v) else None)
            if w.target == "duckdb":  # DuckDB writes Python's repr, to the byte
                assert text == python, (sql_kind, v, text)
            else:  # PostgreSQL at times writes 17 digits where the repr needs fewer: the same double, longer;
                # Spark writes Java's Double.toString (1.0E16, 4.9E-324): the same double, in other words
                _strict(json.loads(text), json.loads(python), f"{sql_kind} {v!r}")
                if w.json_sql.exact:
                    assert len(text) >= len(python), (sql_kind, v, text)


def test_decimals_are_written_as_python_writes_them(warehouse: Warehouse) -> None:
    """Random decimals of 1 to 38 digits in DECIMAL(38,10) (and unbounded numeric on PostgreSQL): each either
    left to Python (16-17 or over 28 significant digits), or written exactly as Python writes it."""
    import random

    from dbt_cio.customerio.values import to_json

    w = warehouse
    rng = random.Random(1414)
    texts = ["0", "-0.0000000001", "0.0001", "0.00009", "9007199254740992", "9007199254740993", "1200.5"]
    for _ in range(5000):
        digits = rng.randint(1, 28)
        scale = rng.randint(0, min(10, digits))
        number = str(rng.randint(10 ** (digits - 1), 10**digits - 1))
        text = (number[:-scale] or "0") + "." + number[-scale:].rjust(scale, "0") if scale else number
        texts.append(("-" if rng.random() < 0.3 else "") + text)
    d = w.session.dialect
    types = ["decimal(38,10)"] + (["numeric"] if w.target == "postgres" else [])
    for type_ in types:
        rows = ", ".join(f"({i}, {d.literal(t)})" for i, t in enumerate(texts))
        table = f"(select i, cast(t as {type_}) as v from (values {rows}) s(i, t))"
        value, needs = w.json_sql.value("v", "decimal"), w.json_sql.fill("decimal_needs_python", "v")
        _cols, fetched = w.session.query(
            f"select i, v, {value}, {needs} from {table} x order by i", "decimals"
        )
        left_to_python = 0
        for _i, v, text, python in fetched:
            if python:
                left_to_python += 1
                continue
            assert text == _encode(to_json(v)), (type_, v, text)
        assert 0 < left_to_python < len(fetched) / 4, left_to_python
