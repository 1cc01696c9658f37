"""Warehouse-rendered items against the Python mapper, end to end: the same project synced twice from scratch,
once with ``DBT_CIO_RENDER=python`` and once with ``=warehouse``, must leave the same Customer.io state (every
person, event, object, relationship, device, segment and collection), the same run results, rejections and
sync log, through a first sync, edits (changed and removed rows of every sync type) and a re-run. Hostile rows
(null, over-long and non-finite values, a JSON value over the item limit) exercise the rows the SQL leaves to
Python, and the emulator refuses one person and one object by 207, so refused rows are read back by seq."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    DbtProject,
    RunningEmulator,
    _clone_pg_schema,
    _Templates,
    make_project,
    open_state,
    run_cli,
)
from run_results import read_results
from sql_log import logging_env, statements
from test_sync_hostile import HOSTILE_SQL
from test_sync_log import log_rows
from test_sync_types import _edit

from dbt_cio.emulator import Emulator, EmulatorThread
from dbt_cio.project import DbtArgs, Project

HOSTILE_SCHEMA = """
version: 2
models:
  - name: hostile_people
    config:
      tags: [cio]
      meta:
        customerio: {type: person, identifier: person_id}
"""
REFUSED = {"3", "globex"}  # the emulator answers these items 207 (a person, an object)
RESULT_FIELDS = ("status", "added", "changed", "removed", "accepted", "rejected", "sent", "requests")


def _built(
    tmp_path: Path, target: str, templates: _Templates, mp: pytest.MonkeyPatch
) -> Iterator[DbtProject]:
    """A built copy of the integration project, with the hostile model (as the ``built_project`` fixture)."""
    for project in make_project(tmp_path, target, mp):
        template = templates.get(target)
        shutil.copytree(template.path / "target", project.path / "target")
        (project.path / "target" / "partial_parse.msgpack").unlink(missing_ok=True)
        if target == "duckdb":
            shutil.copy(template.env["DBT_CIO_DUCKDB_PATH"], project.env["DBT_CIO_DUCKDB_PATH"])
        else:
            _clone_pg_schema(template.env["DBT_CIO_PG_SCHEMA"], project.env["DBT_CIO_PG_SCHEMA"])
        models = project.path / "models"
        (models / "hostile_people.sql").write_text(HOSTILE_SQL.replace("{long_id}", "x" * 151))
        (models / "hostile.yml").write_text(HOSTILE_SCHEMA)
        project.dbt("run", "--select", "hostile_people")
        yield project


def _normalised(state: dict[str, Any]) -> Any:
    """The emulator's state with its own counters (cio ids, collection times) replaced by what they name."""
    names = {p["cio_id"]: f"person:{p['id'] or p['email']}" for p in state["people"]}
    for collection in state["collections"]:
        collection.pop("created_at"), collection.pop("updated_at"), collection.pop("id")
    for segment in state["segments"]:
        segment.pop("id"), segment.pop("deduplicate_id")

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items() if k not in ("cio_object_id",)}
        if isinstance(value, list):
            return sorted((walk(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str))
        return names.get(value, value) if isinstance(value, str) else value

    return walk(state)


def _snapshot(project: DbtProject, emulator: Emulator, syncs: list[str]) -> dict[str, Any]:
    results = read_results(project)
    out: dict[str, Any] = {
        "state": _normalised(json.loads(json.dumps(emulator.state.as_json(), default=str)))
    }
    out["results"] = {
        name: {f: r["adapter_response"].get(f) for f in RESULT_FIELDS} for name, r in results.items()
    }
    args = DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target)
    with Project.load(args) as p:
        state = open_state(p)
        out["rejections"] = {
            sync: sorted((r["sync_key"], r["reason"], r["field"]) for r in state.records.rejections(sync))
            for sync in syncs
        }
    keep = (
        "sync_key",
        "action",
        "outcome",
        "http_status",
        "request",
        "reason",
        "field",
        "payload",
        "diff_seq",
    )
    out["log"] = {
        sync: sorted(
            (tuple(str(row.get(k)) for k in keep) for row in log_rows(project, sync)), key=lambda r: r[-1]
        )
        for sync in syncs
    }
    return out


