"""When things go wrong, end to end (real CLI, the integration project, the emulator over HTTP): rejections
say why, exit codes are as documented, an unbuilt model fails only its own sync, and every run leaves its
row in the runs table."""

from __future__ import annotations

import json

from conftest import DbtProject, RunningEmulator, open_state, run_cli
from run_results import count, read_results, status

from dbt_cio.project import DbtArgs, Project

REJECTING_SQL = """
select '1' as customer_id, 'ok' as label
union all select repeat('x', 151), 'too long'
union all select '3', 'fine'
"""
MEMBERS_SQL = """
select '1' as company_id, repeat('y', 151) as customer_id, 'r' as role
union all select '1', '2', 'admin'
"""
REJECTING_YML = """
version: 2
models:
  - name: rejecting_people
    config:
      meta:
        customerio: {{type: person, identifier: customer_id{policy}}}
  - name: rejecting_members
    config:
      meta:
        customerio: {{type: relationship, object_type_id: "1", object_id: company_id, identifier: customer_id}}
"""


def _args(project: DbtProject) -> DbtArgs:
    return DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target)


def _runs(project: DbtProject, sync: str) -> list[dict]:
    with Project.load(_args(project)) as p:
        return open_state(p).records.runs(sync)


def _query(project: DbtProject, statement: str) -> list[tuple]:
    with Project.load(_args(project)) as p:
        return open_state(p).tables.session.query(statement, "reading rejections")[1]


def test_rejections_say_why_with_readable_keys_and_warn_can_let_the_run_pass(
    dbt_project: DbtProject, emulator: RunningEmulator
) -> None:
    models = dbt_project.path / "models"
    (models / "rejecting_people.sql").write_text(REJECTING_SQL)
    (models / "rejecting_members.sql").write_text(MEMBERS_SQL)
    (models / "rejecting.yml").write_text(REJECTING_YML.format(policy=""))
    dbt_project.dbt("run", "--select", "rejecting_people", "rejecting_members")

    select = ("--select", "rejecting_people", "rejecting_members")
    proc = run_cli(dbt_project, "sync", *select, env=emulator.env, expect=1)
    results = read_results(dbt_project)
    people, members = results["rejecting_people"], results["rejecting_members"]
    assert (status(people), count(people, "accepted"), count(people, "rejected")) == ("rejected", 2, 1)
    too_long = "identifier is longer than 150 bytes"
    assert too_long in people["message"] and f"e.g. key {'x' * 151}" in people["message"]
    assert people["dbt_cio"]["rejection_reasons"] == [
        {"reason": too_long, "count": 1, "sample_key": "x" * 151}
    ]
    # a composite key is shown as its column values, not joined by a control character
    assert f"company_id=1, customer_id={'y' * 151}" in members["message"], members["message"]
    assert "\x1f" not in proc.stdout + json.dumps(results)
    # the summary lists the reasons and the SQL that reads them all; that SQL works
    assert f"1 × {too_long} (e.g. key {'x' * 151})" in proc.stdout
    assert people["dbt_cio"]["rejections_sql"] in proc.stdout
    rows = _query(dbt_project, people["dbt_cio"]["rejections_sql"])
    assert [(row[0], row[2], row[4]) for row in rows] == [
        ("x" * 151, too_long, 1)
    ]  # key, reason, runs in a row

    run_cli(dbt_project, "sync", *select, env=emulator.env, expect=1)  # rejected again: a second run in a row
    again = read_results(dbt_project)["rejecting_people"]
    assert count(again, "rejected") == 1 and [
        row[4] for row in _query(dbt_project, again["dbt_cio"]["rejections_sql"])
    ] == [2]

    (models / "rejecting.yml").write_text(REJECTING_YML.format(policy=", on_rejections: warn"))
    proc = run_cli(dbt_project, "sync", "--select", "rejecting_people", env=emulator.env, expect=0)
    result = read_results(dbt_project)["rejecting_people"]
    assert status(result) == "warn" and "on_rejections: warn" in result["message"], proc.stdout


