"""Benchmark: what committing acknowledged rows to state costs, on DuckDB or PostgreSQL, through dbt's adapter.

Builds a throwaway dbt project (a DuckDB file, or a schema of its own on the local PostgreSQL) with a model of
``--rows`` people, computes the first diff (every row added; not timed) and then times the **state commit** of
all of them as the engine does it: one commit per 50,000 acknowledged rows (``--commit-rows``), then the
end of the run. Then 1% of the rows change, and the commit of those 1% into a state that holds every row is
timed the same way.

Whichever dbt-cio is importable is measured, so the same script times both sides of a change:

- *before* (dbt-cio before the ledger, e.g. ``PYTHONPATH=<checkout of 0f2a833^>``): each commit deletes the
  acknowledged keys from state and inserts them again with their new hash, in one transaction;
- *after*: each commit is one insert of row ranges into the ledger, and the ledger is folded into the state
  once at the end: in place (``--state-mode transactional``, the default on DuckDB and PostgreSQL) or by
  rebuilding the state table (``--state-mode append_only``, as on Spark, BigQuery, Databricks).

Printed per phase (with ``--rows 1000000`` the first phase is the cost per 1,000,000 rows): wall seconds, this process's CPU seconds (DuckDB runs inside it) and, on PostgreSQL, the
CPU seconds of the server process that served the connection.

    python bench/commit_bench.py --target duckdb --rows 1000000
    PYTHONPATH=/tmp/dbt-cio-before python bench/commit_bench.py --target postgres
"""

from __future__ import annotations

import argparse
import inspect
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

import dbt_cio
from dbt_cio.contract.model import Identifier, Sync
from dbt_cio.project import DbtArgs, Project
from dbt_cio.warehouse.schema import StateSchema

COLUMNS = ("id", "email", "plan", "lifetime_value", "is_active")
PEOPLE = {
    "duckdb": (
        "create or replace table {schema}.people as select cast(i as varchar) as id, "
        "'user' || i || '@example.com' as email, case i % 3 when 0 then 'free' when 1 then 'pro' else 'team' end "
        "as plan, cast(i as decimal(18, 2)) / 7 as lifetime_value, i % 2 = 0 as is_active from range({rows}) t(i)"
    ),
    "postgres": (
        "create table {schema}.people as select cast(i as text) as id, "
        "'user' || i || '@example.com' as email, case i % 3 when 0 then 'free' when 1 then 'pro' else 'team' end "
        "as plan, cast(i as decimal(18, 2)) / 7 as lifetime_value, i % 2 = 0 as is_active "
        "from generate_series(0, {rows} - 1) t(i)"
    ),
}
CHANGE = "update {schema}.people set plan = plan || '-changed' where cast(id as bigint) % 100 = 0"


def write_project(root: Path, target: str, schema: str) -> None:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: commit_bench\nversion: '1.0'\nconfig-version: 2\nprofile: commit_bench\nmodel-paths: [models]\n"
    )
    if target == "duckdb":
        output = f"type: duckdb\n      path: '{root / 'bench.duckdb'}'\n      schema: {schema}"
    else:
        output = (f"type: postgres\n      host: 127.0.0.1\n      port: 5432\n      user: postgres\n"
                  f"      password: ''\n      dbname: test\n      schema: {schema}")  # fmt: skip
    (root / "profiles.yml").write_text(
        f"commit_bench:\n  target: {target}\n  outputs:\n    {target}:\n      {output}\n      threads: 1\n"
    )
    (root / "models" / "placeholder.sql").write_text("select 1 as id\n")


class Meter:
    """Wall and CPU seconds of a phase: this process's, and the database server process's when there is one."""

    def __init__(self, server_pid: int | None) -> None:
        self.server = psutil.Process(server_pid) if server_pid else None

    def _server_cpu(self) -> float:
        if self.server is None:
            return 0.0
        times = self.server.cpu_times()
        return float(times.user + times.system)

    def measure(self, fn: Callable[[], Any]) -> tuple[float, float, float]:
        wall, cpu, server = time.perf_counter(), time.process_time(), self._server_cpu()
        fn()
        return time.perf_counter() - wall, time.process_time() - cpu, self._server_cpu() - server


