"""Syncing after a dbt Cloud job (real CLI, the integration project, the emulator and a local fake of dbt
Cloud's API over HTTP): the run's manifest is used as it is, with no local target/, and its results gate
the syncs; dbt Cloud's refusals are clear usage errors that never show the token."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import DbtProject, RunningEmulator, run_cli
from dbt_cloud_fake import TOKEN, FakeDbtCloud
from run_results import count, read_results, status


def _publish(project: DbtProject, fake: FakeDbtCloud, run_id: int, job_id: int = 7, run_status: int = 10,
             finished_at: str = "2026-12-01T10:00:00.000000+00:00") -> None:  # fmt: skip
    """Hand the project's target/ artifacts to the fake as a dbt Cloud run, and remove target/ here."""
    fake.add_run(run_id, job_id, run_status, target=project.path / "target", finished_at=finished_at)
    shutil.rmtree(project.path / "target")


def _env(emulator: RunningEmulator, fake: FakeDbtCloud, **extra: str) -> dict[str, str]:
    return {**emulator.env, **fake.env, **extra}


# What dbt Cloud answers does not depend on the warehouse: these run on DuckDB only.
duckdb_only = pytest.mark.parametrize("target", ["duckdb"], indirect=True)


def _no_token(*outputs: str) -> None:
    for output in outputs:
        assert TOKEN not in output


def test_a_sync_from_a_dbt_cloud_run_needs_no_local_target(
    built_project: DbtProject, emulator: RunningEmulator, dbt_cloud: FakeDbtCloud
) -> None:
    _publish(built_project, dbt_cloud, 101)
    proc = run_cli(built_project, "sync", "--select", "cio_people", "--dbt-cloud-run", "101",
                   env=_env(emulator, dbt_cloud))  # fmt: skip
    assert "Project state from dbt Cloud run 101 (job 7, success" in proc.stdout
    assert "dbt's results gate this run: dbt run (invocation" in proc.stdout  # the run's own results
    people = {p.id: p.attributes for p in emulator.state.people.values()}
    assert len(people) == 6 and people["1"]["email"] == "ada@example.com"
    assert status(read_results(built_project)["cio_people"]) == "success"
    assert not (built_project.path / "target" / "manifest.json").exists()  # nothing was parsed locally
    assert dbt_cloud.artifact_requests() == [
        "/api/v2/accounts/43/runs/101/artifacts/manifest.json",
        "/api/v2/accounts/43/runs/101/artifacts/run_results.json",
    ]
    assert {r.authorization for r in dbt_cloud.requests} == {f"Token {TOKEN}"}
    _no_token(proc.stdout, proc.stderr)

    again = run_cli(built_project, "sync", "--select", "cio_people", "--dbt-cloud-run", "101",
                    env=_env(emulator, dbt_cloud))  # fmt: skip
    assert count(read_results(built_project)["cio_people"], "added") == 0, again.stdout  # state as usual


@duckdb_only
def test_dbt_cloud_job_uses_the_latest_successful_run(
    built_project: DbtProject, emulator: RunningEmulator, dbt_cloud: FakeDbtCloud
) -> None:
    target = built_project.path / "target"
    dbt_cloud.add_run(301, 9, 10, target=target, finished_at="2026-12-01T08:00:00Z")
    dbt_cloud.add_run(302, 9, 10, target=target, finished_at="2026-12-02T08:00:00Z")  # the latest success
    dbt_cloud.add_run(303, 9, 20, target=target, finished_at="2026-12-03T08:00:00Z")  # errored later
    dbt_cloud.add_run(304, 9, 3, target=target)  # running
    dbt_cloud.add_run(305, 8, 10, target=target, finished_at="2026-12-04T08:00:00Z")  # another job
    shutil.rmtree(target)
    proc = run_cli(built_project, "sync", "--select", "cio_orders", "--dbt-cloud-job", "9",
                   env=_env(emulator, dbt_cloud))  # fmt: skip
    assert (
        "Project state from dbt Cloud run 302 (job 9, success, finished 2026-12-02 08:00:00)" in proc.stdout
    )
    assert {a.split("/runs/")[1].split("/")[0] for a in dbt_cloud.artifact_requests()} == {"302"}
    assert count(read_results(built_project)["cio_orders"], "accepted") == len(emulator.state.events) > 0

    dbt_cloud.runs = {304: dbt_cloud.runs[304]}  # only a running one left
    proc = run_cli(built_project, "sync", "--dbt-cloud-job", "9", env=_env(emulator, dbt_cloud), expect=2)
    assert "dbt Cloud job 9 has no successful run" in proc.stderr


