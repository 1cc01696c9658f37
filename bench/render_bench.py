"""Benchmark: a diff of 1,000,000 people (or events) turned into item bytes ready to pack, rendered by the
warehouse (``dbt_cio.payloads.rendered``) against today's Python path.

For each ``--target`` (duckdb in process, postgres on 127.0.0.1:5432):

1. copy ``integration_tests/`` to ``bench/.work/render_<target>/`` and build ``cio_bulk_people`` (a person
   sync: id and 7 attributes, text, a double, a boolean) or, with ``--events``, ``cio_bulk_events`` (an event
   per row: id, person, name, a number; each gets its ULID) with ``--rows`` rows, through dbt;
2. load the project in this process and compute the sync's diff in the warehouse (every row added: a first
   sync), as ``dbt-cio sync`` does;
3. run each path over the whole diff, in turn, ``--repeat`` times (alternating, so a busy machine hurts both):

   - **python**: ``StateStore.iter_changes`` (pages of 10,000 rows, the engine's) -> the sync's mapper -> the
     sender's JSON encoding -> ``check_item`` (today's send path, without packing and HTTP);
   - **rendered**: ``StateStore.read_page`` with ``RenderPlan.page_sql`` (same page size) ->
     ``RenderPlan.decode`` (bytes; events get their ULID spliced in).

   Both end with one ``bytes`` per item, which is what the sender packs; the runs check that both paths
   made the same number of items and that a sample of them parse to the same JSON.

Reported per path: rows/s over the wall time, and CPU seconds: this process's (DuckDB's threads included),
and for PostgreSQL its server backend's for our connection (a process of its own). Best of the repeats and
every run. Run by hand (never in CI); figures go to bench/README.md::

    python bench/render_bench.py                             # 1,000,000 people, DuckDB and PostgreSQL
    python bench/render_bench.py --target duckdb --events    # 1,000,000 events
    python bench/render_bench.py --typed                     # people with instants and a decimal

``--typed`` adds to each person a timestamp with time zone, a timestamp, a date and a ``decimal(12,2)`` (a table
made from ``cio_bulk_people`` in the warehouse, synced as a person with those four attributes more), and a
third path, **python+casts**: the Python path reading the page as ``dbt_cio.warehouse.casts`` converts it
(instants as Unix seconds, the decimal as a double), as ``dbt-cio sync`` does where the Python path sends.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work"
DBT = str(Path(sys.executable).parent / "dbt")
PAGE_SIZE = 10_000  # the engine's (dbt_cio.engine.run.PAGE_SIZE)
NOW = 1_750_000_000
_IGNORE = shutil.ignore_patterns("target", "logs", "*.duckdb*", "dbt_packages", ".user.yml")


def build(target: str, rows: int, model: str) -> tuple[Path, dict[str, str]]:
    root = WORK / f"render_{target}"
    shutil.rmtree(root, ignore_errors=True)
    project = root / "project"
    shutil.copytree(REPO / "integration_tests", project, ignore=_IGNORE)
    env = {"DBT_CIO_DUCKDB_PATH": str(root / "warehouse.duckdb"), "DBT_CIO_PG_SCHEMA": "dbt_cio_render_bench"}
    os.environ.update(env)
    drop_pg_schemas(target)
    variables = json.dumps({"bulk_people": rows, "bulk_events": rows})
    proc = subprocess.run(  # noqa: PLW1510 - checked below
        [DBT, "run", "--select", model, "--vars", variables, "--project-dir", str(project),
         "--profiles-dir", str(project), "--target", target],
        cwd=project, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"dbt run failed:\n{proc.stdout}\n{proc.stderr}")
    return project, env


def drop_pg_schemas(target: str) -> None:
    if target != "postgres":
        return
    import psycopg2

    with (
        psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test") as conn,
        conn.cursor() as cur,
    ):
        for schema in ("dbt_cio_render_bench", "dbt_cio_render_bench_dbt_cio"):
            cur.execute(f'drop schema if exists "{schema}" cascade')


def cpu() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


class Paths:
    """The loaded project, the sync and its computed diff; each path as a callable returning item bytes."""

    def __init__(self, project_dir: Path, target: str, model: str, rows: int, typed: bool = False):
        from dataclasses import replace

        from dbt_cio.contract.resolve import load_syncs
        from dbt_cio.project import DbtArgs, Project
        from dbt_cio.warehouse.schema import StateSchema

        self.project = Project.load(
            DbtArgs(project_dir=project_dir, profiles_dir=project_dir, target=target,
                    vars={"bulk_people": rows, "bulk_events": rows})
        )  # fmt: skip
        self.session = self.project.session
        self.session.connect()
        [node] = [n for n in self.project.all_nodes() if n["name"] == model]
        [self.sync] = load_syncs([node], lambda n: self.project.columns_of(n))
        if typed:  # four typed attributes more, in a table of their own
            base = self.sync.relation
            relation = base.replace(model, "bench_typed") if model in base else f"{base}_typed"
            tstz = {"duckdb": "timestamptz", "postgres": "timestamptz"}[target]
            with self.session.transaction("making the typed table"):
                self.session.execute(f"drop table if exists {relation}")
                self.session.execute(
                    f"create table {relation} as select *, "
                    f"cast('2020-01-01 00:00:00+00' as {tstz}) + cast(person_id as bigint) * interval '1 second' as seen_at, "
                    f"cast('2021-06-01 12:00:00' as timestamp) - cast(person_id as bigint) * interval '1 minute' as signed_up, "
                    f"cast('2022-01-01' as date) + cast(cast(person_id as bigint) % 3650 as integer) as renewal, "
                    f"cast(cast(person_id as bigint) % 100000 / 7.0 as decimal(12,2)) as balance from {base}"
                )  # fmt: skip
            extra = ("seen_at", "signed_up", "renewal", "balance")
            self.sync = replace(self.sync, name="bench_typed", model="bench_typed", relation=relation,
                                columns=(*self.sync.columns, *extra),
                                attributes={**self.sync.attributes, **{c: c for c in extra}})  # fmt: skip
        self.state = StateSchema.open(self.session, self.project.state_schema, self.project.database)
        t0 = time.perf_counter()
        self.summary = self.state.store.compute_diff(self.sync)
        self.diff_s = time.perf_counter() - t0
        assert self.summary.added == rows, self.summary
        self.backend: psutil.Process | None = None
        if target == "postgres":
            _cols, found = self.session.query("select pg_backend_pid()", "finding the backend")
            self.backend = psutil.Process(int(found[0][0]))

    def warehouse_cpu(self) -> float:
        if self.backend is None:
            return 0.0
        times = self.backend.cpu_times()
        return times.user + times.system

    def casts(self) -> list[bytes]:
        from dbt_cio.warehouse.casts import page_casts
        from dbt_cio.warehouse.jsonsql import JsonSql

        j = JsonSql.render(self.session.dialect, self.session.call_macro)
        casts = page_casts(self.sync, j, self.state.store.column_types(self.sync, sized=True))
        assert casts, "nothing to convert: run with --typed"
        return self.python(casts)

    def python(self, casts: Any = None) -> list[bytes]:
        from dbt_cio.customerio.limits import check_item
        from dbt_cio.payloads.mappers import mapper_for

        encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
        mapper = mapper_for(self.sync, now=NOW)
        out: list[bytes] = []
        append = out.append
        store, table = self.state.store, self.summary.table
        for page in store.iter_changes(self.sync, page_size=PAGE_SIZE, diff=table, casts=casts):
            for change in page:
                for op in mapper(change, change):
                    data = encode(op.item).encode()  # type: ignore[union-attr]
                    if check_item(op.item, len(data)) is None:  # type: ignore[union-attr]
                        append(data)
        return out

    def rendered(self) -> list[bytes]:
        from dbt_cio.payloads.rendered import render_plan
        from dbt_cio.warehouse.jsonsql import JsonSql

        j = JsonSql.render(self.session.dialect, self.session.call_macro)
        plan = render_plan(self.sync, j, self.state.store.column_types(self.sync), now=NOW)
        out: list[bytes] = []
        store, pages = self.state.store, count()
        for rows in iter(
            lambda: store.read_page(self.sync, plan.page_sql, next(pages), PAGE_SIZE, self.summary.table), []
        ):
            page = plan.decode(rows)
            assert not page.python, page.python[:3]
            out.extend(data for _seq, _key, data in page.items)
        return out


def measure(paths: Paths, name: str, run: Callable[[], list[bytes]]) -> tuple[dict[str, float], list[bytes]]:
    c0, w0, t0 = cpu(), paths.warehouse_cpu(), time.perf_counter()
    items = run()
    wall = time.perf_counter() - t0
    return {
        "wall": wall,
        "cpu": cpu() - c0,
        "warehouse": paths.warehouse_cpu() - w0,
        "items": len(items),
    }, items


def same(python: list[bytes], rendered: list[bytes], sample: int = 2000) -> None:
    assert len(python) == len(rendered), (len(python), len(rendered))
    for i in random.Random(0).sample(range(len(python)), min(sample, len(python))):
        assert json.loads(python[i]) == json.loads(rendered[i]), (python[i], rendered[i])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--target", choices=("duckdb", "postgres", "both"), default="both")
    parser.add_argument("--events", action="store_true", help="cio_bulk_events instead of cio_bulk_people")
    parser.add_argument("--typed", action="store_true", help="people with instants and a decimal (see above)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep bench/.work/render_<target>/ afterwards")
    opts = parser.parse_args()
    model = "cio_bulk_events" if opts.events else "cio_bulk_people"
    targets = ("duckdb", "postgres") if opts.target == "both" else (opts.target,)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"render benchmark: {opts.rows:,} rows of {model}; {os.cpu_count()} CPUs; load average {load}",
        flush=True,
    )
    lines = []
    for target in targets:
        project_dir, _env = build(target, opts.rows, model)
        paths = Paths(project_dir, target, model, opts.rows, opts.typed)
        print(f"  {target}: diff computed in {paths.diff_s:.1f} s", flush=True)
        ways: list[tuple[str, Callable[[], list[bytes]]]] = [
            ("python", paths.python),
            ("rendered", paths.rendered),
        ]
        if opts.typed:
            ways.insert(1, ("python+casts", paths.casts))
        runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in ways}
        kept: dict[str, list[bytes]] = {}
        for _ in range(opts.repeat):
            for name, run in ways:
                figures, items = measure(paths, name, run)
                runs[name].append(figures)
                kept[name] = items
                print(f"    {name:>8}: {figures['wall']:.2f} s wall, {figures['cpu']:.2f} s CPU"
                      + (f" (+{figures['warehouse']:.2f} s server)" if target == "postgres" else ""), flush=True)  # fmt: skip
        same(kept["python"], kept["rendered"])
        if opts.typed:
            assert kept["python"] == kept["python+casts"], "the casts changed an item"
        size = sum(map(len, kept["rendered"])) / len(kept["rendered"])
        for name, figures in runs.items():
            best = min(figures, key=lambda f: f["wall"])
            server = f"{best['warehouse']:.1f}" if target == "postgres" else "-"
            every = ", ".join(f"{f['wall']:.2f}" for f in figures)
            lines.append(
                f"| {target:<8} | {name:<12} | {opts.rows / best['wall']:>10,.0f} | {best['wall']:>6.2f} | "
                f"{best['cpu']:>7.2f} | {server:>8} | {every} |"
            )
        print(
            f"    items {len(kept['rendered']):,}, {size:.0f} bytes each on average; samples parse the same",
            flush=True,
        )
        paths.project.close()
        if not opts.keep:
            drop_pg_schemas(target)
            shutil.rmtree(WORK / f"render_{target}", ignore_errors=True)
    print("| target   | path         |     rows/s | wall s |   CPU s | server s | every run (wall s) |")
    print("|----------|--------------|------------|--------|---------|----------|--------------------|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
