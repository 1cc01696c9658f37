"""Benchmark: ``dbt-cio sync`` end to end, DuckDB (or ``--target postgres``) to the emulator, as a user runs it.

For each ``--rows`` N (default 1,000,000; give several to compare, e.g. ``--rows 100000 1000000``):

1. copy ``integration_tests/`` to ``bench/.work/<N>/`` (gitignored), with its own DuckDB file, and build
   ``cio_bulk_people`` (a person sync: id + 7 attributes) with ``--vars '{bulk_people: N}'``;
2. start the emulator CLI (``dbt-cio emulator``) in its own process on a free port, with OpenAPI schema
   validation OFF (``--no-validate-schema``: the full validation is exercised by the tests; data limits are
   still enforced);
3. run the real CLI ``dbt-cio sync --select cio_bulk_people`` in a subprocess at the default ceiling
   (150 requests/s, burst 600: no rate flags), measuring its wall time, its peak resident memory (the kernel's
   ``ru_maxrss`` of that one child, from ``wait4``) and its CPU time, and the emulator's CPU time;
4. check through ``GET /_emulator/stats`` that the emulator accepted exactly N items (one identify each), and
   through ``target/dbt_cio_run_results.json`` that the sync accepted N rows;
5. rebuild with ``bulk_version: 2`` (the cohort of every hundredth person changes: N/100 rows) and sync
   again: same measures, exactly N/100 more items must arrive.

With ``--render python warehouse`` (and ``--repeat K``) only step 3 is measured, for 1M *new* people: after
the first run each run is ``--full-refresh`` (the state is forgotten, every row is sent again as new), with
``DBT_CIO_RENDER`` set to each mode in turn, alternating (python, warehouse, python, ...), so both meet the
same machine load. ``--count-only`` starts the emulator as a receiver that only counts items, checking and
storing nothing (its state would otherwise grow by N people a run). The sync's CPU is its user + system time, from
``resource.getrusage(RUSAGE_CHILDREN)`` around the run.

With ``--log none errors`` (and ``--repeat K``) the same, alternating the block's ``log`` key instead
(written into the copied project's schema.yml before each run, so each run re-parses the project): what the sync
log costs a first sync. Both flags together alternate every combination.

"wall s" is the whole command as a user sees it (Python start-up, dbt parsing the project, the region check);
"sync s" is the sync itself as the CLI reports it (lock, diff, send, commit); rows/min is over "sync s".

    python bench/sync_bench.py                       # 1,000,000 rows
    python bench/sync_bench.py --rows 100000 1000000 # memory flat in the row count?
    python bench/sync_bench.py --rows 100000 1000000 --target postgres  # the warehouse in a process of its own
    python bench/sync_bench.py --render python warehouse --repeat 3 --count-only  # the two send paths
    python bench/sync_bench.py --log none errors --repeat 3 --count-only  # the sync log's cost
    python bench/sync_bench.py --render python warehouse --events --count-only  # N new events
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work"
BIN = Path(sys.executable).parent
DBT, DBT_CIO = str(BIN / "dbt"), str(BIN / "dbt-cio")
MODEL = "cio_bulk_people"
EVENTS_MODEL = "cio_bulk_events"  # --events: an event sync (event id, name column, 1 attribute), N events
_IGNORE = shutil.ignore_patterns("target", "logs", "*.duckdb*", "dbt_packages", ".user.yml")


@dataclass(frozen=True)
class Measure:
    """One ``dbt-cio sync`` run."""

    label: str
    rows: int  # rows the sync had to send (added + changed + removed)
    wall_s: float  # the whole command, start-up and dbt's project parsing included
    sync_s: float  # the sync itself (diff, send, commit), as the CLI reports it
    cpu_s: float  # the sync process's user + system time
    max_rss_mb: float  # the sync process's peak resident set
    emulator_cpu_s: float  # the emulator's CPU time during the run
    items: int  # items the emulator accepted during the run
    requests: int  # requests the sync made (run results)

    @property
    def per_minute(self) -> float:
        return self.rows / self.sync_s * 60 if self.sync_s else 0.0


class Bench:
    """One work directory, one DuckDB file, one emulator process."""

    def __init__(
        self,
        rows: int,
        duckdb_memory_limit: str | None = None,
        target: str = "duckdb",
        count_only: bool = False,
        model: str = MODEL,
    ):
        self.rows = rows
        self.model = model
        self.count_only = count_only
        self.target = target
        self.root = WORK / str(rows)
        shutil.rmtree(self.root, ignore_errors=True)
        self.project = self.root / "project"
        shutil.copytree(REPO / "integration_tests", self.project, ignore=_IGNORE)
        if duckdb_memory_limit:  # DuckDB's own buffer cache otherwise grows to 80% of RAM
            profiles = self.project / "profiles.yml"
            text = profiles.read_text()
            anchor = "      schema: main\n      threads: 2\n"
            assert anchor in text, "integration_tests/profiles.yml changed: update the benchmark"
            settings = f"      settings:\n        memory_limit: '{duckdb_memory_limit}'\n"
            profiles.write_text(text.replace(anchor, anchor + settings, 1))
        self.env = {
            **os.environ,
            "DBT_CIO_DUCKDB_PATH": str(self.root / "warehouse.duckdb"),
            "DBT_CIO_PG_SCHEMA": self.pg_schema,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        self.flags = [
            "--project-dir",
            str(self.project),
            "--profiles-dir",
            str(self.project),
            "--target",
            target,
        ]
        self.drop_pg_schemas()
        self.emulator: subprocess.Popen[str] | None = None
        self.base_url = ""

    @property
    def pg_schema(self) -> str:
        return f"dbt_cio_bench_{self.rows}"

    def drop_pg_schemas(self) -> None:
        """Start (and end) a Postgres run with neither the model's schema nor the state schema."""
        if self.target != "postgres":
            return
        import psycopg2  # installed with dbt-postgres

        env = os.environ
        with psycopg2.connect(
            host=env.get("DBT_CIO_PG_HOST", "127.0.0.1"), port=int(env.get("DBT_CIO_PG_PORT", "5432")),
            user=env.get("DBT_CIO_PG_USER", "postgres"), password=env.get("DBT_CIO_PG_PASSWORD", ""),
            dbname=env.get("DBT_CIO_PG_DATABASE", "test"),
        ) as conn, conn.cursor() as cur:  # fmt: skip
            for schema in (self.pg_schema, f"{self.pg_schema}_dbt_cio"):
                cur.execute(f'drop schema if exists "{schema}" cascade')

    def vars(self, version: int) -> str:
        return json.dumps({"bulk_people": self.rows, "bulk_events": self.rows, "bulk_version": version})

    def build(self, version: int) -> float:
        t0 = time.perf_counter()
        proc = subprocess.run(  # noqa: PLW1510 - the return code is checked below
            [DBT, "run", "--select", self.model, "--vars", self.vars(version), *self.flags],
            cwd=self.project, env=self.env, capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"dbt run failed:\n{proc.stdout}\n{proc.stderr}")
        return time.perf_counter() - t0

    def start_emulator(self) -> None:
        self.emulator = subprocess.Popen(
            [DBT_CIO, "emulator", "--port", "0", "--no-validate-schema", *(["--count-only"] if self.count_only else [])],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert self.emulator.stdout is not None
        for line in self.emulator.stdout:
            if "listening on " in line:
                self.base_url = line.split("listening on ", 1)[1].split()[0]
                break
        else:
            raise SystemExit("the emulator did not start")
        for line in self.emulator.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                self.env[name] = value
            if line.startswith("# state:"):
                break
        self.env["CUSTOMERIO_REGION"] = "us"

    def stop_emulator(self) -> None:
        if self.emulator is not None:
            self.emulator.terminate()
            self.emulator.wait(timeout=30)
            self.emulator = None

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/_emulator/stats", timeout=60) as response:
            return json.loads(response.read())

    def emulator_cpu(self) -> float:
        assert self.emulator is not None
        times = psutil.Process(self.emulator.pid).cpu_times()
        return times.user + times.system

    def sync(
        self, label: str, version: int, expect_rows: int, render: str = "auto", full_refresh: bool = False
    ) -> Measure:
        items0, cpu0 = self.stats()["items"], self.emulator_cpu()
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [DBT_CIO, "sync", "--select", self.model, "--vars", self.vars(version), *self.flags,
             *(["--full-refresh"] if full_refresh else [])],
            cwd=self.project, env={**self.env, "DBT_CIO_RENDER": render}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        output = proc.stdout.read()  # the sync's own output, shown only on failure
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        children = resource.getrusage(
            resource.RUSAGE_CHILDREN
        )  # this sync alone: the only child reaped since
        cpu = (children.ru_utime - children0.ru_utime) + (children.ru_stime - children0.ru_stime)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"dbt-cio sync exited {proc.returncode}:\n{output}")
        items = self.stats()["items"] - items0
        [result] = json.loads((self.project / "target" / "dbt_cio_run_results.json").read_text())["results"]
        counts = result["adapter_response"]  # dbt's run results shape (the counts were top-level before)
        rows = counts["added"] + counts["changed"] + counts["removed"]
        if not (rows == expect_rows == items == counts["accepted"]):
            raise SystemExit(
                f"{label}: expected {expect_rows} rows; sync {result}; emulator accepted {items}"
            )
        return Measure(
            label=label, rows=rows, wall_s=wall, sync_s=result["execution_time"], cpu_s=cpu,
            max_rss_mb=usage.ru_maxrss * 1024 / 1e6, emulator_cpu_s=self.emulator_cpu() - cpu0,
            items=items, requests=counts.get("requests", 0),
        )  # fmt: skip

    def set_log(self, policy: str | None) -> None:
        """Write ``log: <policy>`` into the bench model's block (None: the block as integration_tests has it)."""
        path = self.project / "models" / "schema.yml"
        text = (REPO / "integration_tests" / "models" / "schema.yml").read_text()
        anchor = "          identifier: person_id\n          on_delete: delete\n"
        assert anchor in text, "integration_tests/models/schema.yml changed: update the benchmark"
        if policy is not None:
            text = text.replace(anchor, anchor + f"          log: {policy}\n", 1)
        path.write_text(text)

    def compare(
        self, renders: list[str], logs: list[str | None], repeat: int
    ) -> tuple[list[Measure], dict[str, float]]:
        """N new people synced ``repeat`` times per variant, alternating variants (see the module docstring)."""
        builds = {"build v1 s": self.build(1)}
        self.start_emulator()
        measures = []
        try:
            for round_ in range(repeat):
                for render in renders:
                    for log in logs:
                        self.set_log(log)
                        name = render if log is None else f"{render}, log {log}"
                        label = f"{self.rows:,} new, {name} #{round_ + 1}"
                        measures.append(self.sync(label, 1, self.rows, render, full_refresh=bool(measures)))
        finally:
            self.stop_emulator()
            self.drop_pg_schemas()
        return measures, builds

    def run(self) -> tuple[list[Measure], dict[str, float]]:
        builds = {"build v1 s": self.build(1)}
        self.start_emulator()
        try:
            first = self.sync(f"{self.rows:,} new", 1, self.rows)
            builds["build v2 s"] = self.build(2)
            second = self.sync(f"{self.rows:,}, 1% changed", 2, self.rows // 100)
            third = self.sync(f"{self.rows:,}, unchanged", 2, 0)
        finally:
            self.stop_emulator()
            self.drop_pg_schemas()
        return [first, second, third], builds


def table(measures: list[Measure]) -> str:
    head = (
        f"| {'run':<36} | {'rows sent':>9} | {'wall s':>6} | {'sync s':>6} | {'rows/min':>10} | {'peak RSS MB':>11} "
        f"| {'sync CPU s':>10} | {'emulator CPU s':>14} | {'requests':>8} |"
    )
    lines = [head, "|" + "|".join("-" * (len(cell)) for cell in head.split("|")[1:-1]) + "|"]
    for m in measures:
        lines.append(
            f"| {m.label:<36} | {m.rows:>9,} | {m.wall_s:>6.1f} | {m.sync_s:>6.1f} | {m.per_minute:>10,.0f} | {m.max_rss_mb:>11.0f} "
            f"| {m.cpu_s:>10.1f} | {m.emulator_cpu_s:>14.1f} | {m.requests:>8,} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[1_000_000], help="row counts to run (each in turn)"
    )
    parser.add_argument("--keep", action="store_true", help="keep bench/.work/<rows>/ afterwards")
    parser.add_argument(
        "--target", choices=("duckdb", "postgres"), default="duckdb",
        help="the integration project's target: duckdb (in process) or postgres (127.0.0.1:5432, a server "
        "process of its own, so the peak RSS is dbt-cio's alone)",
    )  # fmt: skip
    parser.add_argument(
        "--duckdb-memory-limit", metavar="SIZE",
        help="DuckDB's memory_limit setting in the profile, e.g. 256MB (default: DuckDB's own, 80%% of RAM)",
    )  # fmt: skip
    parser.add_argument(
        "--render", nargs="+", choices=("auto", "python", "warehouse"),
        help="compare these DBT_CIO_RENDER modes on N new people, alternating (default: the usual three runs)",
    )  # fmt: skip
    parser.add_argument(
        "--log", nargs="+", choices=("none", "errors", "all"),
        help="compare these values of the block's log key on N new people, alternating",
    )  # fmt: skip
    parser.add_argument(
        "--events", action="store_true",
        help=f"with --render: sync {EVENTS_MODEL} (N new events) instead of {MODEL}",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="with --render or --log: runs per variant")
    parser.add_argument(
        "--count-only", action="store_true", help="the emulator only counts items (checks and stores nothing)"
    )
    opts = parser.parse_args()
    if opts.events and (opts.log or not opts.render):
        parser.error("--events goes with --render only (the re-runs and the log's block are the people's)")
    print(
        f"sync benchmark: {opts.target} -> emulator (schema validation off; the tests exercise it), default ceiling "
        f"150 req/s burst 600; DuckDB memory_limit {opts.duckdb_memory_limit or 'default'}; {os.cpu_count()} CPUs; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}",
        flush=True,
    )
    measures: list[Measure] = []
    for rows in opts.rows:
        model = EVENTS_MODEL if opts.events else MODEL
        bench = Bench(rows, opts.duckdb_memory_limit, opts.target, opts.count_only, model)
        if opts.render or opts.log:
            done, builds = bench.compare(opts.render or ["auto"], opts.log or [None], opts.repeat)
        else:
            done, builds = bench.run()
        measures.extend(done)
        print(
            f"  {rows:,} rows: " + ", ".join(f"{k} {v:.1f}" for k, v in builds.items())
            + f"; load average now {', '.join(f'{x:.1f}' for x in os.getloadavg())}",
            flush=True,
        )  # fmt: skip
        if not opts.keep:
            shutil.rmtree(bench.root, ignore_errors=True)
    print(table(measures))


if __name__ == "__main__":
    main()
