"""Guardrails end to end (real CLI, the integration project, the emulator over HTTP): row thresholds stop a
sync before anything is sent, and dbt's own results (failed builds and tests) hold syncs back."""

from __future__ import annotations

import json

from conftest import DbtProject, RunningEmulator, open_state, run_cli
from run_results import count, read_results, status

from dbt_cio.project import DbtArgs, Project

GUARDED_SQL = """
select cast(n as varchar(20)) as person_id,
       case when n <= {{ var('changed', 0) }} then 'changed' else 'original' end as label
from (select generate_series as n from generate_series(1, {{ var('rows', 40) }})) numbers
"""
GUARDED_YML = """
version: 2
models:
  - name: guarded_people
    config:
      meta:
        customerio:
          type: person
          identifier: person_id
          on_delete: delete
          max_added: 30
          max_changed: "10%"
          max_removed: 5
"""


def _state_keys(project: DbtProject, sync: str) -> set[str]:
    args = DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target)
    with Project.load(args) as p:
        return set(open_state(p).store.state_keys(sync))


def _build(project: DbtProject, model: str, **variables: int) -> None:
    project.dbt("run", "--select", model, "--vars", json.dumps(variables))


def _people(emulator: RunningEmulator) -> set[str]:
    return {p.id for p in emulator.state.people.values() if p.id is not None}


def test_an_emptied_model_is_not_allowed_to_delete_everyone(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    _build(built_project, "cio_bulk_people", bulk_people=50)
    run_cli(built_project, "sync", "--select", "cio_bulk_people", env=emulator.env)
    assert len(_people(emulator)) == 50

    _build(built_project, "cio_bulk_people", bulk_people=0)  # a bad join upstream: the model comes back empty
    before = emulator.track_requests()
    proc = run_cli(built_project, "sync", "--select", "cio_bulk_people", env=emulator.env, expect=1)
    result = read_results(built_project)["cio_bulk_people"]
    assert status(result) == "aborted" and count(result, "removed") == 50, proc.stdout
    message = result["message"]
    assert "remove 50 row(s)" in message and "100% of the 50 rows synced" in message
    assert "max_removed 20%" in message and "--ignore-thresholds" in message and "cio_bulk_people" in message
    assert "aborted" in proc.stdout and "--ignore-thresholds" in proc.stdout  # the summary says it all
    assert emulator.track_requests() - before == 1  # the region check: not one delete was sent
    assert len(_people(emulator)) == 50
    assert len(_state_keys(built_project, "cio_bulk_people")) == 50  # the state did not move either

    dry = run_cli(
        built_project, "sync", "--select", "cio_bulk_people", "--dry-run", env=emulator.env, expect=1
    )
    assert "would stop before sending anything" in dry.stdout
    assert len(_people(emulator)) == 50

    run_cli(built_project, "sync", "--select", "cio_bulk_people", "--ignore-thresholds", env=emulator.env)
    assert _people(emulator) == set() and _state_keys(built_project, "cio_bulk_people") == set()


def test_count_and_percentage_thresholds_for_added_changed_and_removed(
    dbt_project: DbtProject, emulator: RunningEmulator
) -> None:
    (dbt_project.path / "models" / "guarded_people.sql").write_text(GUARDED_SQL)
    (dbt_project.path / "models" / "guarded.yml").write_text(GUARDED_YML)

    def sync(*flags: str, expect: int) -> dict:
        run_cli(dbt_project, "sync", "--select", "guarded_people", *flags, env=emulator.env, expect=expect)
        return read_results(dbt_project)["guarded_people"]

    _build(dbt_project, "guarded_people", rows=40)
    result = sync(expect=1)  # max_added: 30, a count: it applies on a first sync too
    assert (status(result), count(result, "added")) == ("aborted", 40)
    assert "max_added 30" in result["message"] and not _people(emulator)
    assert count(sync("--ignore-thresholds", expect=0), "accepted") == 40

    _build(dbt_project, "guarded_people", rows=40, changed=5)  # 12.5% of 40 synced rows
    result = sync(expect=1)
    assert (status(result), count(result, "changed")) == ("aborted", 5) and "max_changed 10%" in result[
        "message"
    ]
    assert {p.attributes["label"] for p in emulator.state.people.values()} == {"original"}
    _build(dbt_project, "guarded_people", rows=40, changed=4)  # 10%: allowed
    assert status(sync(expect=0)) == "success"

    _build(dbt_project, "guarded_people", rows=34, changed=4)  # 6 removed, over max_removed: 5
    result = sync(expect=1)
    assert (status(result), count(result, "removed")) == ("aborted", 6) and "max_removed 5" in result[
        "message"
    ]
    assert len(_people(emulator)) == 40
    _build(dbt_project, "guarded_people", rows=35, changed=4)  # 5 removed: allowed
    assert count(sync(expect=0), "removed") == 5
    assert len(_people(emulator)) == 35


def test_failing_tests_and_builds_hold_their_syncs_back(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    built_project.dbt("build", "--select", "cio_people")  # passes; lifetime_value's not_null only warns
    proc = run_cli(built_project, "sync", "--select", "cio_people", env=emulator.env)
    assert "dbt's results gate this run: dbt build (invocation" in proc.stdout
    assert len(_people(emulator)) == 6  # a warn test does not block

    seed = built_project.read_seed("customers").replace("grace@example.com", "")  # a null email
    built_project.write_seed("customers", seed.replace("Grace,Hopper,free", "Grace,Hopper,team"))
    built_project.dbt("seed", "--full-refresh")
    built_project.dbt("build", "--select", "cio_people", check=False)  # not_null_cio_people_email fails
    before = emulator.track_requests()
    proc = run_cli(built_project, "sync", "--select", "cio_people", env=emulator.env, expect=1)
    result = read_results(built_project)["cio_people"]
    assert status(result) == "skipped", proc.stdout
    assert "not_null_cio_people_email" in result["message"] and "fail" in result["message"]
    assert "--ignore-dbt-results" in result["message"]
    assert emulator.track_requests() == before  # held back before connecting: nothing at all was sent
    assert emulator.state.person(id="2").attributes["plan"] == "free"

    run_cli(built_project, "sync", "--select", "cio_people", "--ignore-dbt-results", env=emulator.env)
    assert emulator.state.person(id="2").attributes["plan"] == "team"

    broken = built_project.path / "models" / "cio_companies.sql"
    broken.write_text("select no_such_column from " + "{{ ref('companies') }}")
    built_project.dbt("run", "--select", "cio_companies", "cio_page_views", check=False)
    proc = run_cli(
        built_project, "sync", "--select", "cio_companies", "cio_page_views", env=emulator.env, expect=1
    )
    results = read_results(built_project)
    assert status(results["cio_companies"]) == "skipped", proc.stdout
    assert (
        "model.dbt_cio_integration_tests.cio_companies has status error"
        in results["cio_companies"]["message"]
    )
    assert status(results["cio_page_views"]) == "success"  # its own build went through
    assert not emulator.state.objects