def test_a_failed_test_in_the_runs_results_holds_its_model_back(
    built_project: DbtProject, emulator: RunningEmulator, dbt_cloud: FakeDbtCloud
) -> None:
    # The dbt Cloud job ran `dbt build` on two models; one of cio_people's tests failed, so the run errored.
    seed = built_project.read_seed("customers").replace("grace@example.com", "")  # a null email
    built_project.write_seed("customers", seed)
    built_project.dbt("seed", "--full-refresh")
    built_project.dbt("build", "--select", "cio_people", "cio_orders", check=False)
    _publish(built_project, dbt_cloud, 201, run_status=20)

    proc = run_cli(built_project, "sync", "--select", "cio_people", "cio_orders", "cio_companies",
                   "--dbt-cloud-run", "201", env=_env(emulator, dbt_cloud), expect=1)  # fmt: skip
    results = read_results(built_project)
    assert status(results["cio_people"]) == "skipped", proc.stdout
    assert "not_null_cio_people_email" in results["cio_people"]["message"]
    assert "dbt Cloud run 201 (job 7, error" in results["cio_people"]["message"]
    assert status(results["cio_orders"]) == "success"  # built and tested in the errored run: synced
    assert status(results["cio_companies"]) == "skipped"  # not built in a run that did not succeed
    assert "was not built in dbt build" in results["cio_companies"]["message"]
    assert not emulator.state.objects and not any(p.attributes for p in emulator.state.people.values())
    assert len(emulator.state.events) == count(results["cio_orders"], "accepted") > 0

    run_cli(built_project, "sync", "--select", "cio_people", "--dbt-cloud-run", "201", "--ignore-dbt-results",
            env=_env(emulator, dbt_cloud))  # fmt: skip
    assert emulator.state.person(id="1").attributes["email"] == "ada@example.com"


@duckdb_only
def test_dbt_cloud_refusals_are_usage_errors_that_never_show_the_token(
    built_project: DbtProject, emulator: RunningEmulator, dbt_cloud: FakeDbtCloud
) -> None:
    _publish(built_project, dbt_cloud, 101)
    dbt_cloud.add_run(102, 7, 3)  # still running
    wrong = "dbtc_wrong-token-5e6f7a8b9c"
    cases = [
        ({"DBT_CLOUD_API_TOKEN": wrong}, "101", "refused the API token (401)"),
        ({"DBT_CLOUD_ACCOUNT_ID": "44"}, "101", "refused access (403)"),
        ({}, "999", "dbt Cloud knows no run 999 in account 43 (404"),
        ({}, "102", "dbt Cloud run 102 (job 7, running) has not finished"),
        ({"DBT_CLOUD_HOST": "http://cloud.example.com"}, "101", "only loopback hosts"),
        ({"DBT_CLOUD_API_TOKEN": ""}, "101", "set DBT_CLOUD_API_TOKEN"),
    ]
    for extra, run_id, expected in cases:
        proc = run_cli(built_project, "sync", "--dbt-cloud-run", run_id, env=_env(emulator, dbt_cloud, **extra),
                       expect=2)  # fmt: skip
        assert expected in proc.stderr, (extra, proc.stderr)
        assert wrong not in proc.stdout + proc.stderr
        _no_token(proc.stdout, proc.stderr)
    assert emulator.track_requests() == 0  # nothing reached Customer.io

    dbt_cloud.answers = [429, 503]  # retried, then fine
    run_cli(built_project, "sync", "--select", "cio_people", "--dbt-cloud-run", "101",
            env=_env(emulator, dbt_cloud))  # fmt: skip
    assert len(emulator.state.people) == 6


@duckdb_only
def test_validate_debug_and_dry_run_read_the_dbt_cloud_run(
    built_project: DbtProject, emulator: RunningEmulator, dbt_cloud: FakeDbtCloud
) -> None:
    _publish(built_project, dbt_cloud, 101)
    env = _env(emulator, dbt_cloud)
    proc = run_cli(built_project, "validate", "--dbt-cloud-run", "101", env=env)
    assert "OK:" in proc.stdout and "cio_people" in proc.stdout

    proc = run_cli(built_project, "debug", "--select", "cio_people", "--dbt-cloud-run", "101", "--output", "json",
                   env=env)  # fmt: skip
    checks = {c["check"]: c for c in map(json.loads, proc.stdout.splitlines())}
    assert checks["dbt Cloud run"]["status"] == "ok" and "run 101" in checks["dbt Cloud run"]["detail"]
    assert (
        "used as it is" in checks["manifest"]["detail"]
        and "dbt Cloud run 101" in checks["dbt results"]["detail"]
    )

    proc = run_cli(built_project, "debug", "--dbt-cloud-run", "101", env={**env, "DBT_CLOUD_API_TOKEN": "nope-123"},
                   expect=1)  # fmt: skip
    assert "refused the API token" in proc.stdout and "nope-123" not in proc.stdout + proc.stderr

    proc = run_cli(
        built_project, "sync", "--select", "cio_people", "--dbt-cloud-run", "101", "--dry-run", env=env
    )
    assert count(read_results(built_project)["cio_people"], "added") == 6 and not emulator.state.people
    _no_token(proc.stdout, proc.stderr)