def _scenario(project: DbtProject, mode: str, tmp_path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Sync, edit, sync again (each from the same start); what each step left, and the statements sent."""
    emu = Emulator(site_id="e2e-site", api_key="e2e-key", app_api_key="e2e-app-key")
    emu.faults.reject_items = REFUSED
    sent: list[str] = []
    with EmulatorThread(emu) as base_url:
        running = RunningEmulator(emu, base_url)
        snapshots = []
        for step in (1, 2):
            if step == 2:
                _edit(project, "customers", replace={"Grace,Hopper,free": "Grace,Hopper,pro"}, drop=("5,",))
                _edit(project, "companies", drop=("initech",), replace={"globex,Globex,energy": "globex,G,x"})
                _edit(project, "memberships", drop=("acme,2,",), replace={"acme,1,admin": "acme,1,owner"})
                _edit(
                    project, "devices", drop=("tok-and-2",), add=("tok-and-5,5,android,2024-07-20 10:00:00",)
                )
                _edit(
                    project,
                    "orders",
                    drop=("o-1002",),
                    add=("o-1006,6,,order_completed,5.00,2024-07-06 08:00:00",),
                )
                project.build()
                project.dbt("run", "--select", "hostile_people")
            logs = tmp_path / f"logs-{mode}-{step}"
            env = {**running.env, "DBT_CIO_RENDER": mode, **logging_env(logs)}
            run_cli(project, "sync", "--select", "tag:cio", env=env, expect=None)
            sent += statements(logs)
            syncs = sorted(read_results(project))
            snapshots.append(_snapshot(project, emu, syncs))
    return snapshots, sent


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_rendered_and_mapped_syncs_leave_the_same_state_rejections_and_log(
    tmp_path: Path, target: str, templates: _Templates, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = {}
    for mode in ("python", "warehouse"):
        for project in _built(tmp_path / mode, target, templates, monkeypatch):
            runs[mode] = _scenario(project, mode, tmp_path)
    (python, python_sql), (rendered, rendered_sql) = runs["python"], runs["warehouse"]
    assert not any("_cio_python" in s for s in python_sql)
    assert any("_cio_python" in s for s in rendered_sql)  # the pages were rendered by the warehouse
    assert any("_cio_python" in s and "'' as _cio_key" in s for s in rendered_sql)  # the collection's too
    snapshot_reads = [
        s for s in rendered_sql if s.lstrip().lower().startswith("select _cio_seq") and "rows__" in s
    ]
    assert snapshot_reads and all("_cio_python" in s for s in snapshot_reads)  # ...and sent as rendered
    for step, (p, r) in enumerate(zip(python, rendered), start=1):
        for part in ("results", "rejections", "log", "state"):
            assert p[part] == r[part], f"step {step}: {part} differ"
    first = python[0]
    assert first["rejections"]["hostile_people"], "hostile rows were not rejected"
    assert any(key == "3" for key, *_ in first["rejections"]["cio_people"]), first["rejections"]
    assert any(row[2] == "rejected" and row[3] == "207" for row in first["log"]["cio_people"]), first["log"]


@pytest.mark.postgres
@pytest.mark.parametrize("target", ["postgres"])
def test_postgres_pages_are_read_on_two_connections_at_once_and_every_row_arrives_once(
    dbt_project: DbtProject, emulator: RunningEmulator, tmp_path: Path
) -> None:
    vars_ = "{bulk_people: 25000}"  # three pages of the diff (10,000 rows each)
    dbt_project.dbt("run", "--select", "cio_bulk_people", "--vars", vars_)
    logs = tmp_path / "logs"
    env = {**emulator.env, **logging_env(logs)}
    run_cli(dbt_project, "sync", "--select", "cio_bulk_people", "--vars", vars_, env=env)
    counts = read_results(dbt_project)["cio_bulk_people"]["adapter_response"]
    assert counts["added"] == counts["accepted"] == 25_000 and counts["rejected"] == 0
    assert len(emulator.state.people) == 25_000
    assert sorted(int(p.id) for p in emulator.state.people.values()) == list(range(1, 25_001))
    pages: dict[str, int] = {}
    for line in (logs / "dbt.log").read_text().splitlines():
        event = json.loads(line)
        if event["info"]["name"] == "SQLQuery" and "_cio_python" in event["data"]["sql"]:
            pages[event["info"]["thread"]] = pages.get(event["info"]["thread"], 0) + 1
    # pages 0 and 2 on the sync's connection, 1 and 3 (empty: the end) on the reader's; page 4 (empty too) may be
    # read as well when its read starts before page 3's answer ends the pages
    assert pages["dbt-cio-warehouse_0"] in (2, 3) and pages["dbt-cio-reader-1_0"] == 2, pages
    assert set(pages) == {"dbt-cio-warehouse_0", "dbt-cio-reader-1_0"}, pages
    run_cli(dbt_project, "sync", "--select", "cio_bulk_people", "--vars", vars_, env=emulator.env)
    assert read_results(dbt_project)["cio_bulk_people"]["adapter_response"]["added"] == 0  # all in state


COLLECTION_SCHEMA = """
version: 2
models:
  - name: long_products
    config:
      meta:
        customerio: {type: collection, collection: {name: long products}}
"""


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_collection_the_sql_cannot_vouch_for_is_built_and_explained_by_python(
    dbt_project: DbtProject, emulator: RunningEmulator, tmp_path: Path
) -> None:
    """A collection row over 10 KB: the rendered rows are read first, found over the limit, and Python builds
    the collection and fails it with its own message; nothing is sent."""
    models = dbt_project.path / "models"
    (models / "long_products.sql").write_text(
        "select 'p1' as sku, repeat('x', 11000) as blurb union all select 'p2' as sku, 'short' as blurb"
    )
    (models / "long_products.yml").write_text(COLLECTION_SCHEMA)
    dbt_project.dbt("run", "--select", "long_products")
    logs = tmp_path / "logs"
    proc = run_cli(
        dbt_project,
        "sync",
        "--select",
        "long_products",
        env={**emulator.env, **logging_env(logs)},
        expect=None,
    )
    assert proc.returncode != 0
    assert "over Customer.io's limit of 10,000 bytes per collection row" in proc.stdout + proc.stderr
    sent = statements(logs)
    assert any("_cio_python" in s and "'' as _cio_key" in s for s in sent)  # rendered first...
    assert any(
        s.lower().startswith("select _cio_seq") and "_cio_python" not in s for s in sent
    )  # ...then read
    assert not emulator.emulator.state.collections  # type: ignore[attr-defined]
