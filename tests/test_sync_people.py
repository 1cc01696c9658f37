"""``dbt-cio sync`` end to end for people: the real CLI, the integration project, the emulator over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from conftest import DbtProject, RunningEmulator, open_state, run_cli
from run_results import count, read_results, status

from dbt_cio.project import DbtArgs, Project


def _unix(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def _people(emulator: RunningEmulator) -> dict[str, dict]:
    return {p.id: dict(p.attributes) for p in emulator.state.people.values() if p.id is not None}


def _rejections(project: DbtProject, sync_name: str) -> list[dict]:
    with Project.load(
        DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target)
    ) as p:
        return open_state(p).records.rejections(sync_name)


def test_first_sync_creates_every_person_then_a_rerun_sends_nothing(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    proc = run_cli(built_project, "sync", "--select", "cio_people", env=emulator.env)
    assert "cio_people" in proc.stdout

    people = _people(emulator)
    assert set(people) == {"1", "2", "3", "4", "5", "6"}
    assert people["1"] == {
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "plan": "pro",
        "lifetime_value": 1200.5,
        "signed_up_at": _unix("2024-01-15 10:00:00"),
        "is_active": True,
    }
    assert "lifetime_value" not in people["5"]  # an empty CSV cell is a null: nothing is stored

    results = json.loads((built_project.path / "target" / "dbt_cio_run_results.json").read_text())
    [entry] = results["results"]
    assert (entry["dbt_cio"]["sync"], status(entry), count(entry, "added"), count(entry, "accepted")) == (
        "cio_people",
        "success",
        6,
        6,
    )

    before = emulator.track_requests()
    run_cli(built_project, "sync", "--select", "cio_people", env=emulator.env)
    assert emulator.track_requests() - before == 1  # the region check only: nothing was sent


def test_seed_edits_send_exactly_the_identifies_clears_and_deletes(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    run_cli(built_project, "sync", "--select", "cio_people", "cio_people_by_email", env=emulator.env)
    assert emulator.state.person(email="alan@example.com").attributes["current_plan"] == "pro"

    seed = built_project.read_seed("customers").splitlines()
    header, rows = seed[0], seed[1:]
    rows = [r for r in rows if not r.startswith("3,")]  # Alan leaves
    rows = [r.replace("Grace,Hopper,free", "Grace,Hopper,team") for r in rows]  # Grace changes plan
    rows.append(
        "7,katherine@example.com,Katherine,Johnson,pro,10.00,2024-08-01 00:00:00,true"
    )  # Katherine joins
    built_project.write_seed("customers", "\n".join([header, *rows]) + "\n")
    built_project.dbt("seed", "--full-refresh")
    built_project.dbt("run")

    before = {p.id: dict(p.attributes) for p in emulator.state.people.values()}
    proc = run_cli(built_project, "sync", "--select", "cio_people", "cio_people_by_email", env=emulator.env)
    results = read_results(built_project)
    assert (
        count(results["cio_people"], "added"),
        count(results["cio_people"], "changed"),
        count(results["cio_people"], "removed"),
    ) == (1, 1, 1)
    assert (
        count(results["cio_people_by_email"], "added"),
        count(results["cio_people_by_email"], "changed"),
        count(results["cio_people_by_email"], "removed"),
    ) == (1, 1, 1), proc.stdout

    people = _people(emulator)
    assert "3" not in people  # on_delete: delete
    assert people["2"]["plan"] == "team" and people["2"]["current_plan"] == "team"
    assert people["7"]["first_name"] == "Katherine" and people["7"]["current_plan"] == "pro"
    for unchanged in ("1", "4", "5", "6"):
        assert people[unchanged] == before[unchanged]


def test_update_mode_creates_nobody_and_clear_empties_only_mapped_attributes(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    run_cli(built_project, "sync", "--select", "cio_people_by_email", env=emulator.env)
    assert emulator.state.people == {}  # update never creates a person
    assert len(emulator.state.ignored) == 6

    run_cli(built_project, "sync", "--select", "cio_people", "--full-refresh", env=emulator.env)
    run_cli(built_project, "sync", "--select", "cio_people_by_email", "--full-refresh", env=emulator.env)
    assert emulator.state.person(email="ada@example.com").attributes["current_plan"] == "pro"

    seed = built_project.read_seed("customers").splitlines()
    built_project.write_seed("customers", "\n".join(r for r in seed if not r.startswith("1,")) + "\n")
    built_project.dbt("seed", "--full-refresh")
    built_project.dbt("run", "--select", "cio_people_by_email")
    run_cli(built_project, "sync", "--select", "cio_people_by_email", env=emulator.env)
    ada = emulator.state.person(email="ada@example.com")
    assert ada is not None  # clear never deletes
    assert "current_plan" not in ada.attributes and "is_active" not in ada.attributes
    assert ada.attributes["first_name"] == "Ada"  # attributes of other syncs are untouched


def test_rejected_rows_are_recorded_and_retried_alone_next_run(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    emulator.emulator.faults.reject_items = {"4"}
    proc = run_cli(built_project, "sync", "--select", "cio_people", env=emulator.env, expect=1)
    assert "rejected" in proc.stdout
    assert set(_people(emulator)) == {"1", "2", "3", "5", "6"}
    [rejection] = _rejections(built_project, "cio_people")
    assert rejection["sync_key"] == "4" and rejection["reason"]

    emulator.emulator.faults.reject_items = None
    sent: list[dict] = []
    emulator.emulator.faults.reject_items = lambda item: sent.append(item) or False
    run_cli(built_project, "sync", "--select", "cio_people", env=emulator.env)
    assert [item["identifiers"] for item in sent] == [{"id": "4"}]
    assert set(_people(emulator)) == {"1", "2", "3", "4", "5", "6"}


def test_dry_run_shows_counts_and_payloads_and_changes_nothing(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    proc = run_cli(built_project, "sync", "--select", "cio_people", "--dry-run", env=emulator.env)
    assert "dry run" in proc.stdout and '"identify"' in proc.stdout
    assert emulator.track_requests() == 1  # the credentials check (GET /api/v1/accounts/region): a read
    assert not emulator.state.people
    run_cli(built_project, "sync", "--select", "cio_people", env=emulator.env)
    assert len(_people(emulator)) == 6  # the dry run did not move the state


def test_missing_credentials_is_a_usage_error_that_names_the_variable(built_project: DbtProject) -> None:
    env = {
        k: ""
        for k in ("CUSTOMERIO_SITE_ID", "CUSTOMERIO_API_KEY", "CUSTOMERIO_TRACK_URL", "CUSTOMERIO_APP_URL")
    }
    proc = run_cli(built_project, "sync", "--select", "cio_people", env=env, expect=None)
    assert proc.returncode in (1, 2)
    assert "CUSTOMERIO_SITE_ID" in proc.stdout + proc.stderr


def test_a_changed_block_is_noted_once_and_full_refresh_resends(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    sync = ("sync", "--select", "cio_people")
    assert "changed since" not in run_cli(built_project, *sync, env=emulator.env).stdout
    schema = built_project.path / "models" / "schema.yml"
    schema.write_text(schema.read_text().replace("            plan: plan\n", "            tier: plan\n", 1))
    built_project.dbt("parse")

    out = run_cli(built_project, *sync, env=emulator.env).stdout
    assert "the meta.customerio block of model 'cio_people' changed since its last sync" in out
    assert "dbt-cio sync --select cio_people --full-refresh" in out
    assert "tier" not in _people(emulator)["1"]  # values unchanged: nothing was resent by itself
    assert "changed since" not in run_cli(built_project, *sync, env=emulator.env).stdout  # said once

    run_cli(built_project, *sync, "--full-refresh", env=emulator.env)
    assert _people(emulator)["1"]["tier"] == _people(emulator)["1"]["plan"]