def test_missing_credentials_are_configuration_errors(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    env = {k: v for k, v in emulator.env.items() if k != "CUSTOMERIO_API_KEY"}
    proc = run_cli(
        built_project, "sync", "--select", "cio_people", env={**env, "CUSTOMERIO_API_KEY": ""}, expect=2
    )
    assert "CUSTOMERIO_API_KEY" in proc.stderr and "Traceback" not in proc.stderr
    app = {**emulator.env, "CUSTOMERIO_APP_API_KEY": ""}
    proc = run_cli(built_project, "sync", "--select", "cio_pro_customers", "cio_people", env=app, expect=2)
    assert "pro_customers" in proc.stderr and "CUSTOMERIO_APP_API_KEY" in proc.stderr
    assert not emulator.state.people  # nothing ran


def test_an_unbuilt_model_fails_alone_and_every_run_leaves_a_record(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    models = built_project.path / "models"
    (models / "unbuilt_plain.sql").write_text("select '1' as customer_id")
    (models / "unbuilt_documented.sql").write_text("select '1' as customer_id")
    (models / "duplicated.sql").write_text("select '1' as customer_id union all select '1'")
    (models / "failing.yml").write_text(
        "version: 2\nmodels:\n"
        "  - name: unbuilt_plain\n    config: {meta: {customerio: {type: person, identifier: customer_id}}}\n"
        "  - name: unbuilt_documented\n    config: {meta: {customerio: {type: person, identifier: customer_id}}}\n"
        "    columns: [{name: customer_id}]\n"
        "  - name: duplicated\n    config: {meta: {customerio: {type: person, identifier: customer_id}}}\n"
    )
    built_project.dbt("run", "--select", "duplicated")
    select = ("--select", "unbuilt_plain", "unbuilt_documented", "duplicated", "cio_people")
    proc = run_cli(built_project, "sync", *select, env=emulator.env, expect=1)
    results = read_results(built_project)
    for model in ("unbuilt_plain", "unbuilt_documented"):
        assert status(results[model]) == "error", proc.stdout
        assert f"dbt run --select {model}" in results[model]["message"]
        assert results[model]["unique_id"] == f"model.dbt_cio_integration_tests.{model}.{model}"
    assert status(results["duplicated"]) == "error" and "more than once" in results["duplicated"]["message"]
    assert status(results["cio_people"]) == "success" and len(emulator.state.people) == 6

    for sync in ("unbuilt_plain", "unbuilt_documented", "duplicated"):
        [run] = _runs(built_project, sync)
        assert run["outcome"] == "error" and run["error"] == results[sync]["message"] and run["finished_at"]

    wrong = {**emulator.env, "CUSTOMERIO_API_KEY": "wrong-key"}
    proc = run_cli(built_project, "sync", "--select", "cio_orders", "cio_people", env=wrong, expect=1)
    assert "wrong-key" not in proc.stdout + proc.stderr
    [refused] = _runs(built_project, "cio_orders")
    assert refused["outcome"] == "error" and "refused the credentials" in refused["error"]
    assert _runs(built_project, "cio_people")[-1]["outcome"] == "skipped"

    closed = {
        **emulator.env,
        "CUSTOMERIO_TRACK_URL": "http://127.0.0.1:9",
        "CUSTOMERIO_APP_URL": "http://127.0.0.1:9",
    }
    run_cli(built_project, "sync", "--select", "cio_orders", env=closed, expect=1)
    unreachable = _runs(built_project, "cio_orders")[-1]
    assert (
        unreachable["outcome"] == "error"
        and "to http://127.0.0.1:9 failed: connection error" in unreachable["error"]
    )


def test_columns_come_from_the_built_table_and_validate_honours_the_selection(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    models = built_project.path / "models"
    (models / "drifted_people.sql").write_text("select '9' as customer_id, 'gold' as extra")
    (models / "drifted.yml").write_text(
        "version: 2\nmodels:\n"
        "  - name: drifted_people\n"
        "    config: {meta: {customerio: {type: person, identifier: customer_id, attributes: {extra: extra}}}}\n"
        "    columns: [{name: customer_id}, {name: ghost}]\n"
        "  - name: misconfigured\n"
        "    config: {meta: {customerio: {type: person, identifier: customer_id, colour: blue}}}\n"
    )
    (models / "misconfigured.sql").write_text("select '1' as customer_id")
    built_project.dbt("run", "--select", "drifted_people", "misconfigured")

    proc = run_cli(built_project, "validate", "--select", "drifted_people", "cio_people", expect=0)
    assert "OK: 2 sync(s)" in proc.stdout and "ghost" in proc.stdout  # a warning, not an error
    proc = run_cli(built_project, "validate", expect=2)
    assert "misconfigured" in proc.stderr and "colour" in proc.stderr
    proc = run_cli(built_project, "validate", "-s", "misconfigured", expect=2)
    assert "colour" in proc.stderr
    run_cli(built_project, "validate", "--exclude", "misconfigured", expect=0)

    run_cli(built_project, "sync", "--select", "drifted_people", env=emulator.env)
    assert emulator.state.person(id="9").attributes == {"extra": "gold"}
