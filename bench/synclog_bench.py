"""Benchmark: what the sync log adds to the end of a first sync, on DuckDB (or ``--target postgres``).

Accepted operations are logged by the warehouse when the ledger is folded into the state (one
``insert ... select``); this measures that fold with and without the log, alternating, on a first sync of
``--rows`` people (every row added, acknowledged in requests of ``--per-request`` rows, as the sender does):

1. forget the state, compute the diff, append every row to the ledger (one commit per 50,000 rows);
2. fold the ledger into the state, with the log's ``insert ... select`` (``log``) or without (``no log``),
   timing the fold's wall time and the process's CPU time (DuckDB runs in this process; on PostgreSQL the
   server's CPU is not counted, so compare wall times there).

    python bench/synclog_bench.py --rows 1000000 --repeat 3
    python bench/synclog_bench.py --rows 1000000 --target postgres
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from dbt_cio.contract.model import Identifier, Sync
from dbt_cio.project import DbtArgs, Project
from dbt_cio.warehouse.ledger import Acknowledged
from dbt_cio.warehouse.schema import StateSchema

COLUMNS = ("id", "email", "plan", "lifetime_value", "signed_up_at", "is_active")
REPO = Path(__file__).resolve().parent.parent


def write_project(root: Path, target: str) -> None:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: synclog_bench\nversion: '1.0'\nconfig-version: 2\nprofile: synclog_bench\nmodel-paths: [models]\n"
    )
    schema = f"synclog_bench_{os.getpid()}"
    (root / "profiles.yml").write_text(
        f"synclog_bench:\n  target: {target}\n  outputs:\n"
        f"    duckdb:\n      type: duckdb\n      path: '{root / 'bench.duckdb'}'\n      schema: main\n      threads: 1\n"
        f"    postgres:\n      type: postgres\n      host: 127.0.0.1\n      port: 5432\n      user: postgres\n"
        f"      password: ''\n      dbname: test\n      schema: {schema}\n      threads: 1\n"
    )
    (root / "models" / "placeholder.sql").write_text("select 1 as id\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-request", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--target", choices=["duckdb", "postgres"], default="duckdb")
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        write_project(tmp, opts.target)
        with Project.load(DbtArgs(project_dir=tmp, profiles_dir=tmp)) as project:
            session = project.session
            people = session.relation(project.database, project.target_schema, "people")
            create = (
                f"create table {people} as select cast(i as varchar) as id, 'user' || i || '@example.com' as email, "
                "case i % 3 when 0 then 'free' when 1 then 'pro' else 'team' end as plan, "
                "cast(i as decimal(18, 2)) / 7 as lifetime_value, "
                "timestamp '2024-01-01' + i * interval '1 second' as signed_up_at, i % 2 = 0 as is_active "
                + (f"from range({opts.rows}) t(i)" if opts.target == "duckdb"
                   else f"from generate_series(0, {opts.rows - 1}) t(i)")
            )  # fmt: skip
            session.run(session.create_schema, project.database, project.target_schema)
            with session.transaction("creating the model"):
                session.run(session.execute, create)
            sync = Sync(
                name="people", model="people", unique_id="model.synclog_bench.people", relation=people,
                type="person", columns=COLUMNS, identifier=Identifier("id"),
                attributes={c: c for c in COLUMNS[1:]},
            )  # fmt: skip
            state = StateSchema.open(session, project.state_schema, project.database, mode=project.state_mode)
            session.run(state.tables.ensure)
            times: dict[str, list[tuple[float, float]]] = {"no log": [], "log": []}
            for _ in range(opts.repeat):
                for label in ("no log", "log"):
                    session.run(state.store.forget, sync.name)
                    summary = session.run(state.store.compute_diff, sync)
                    assert summary.added == opts.rows, summary
                    step = opts.per_request
                    groups = [Acknowledged(range(lo, min(lo + step, opts.rows + 1)), lo // step + 1, 200)
                              for lo in range(1, opts.rows + 1, step)]  # fmt: skip
                    per_commit = max(1, 50_000 // step)
                    for i in range(0, len(groups), per_commit):
                        session.run(state.store.commit, sync, groups[i : i + per_commit], "bench-run")
                    cpu0, t0 = time.process_time(), time.perf_counter()
                    session.run(lambda: state.store.fold(sync, log=label == "log"))  # noqa: B023
                    times[label].append((time.perf_counter() - t0, time.process_time() - cpu0))
            _cols, rows = session.run(
                session.query, f"select count(*) from {state.log.relation(sync.name)}", ""
            )
            assert int(rows[0][0]) == opts.rows * opts.repeat
            if opts.target == "postgres":
                for schema in (project.target_schema, project.state_schema):
                    with session.transaction("dropping the bench schemas"):
                        session.run(session.execute, f'drop schema if exists "{schema}" cascade')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"fold of a first sync of {opts.rows:,} rows on {opts.target} ({opts.repeat} alternating runs each):"
    )
    for label, runs in times.items():
        walls = ", ".join(f"{w:.2f}" for w, _c in runs)
        cpus = ", ".join(f"{c:.2f}" for _w, c in runs)
        print(f"  {label:<7} wall s: {walls}  (median {statistics.median(w for w, _ in runs):.2f}); "
              f"CPU s: {cpus}")  # fmt: skip


if __name__ == "__main__":
    main()