def commit_all(store: Any, sync: Sync, first: int, last: int, step: int, every: int) -> int:
    """Commit the diff rows ``first..last`` (every ``step``-th), ``every`` at a time, then end the run as the
    engine does; returns the number of commits."""
    commits = 0
    acked: list[int] = []
    run_id = uuid.uuid4().hex
    for seq in range(first, last + 1, step):
        acked.append(seq)
        if len(acked) >= every:
            store.commit(sync, acked, run_id)
            commits += 1
            acked = []
    if acked:
        store.commit(sync, acked, run_id)
        commits += 1
    if hasattr(store, "fold"):  # after: the ledger is folded into the state once, at the end of the run
        started = time.perf_counter()
        store.fold(sync)
        FOLD_SECONDS.append(time.perf_counter() - started)
    return commits


FOLD_SECONDS: list[float] = []  # wall seconds of each fold (after only), printed beside the phase


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=sorted(PEOPLE), default="duckdb")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--commit-rows", type=int, default=50_000)
    parser.add_argument("--state-mode", choices=("auto", "transactional", "append_only"), default="auto")
    opts = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:8]}" if opts.target == "postgres" else "main"
    version = (
        "after"
        if hasattr(__import__("dbt_cio.warehouse.state", fromlist=["x"]).StateStore, "fold")
        else "before"
    )
    label = (
        f"{version}, state mode {opts.state_mode}"
        if version == "after"
        else "before (delete + insert per commit)"
    )
    rows: list[tuple[str, int, int, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_project(root, opts.target, schema)
        with Project.load(DbtArgs(project_dir=root, profiles_dir=root)) as project:
            session = project.session
            session.connect()
            adapter = project.adapter
            server_pid = None
            if opts.target == "postgres":
                adapter.execute(f'create schema if not exists "{schema}"', auto_begin=True)
                _r, table = adapter.execute("select pg_backend_pid()", fetch=True)
                server_pid = int(table.rows[0][0])
            adapter.execute(PEOPLE[opts.target].format(schema=schema, rows=opts.rows), auto_begin=True)
            adapter.connections.commit()
            sync = Sync(
                name="people", model="people", unique_id="model.commit_bench.people",
                relation=session.relation(project.database, schema, "people"), type="person", columns=COLUMNS,
                identifier=Identifier("id"), attributes={c: c for c in COLUMNS[1:]},
            )  # fmt: skip
            kwargs = (
                {"mode": opts.state_mode} if "mode" in inspect.signature(StateSchema.open).parameters else {}
            )
            state = StateSchema.open(session, project.state_schema, project.database, **kwargs)
            state.tables.ensure()
            store = state.store
            meter = Meter(server_pid)
            try:
                first = store.compute_diff(sync)
                assert first.added == opts.rows, first
                commits = 0

                def everything() -> None:
                    nonlocal commits
                    commits = commit_all(store, sync, 1, opts.rows, 1, opts.commit_rows)

                rows.append((f"first sync: {opts.rows:,} rows", 0, 0, *meter.measure(everything)))
                rows[-1] = (rows[-1][0], commits, opts.rows, *rows[-1][3:])
                adapter.execute(CHANGE.format(schema=schema), auto_begin=True)
                adapter.connections.commit()
                second = store.compute_diff(sync)
                changed = opts.rows // 100
                assert (second.added, second.changed, second.removed) == (0, changed, 0), second

                def one_percent() -> None:
                    nonlocal commits
                    commits = commit_all(store, sync, 1, changed, 1, opts.commit_rows)

                rows.append(
                    (f"1% changed: {changed:,} rows into {opts.rows:,}", 0, 0, *meter.measure(one_percent))
                )
                rows[-1] = (rows[-1][0], commits, changed, *rows[-1][3:])
                assert len(store.state_keys("people")) == opts.rows
            finally:
                if opts.target == "postgres":
                    adapter.connections.rollback_if_open()
                    for name in (schema, project.state_schema):
                        adapter.execute(f'drop schema if exists "{name}" cascade', auto_begin=True)
                    adapter.connections.commit()
    where = Path(dbt_cio.__file__).resolve().parent.parent
    print(f"commit benchmark on {opts.target}: {label} (dbt_cio from {where})")
    folds = [f"  (of which the fold: {seconds:.2f} s wall)" for seconds in FOLD_SECONDS] or ["", ""]
    for (name, commits, _count, wall, cpu, server), fold in zip(rows, folds, strict=False):
        print(
            f"  {name:<36} {commits:3d} commits  wall {wall:7.2f} s  cpu {cpu:7.2f} s  server cpu {server:7.2f} s"
            f"{fold}"
        )


if __name__ == "__main__":
    main()
