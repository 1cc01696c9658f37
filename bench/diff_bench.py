"""Benchmark: the in-warehouse diff of a large model on DuckDB, through dbt's adapter.

Builds a throwaway dbt project (DuckDB file in a temporary directory), creates a model table of
``--rows`` people, and measures, through :class:`dbt_cio.warehouse.state.StateStore`:

1. first run: ``compute_diff`` (every row added), reading the whole diff page by page, committing it all;
2. re-run after changing 1% of the rows: ``compute_diff``, reading it, committing it;

with wall time for each step, the process's resident memory before and at its highest while the diff
is read (sampled after every page), and Python's own peak allocation (tracemalloc) while reading and
committing (it includes up to 50,000 acknowledged keys held between commits, as the engine does).
With ``--tracemalloc`` Python runs slower: read+commit times are then upper bounds.

    python bench/diff_bench.py --rows 1000000
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from dbt_cio.contract.model import Identifier, Sync
from dbt_cio.project import DbtArgs, Project
from dbt_cio.warehouse.schema import StateSchema
from dbt_cio.warehouse.state import StateStore

COLUMNS = ("id", "email", "plan", "lifetime_value", "signed_up_at", "is_active")


def write_project(root: Path) -> None:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: diff_bench\nversion: '1.0'\nconfig-version: 2\nprofile: diff_bench\nmodel-paths: [models]\n"
    )
    (root / "profiles.yml").write_text(
        "diff_bench:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n"
        f"      path: '{root / 'bench.duckdb'}'\n      schema: main\n      threads: 1\n"
    )
    (root / "models" / "placeholder.sql").write_text("select 1 as id\n")


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def timed(label: str, fn: Callable[[], Any], results: dict[str, Any]) -> Any:
    t0 = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - t0
    return value


def read_and_commit(
    store: StateStore, sync: Sync, page_size: int, results: dict[str, Any], tag: str, trace: bool
) -> int:
    gc.collect()
    base = rss_mb()
    peak = base
    acked: list[int] = []
    rows = 0
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    for page in store.iter_changes(sync, page_size=page_size):
        rows += len(page)
        acked.extend(c.seq for c in page)  # what the engine keeps until it commits
        if len(acked) >= 50_000:  # the engine commits acknowledged keys as it goes
            store.commit(sync, acked)
            acked = []
        peak = max(peak, rss_mb())
    store.commit(sync, acked)
    results[f"{tag}: read+commit s"] = time.perf_counter() - t0
    results[f"{tag}: rss before read MB"] = base
    results[f"{tag}: rss peak while reading MB"] = peak
    if trace:
        _current, py_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        results[f"{tag}: python peak while reading MB"] = py_peak / 1e6
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also measure Python's peak allocation (slower)"
    )
    opts = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_project(root)
        with Project.load(DbtArgs(project_dir=root, profiles_dir=root)) as project:
            adapter = project.adapter
            adapter.execute(
                "create or replace table main.people as select "
                "cast(i as varchar) as id, 'user' || i || '@example.com' as email, "
                "case i % 3 when 0 then 'free' when 1 then 'pro' else 'team' end as plan, "
                "cast(i as decimal(18, 2)) / 7 as lifetime_value, "
                "timestamp '2024-01-01' + to_seconds(i) as signed_up_at, i % 2 = 0 as is_active "
                f"from range({opts.rows}) t(i)",
                auto_begin=True,
            )
            adapter.connections.commit()
            sync = Sync(
                name="people", model="people", unique_id="model.diff_bench.people",
                relation=f'"{project.database}"."main"."people"', type="person", columns=COLUMNS,
                identifier=Identifier("id"), attributes={c: c for c in COLUMNS[1:]},
            )  # fmt: skip
            state = StateSchema.open(project.session, project.state_schema, project.database)
            state.tables.ensure()
            store = state.store

            first = timed("first run: compute_diff s", lambda: store.compute_diff(sync), results)
            assert first.added == opts.rows, first
            assert (
                read_and_commit(store, sync, opts.page_size, results, "first run", opts.tracemalloc)
                == opts.rows
            )

            changed = opts.rows // 100
            adapter.execute(
                "update main.people set plan = plan || '-changed' where cast(id as bigint) % 100 = 0",
                auto_begin=True,
            )
            adapter.connections.commit()
            second = timed("1% changed: compute_diff s", lambda: store.compute_diff(sync), results)
            assert (second.added, second.changed, second.removed) == (0, changed, 0), second
            assert (
                read_and_commit(store, sync, opts.page_size, results, "1% changed", opts.tracemalloc)
                == changed
            )
            third = timed("unchanged: compute_diff s", lambda: store.compute_diff(sync), results)
            assert third.total == 0
    print(f"diff benchmark: {opts.rows:,} rows, page size {opts.page_size:,}, pid {os.getpid()}")
    for label, value in results.items():
        print(f"  {label:<40} {value:10.2f}")
    import resource

    print(
        f"  {'process max rss MB (whole run)':<40} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6:10.2f}"
    )


if __name__ == "__main__":
    main()
