"""``dbt-cio sync --dry-run`` writes nothing anywhere, needs only read access, and previews exactly what a
real run then sends (real CLI, the integration project, the emulator over HTTP)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from conftest import DbtProject, RunningEmulator, open_state, run_cli

from dbt_cio.project import DbtArgs, Project


def _schemas(project: DbtProject) -> set[str]:
    args = DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target)
    with Project.load(args) as p:
        _cols, rows = p.session.query("select schema_name from information_schema.schemata", "listing")
        return {str(r[0]).lower() for r in rows}


def _state_tables(project: DbtProject) -> tuple[set[str], dict[str, str]]:
    args = DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target)
    with Project.load(args) as p:
        st = open_state(p)
        return st.tables.existing(), st.store.state_keys("cio_people")


def test_a_dry_run_writes_nothing_and_its_output_is_what_the_real_run_sends(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    state_schema = f"{built_project.schema}_dbt_cio".lower()
    out = built_project.path / "ops.jsonl"
    proc = run_cli(
        built_project, "sync", "--select", "tag:cio", "--dry-run", "--output", str(out), env=emulator.env
    )
    assert "dry run" in proc.stdout
    assert state_schema not in _schemas(built_project)  # not even the state schema was created
    state = emulator.state
    assert not (state.people or state.events or state.objects or state.devices or state.collections)
    assert not state.segments  # the named segment is looked up, never created, by a dry run

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and all({"sync", "method", "path", "body"} <= set(line) for line in lines)
    by_sync: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_sync.setdefault(line["sync"], []).append(line)

    sent: list[dict[str, Any]] = []
    emulator.emulator.faults.reject_items = lambda item: sent.append(item) or False
    run_cli(built_project, "sync", "--select", "tag:cio", env=emulator.env)

    previewed = sorted(
        json.dumps(line["body"], sort_keys=True) for line in lines if line["path"] == "/api/v2/batch"
    )
    assert previewed == sorted(json.dumps(item, sort_keys=True) for item in sent)

    [segment] = state.segments.values()
    segment_lines = by_sync["pro_customers"]
    assert {line["path"] for line in segment_lines} == {"/api/v1/segments/<new>/add_customers?id_type=id"}
    ids = [i for line in segment_lines for i in line["body"]["ids"]]
    assert ids and sorted(ids) == sorted(state.segment_member_ids(segment.id))

    [collection] = state.collections.values()
    [collection_line] = by_sync["cio_products"]
    assert (collection_line["method"], collection_line["path"]) == ("POST", "/v1/collections")
    assert collection_line["body"]["data"] == collection.as_json(with_data=True)["data"]

    # With state in place, a dry run shows the real segment and collection ids, and still writes nothing.
    before = _state_tables(built_project)
    seed = built_project.read_seed("customers").replace("Grace,Hopper,free", "Grace,Hopper,pro")
    built_project.write_seed("customers", seed)
    built_project.dbt("seed", "--full-refresh")
    built_project.dbt("run")
    run_cli(built_project, "sync", "--select", "tag:cio", "--dry-run", "--output", str(out), env=emulator.env)
    assert _state_tables(built_project) == before
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    paths = {line["path"] for line in lines}
    assert f"/api/v1/segments/{segment.id}/add_customers?id_type=id" in paths
    assert f"/v1/collections/{collection.id}" not in paths  # products did not change
    assert [line["body"]["attributes"]["plan"] for line in lines if line["sync"] == "cio_people"] == ["pro"]


def test_output_needs_dry_run(built_project: DbtProject, emulator: RunningEmulator) -> None:
    proc = run_cli(built_project, "sync", "--output", "x.jsonl", env=emulator.env, expect=2)
    assert "--dry-run" in proc.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("target", ["postgres"], indirect=True)
def test_a_dry_run_succeeds_with_a_role_that_can_only_read(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    run_cli(built_project, "sync", "--select", "cio_people", "cio_orders", env=emulator.env)
    seed = built_project.read_seed("customers").replace("Grace,Hopper,free", "Grace,Hopper,team")
    built_project.write_seed("customers", seed)
    built_project.dbt("seed", "--full-refresh")
    built_project.dbt("run", "--select", "cio_people")

    import psycopg2

    role, schema = f"ro_{uuid.uuid4().hex[:10]}", built_project.schema
    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'create role "{role}" login')
            for name in (schema, f"{schema}_dbt_cio"):
                cur.execute(f'grant usage on schema "{name}" to "{role}"')
                cur.execute(f'grant select on all tables in schema "{name}" to "{role}"')
        before = _state_tables(built_project)
        proc = run_cli(
            built_project, "sync", "--select", "cio_people", "cio_orders", "--dry-run",
            env={**emulator.env, "DBT_CIO_PG_USER": role},
        )  # fmt: skip
        assert "cio_people" in proc.stdout and '"team"' in proc.stdout, proc.stdout
        assert _state_tables(built_project) == before
    finally:
        with conn.cursor() as cur:
            cur.execute(f'drop owned by "{role}"')
            cur.execute(f'drop role "{role}"')
        conn.close()
