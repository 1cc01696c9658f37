"""``dbt-cio runs``: the recent runs of the selected syncs, from the state schema's ``runs`` table, read
only. The reader takes, per run id, the row with a ``finished_at`` (warehouses without ``update`` append a
run's end as a second row)."""

from __future__ import annotations

import json

from conftest import DbtProject, RunningEmulator, open_state, run_cli

from dbt_cio.project import DbtArgs, Project
from dbt_cio.warehouse import sql

REJECTING_SQL = "select '1' as customer_id union all select '2' union all select repeat('x', 151)"
REJECTING_YML = """version: 2
models:
  - name: rejecting_people
    config:
      meta:
        customerio: {type: person, identifier: customer_id}
"""


def _runs(project: DbtProject, *args: str, env: dict[str, str] | None = None) -> list[dict]:
    proc = run_cli(project, "runs", *args, "--output", "json", env=env)
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _args(project: DbtProject) -> DbtArgs:
    return DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target)


def test_runs_lists_the_selected_syncs_newest_first_and_reads_only(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    dbt_project = built_project
    models = dbt_project.path / "models"
    (models / "rejecting_people.sql").write_text(REJECTING_SQL)
    (models / "rejecting.yml").write_text(REJECTING_YML)
    dbt_project.dbt("run", "--select", "rejecting_people")

    proc = run_cli(dbt_project, "runs", env=emulator.env)  # nothing synced yet: no state schema, no runs
    assert "No runs recorded" in proc.stdout
    with Project.load(_args(dbt_project)) as p:
        assert not p.session.run(p.session.table_names, p.database, p.state_schema)  # still not created

    run_cli(dbt_project, "sync", "-s", "rejecting_people", env=emulator.env, expect=1)
    run_cli(dbt_project, "sync", "-s", "cio_orders", env=emulator.env)
    runs = _runs(dbt_project, env=emulator.env)
    assert [(r["sync"], r["status"]) for r in runs] == [
        ("cio_orders", "success"),
        ("rejecting_people", "rejected"),
    ]
    rejected = runs[1]
    assert (rejected["added"], rejected["sent"], rejected["accepted"], rejected["rejected"]) == (3, 3, 2, 1)
    assert "identifier is longer than 150 bytes" in rejected["message"]
    assert rejected["started_at"].endswith("Z") and rejected["finished_at"] >= rejected["started_at"]
    assert rejected["duration_seconds"] >= 0 and len(rejected["run_id"]) == 32

    assert [r["sync"] for r in _runs(dbt_project, "--limit", "1", env=emulator.env)] == ["cio_orders"]
    assert [r["sync"] for r in _runs(dbt_project, "-s", "rejecting_people", env=emulator.env)] == [
        "rejecting_people"
    ]
    table = run_cli(dbt_project, "runs", env=emulator.env).stdout
    assert "rejecting_people" in table and "rejected" in table and rejected["run_id"] in table
    run_cli(dbt_project, "runs", "--limit", "0", env=emulator.env, expect=2)


def test_a_run_end_appended_as_a_second_row_is_read_as_one_run(built_project: DbtProject) -> None:
    with Project.load(_args(built_project)) as p:
        state = open_state(p)
        records, session = state.records, p.session
        records.tables.ensure()
        done = records.start_run("a")
        records.finish_run(done, status="success", counts={"added": 4, "sent": 4, "accepted": 4})
        running = records.start_run("a")  # killed: never finished
        appended = records.start_run("b")
        d = session.dialect
        with session.transaction("appending a run's end"):  # as a warehouse without update records it
            session.execute(sql.insert_values(d, records.tables.relation("runs"),
                ["run_id", "sync_name", "finished_at", "outcome", "added", "accepted"],
                [(appended, "b", sql.Raw(d.now), "rejected", 2, 1)]))  # fmt: skip
        found = {r["run_id"]: r for r in records.recent_runs(["a", "b"], 10)}
        assert set(found) == {done, running, appended}
        assert found[appended]["outcome"] == "rejected" and found[appended]["started_at"] is not None
        assert found[appended]["finished_at"] is not None and found[appended]["accepted"] == 1
        assert found[running]["finished_at"] is None and found[done]["accepted"] == 4
        assert [r["run_id"] for r in records.recent_runs(["a", "b"], 2)] == [appended, running]
        assert records.recent_runs(["c"], 10) == [] and records.recent_runs(["a"], 0) == []
