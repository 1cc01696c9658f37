"""The sync log end to end (real CLI, the integration project, the emulator over HTTP, DuckDB and PostgreSQL):
one row per operation sent with what Customer.io answered, payloads of rejected ones (or of all), ``show``,
``log: none``, and retention, in both state modes and through a kill between the statements of a pruning."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import DBT_CIO, DbtProject, RunningEmulator, open_state, run_cli
from sql_log import logging_env, statements

from dbt_cio.project import DbtArgs, Project

LOGGED_SQL = (
    "select cast(customer_id as varchar) as customer_id, plan, cast('2024-07-01 10:00:00+00' as timestamp with "
    "time zone) as seen_at, cast(12.50 as decimal(10,2)) as balance from {{ ref('customers') }}"
)
LOGGED_YML = """
version: 2
models:
  - name: logged_people
    config:
      meta:
        customerio: {{type: person, identifier: customer_id, log: {log}, log_retention_days: 7}}
"""


def _args(project: DbtProject) -> DbtArgs:
    return DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target)


def log_rows(project: DbtProject, sync: str, variables: str | None = None) -> list[dict]:
    """Every row of a sync's log, oldest first ([] when it has no log table)."""
    args = DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target, vars=variables)
    with Project.load(args) as p:
        state = open_state(p)
        table = state.tables.sync_table_names(sync).sync_log
        if table not in state.tables.existing():
            return []
        cols, rows = state.tables.session.query(
            f"select * from {state.log.relation(sync)} order by logged_at, request, diff_seq",
            "reading the log",
        )
        return [dict(zip([c.lower() for c in cols], row)) for row in rows]


def _show(project: DbtProject, sync: str, *keys: str, expect: int = 0) -> dict:
    flags = [arg for key in keys for arg in ("--key", key)]
    proc = run_cli(project, "show", sync, *flags, "--output", "json", expect=expect)
    return json.loads(proc.stdout.splitlines()[-1])


def test_every_operation_is_logged_with_its_answer_and_show_prints_it(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    emulator.emulator.faults.reject_items = {"4"}  # Customer.io refuses person 4 (a 207)
    proc = run_cli(built_project, "sync", "--select", "cio_people", env=emulator.env, expect=1)
    rows = log_rows(built_project, "cio_people")
    assert len(rows) == 6 and len({row["run_id"] for row in rows}) == 1  # 5 accepted + 1 rejected
    by_key = {row["sync_key"]: row for row in rows}
    assert sorted(by_key) == ["1", "2", "3", "4", "5", "6"]
    rejected = by_key.pop("4")
    assert (rejected["action"], rejected["outcome"], rejected["http_status"]) == ("identify", "rejected", 207)
    assert rejected["reason"] and rejected["request"] == 1
    payload = json.loads(rejected["payload"])  # the request that carried it, exactly
    assert (payload["method"], payload["path"]) == ("POST", "/api/v2/batch")
    assert payload["body"]["identifiers"] == {"id": "4"} and payload["body"]["attributes"]["plan"] == "team"
    for row in by_key.values():  # the others: accepted in the same request, no payload by default
        assert (row["action"], row["outcome"], row["http_status"], row["request"]) == (
            "identify",
            "accepted",
            207,
            1,
        )
        assert row["payload"] is None and row["reason"] is None

    shown = _show(built_project, "cio_people", "4")
    assert shown["state"] is None and shown["rejection"]["reason"] == rejected["reason"]
    assert [entry["outcome"] for entry in shown["log"]] == ["rejected"]
    assert json.loads(shown["log"][0]["payload"]) == payload
    shown = _show(built_project, "cio_people", "1")
    assert shown["state"]["hash"] and shown["rejection"] is None and shown["log"][0]["outcome"] == "accepted"
    table = run_cli(
        built_project, "show", "cio_people", "--key", "4"
    ).stdout  # on a terminal: tables and payload
    assert "rejected" in table and '"identifiers": {"id": "4"}' in table, table
    _show(built_project, "cio_people", "99", expect=1)  # a key nobody knows
    assert "--key" in run_cli(built_project, "show", "cio_company_members", "--key", "1", expect=2).stderr

    emulator.emulator.faults.reject_items = None  # next run: person 4 goes through, its rejection closes
    run_cli(built_project, "sync", "--select", "cio_people", env=emulator.env)
    shown = _show(built_project, "cio_people", "4")
    assert [entry["outcome"] for entry in shown["log"]] == ["accepted", "rejected"]  # newest first
    assert shown["state"] is not None and shown["rejection"] is None
    assert len(log_rows(built_project, "cio_people")) == 7  # nothing else was sent
    assert "\x1f" not in proc.stdout

    # a composite key, by its values or as it reads
    run_cli(built_project, "sync", "--select", "cio_company_members", env=emulator.env)
    member = log_rows(built_project, "cio_company_members")[0]
    company, person = member["key_display"].replace("company_id=", "").split(", customer_id=")
    assert member["action"] == "add_relationships"
    assert _show(built_project, "cio_company_members", company, person)["log"][0]["outcome"] == "accepted"
    assert _show(built_project, "cio_company_members", member["key_display"])["state"] is not None


def test_log_all_keeps_every_payload_log_none_keeps_nothing(
    dbt_project: DbtProject, emulator: RunningEmulator
) -> None:
    models = dbt_project.path / "models"
    (models / "logged_people.sql").write_text(LOGGED_SQL)
    (models / "logged.yml").write_text(LOGGED_YML.format(log="none"))
    dbt_project.dbt("seed", "--select", "customers")
    dbt_project.dbt("run", "--select", "logged_people")
    sync = ("sync", "--select", "logged_people", "--full-refresh")
    run_cli(dbt_project, *sync, env=emulator.env)
    assert log_rows(dbt_project, "logged_people") == []

    def payload_ids() -> list[str]:
        rows = log_rows(dbt_project, "logged_people")
        assert {row["outcome"] for row in rows} == {"accepted"}
        for row in rows:
            attributes = json.loads(row["payload"])["body"]["attributes"]
            assert (attributes["seen_at"], attributes["balance"]) == (1_719_828_000, 12.5), attributes
        return sorted(json.loads(row["payload"])["body"]["identifiers"]["id"] for row in rows)

    # --log-payloads: for one run, as log: all; the Python path reads the instant and the decimal as DuckDB
    # converts them (dbt_cio.warehouse.casts: seconds, a double), PostgreSQL's driver as they are
    (models / "logged.yml").write_text(LOGGED_YML.format(log="errors"))
    logs = dbt_project.path / "logs-payloads"
    run_cli(dbt_project, *sync, "--log-payloads", env={**emulator.env, **logging_env(logs)})
    [page] = [s for s in statements(logs) if s.startswith("select _cio_seq, _cio_key, _cio_change")]
    assert ("case when" in page) == (dbt_project.target == "duckdb"), page
    assert payload_ids() == ["1", "2", "3", "4", "5", "6"]
    (models / "logged.yml").write_text(LOGGED_YML.format(log="all"))
    run_cli(dbt_project, *sync, env=emulator.env)
    assert payload_ids() == ["1", "1", "2", "2", "3", "3", "4", "4", "5", "5", "6", "6"]


def _add_old_rows(project: DbtProject, sync: str) -> None:
    """Two log rows of a sync, logged 40 and 3 days ago (in the state mode of DBT_CIO_STATE_MODE)."""
    args = DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target)
    with Project.load(args) as p:
        state = open_state(p)
        session, d = state.tables.session, state.tables.session.dialect
        for key, days in (("old", -40), ("recent", -3)):
            with session.transaction("adding a log row"):
                session.execute(
                    f"insert into {state.log.relation(sync)} (run_id, sync_name, sync_key, outcome, logged_at) "
                    f"values ('earlier', {d.literal(sync)}, {d.literal(key)}, 'accepted', {d.days_from_now(days)})"
                )


@pytest.mark.parametrize("mode", ["transactional", "append_only"])
def test_rows_past_retention_are_removed_at_the_end_of_a_run(
    dbt_project: DbtProject, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("DBT_CIO_STATE_MODE", mode)
    models = dbt_project.path / "models"
    (models / "logged_people.sql").write_text(LOGGED_SQL)
    (models / "logged.yml").write_text(LOGGED_YML.format(log="errors"))
    dbt_project.dbt("seed", "--select", "customers")
    dbt_project.dbt("run", "--select", "logged_people")
    env = {**emulator.env, "DBT_CIO_STATE_MODE": mode}
    run_cli(dbt_project, "sync", "--select", "logged_people", env=env)
    _add_old_rows(dbt_project, "logged_people")
    assert len(log_rows(dbt_project, "logged_people")) == 8
    run_cli(dbt_project, "sync", "--select", "logged_people", env=env)  # nothing to send; still pruned
    keys = [row["sync_key"] for row in log_rows(dbt_project, "logged_people")]
    assert sorted(keys) == ["1", "2", "3", "4", "5", "6", "recent"]


@pytest.mark.parametrize("point", ["prune:created", "prune:dropped", "prune:renamed"])
def test_a_kill_between_the_statements_of_a_pruning_loses_nothing(
    dbt_project: DbtProject, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    monkeypatch.setenv("DBT_CIO_STATE_MODE", "append_only")
    models = dbt_project.path / "models"
    (models / "logged_people.sql").write_text(LOGGED_SQL)
    (models / "logged.yml").write_text(LOGGED_YML.format(log="errors"))
    dbt_project.dbt("seed", "--select", "customers")
    dbt_project.dbt("run", "--select", "logged_people")
    env = {**os.environ, **dbt_project.env, **emulator.env, "DBT_CIO_STATE_MODE": "append_only"}
    run_cli(dbt_project, "sync", "--select", "logged_people", env=env)
    _add_old_rows(dbt_project, "logged_people")
    killed = subprocess.run(
        [DBT_CIO, "sync", "--select", "logged_people", *dbt_project.flags],
        cwd=dbt_project.path, env={**env, "DBT_CIO_TEST_CRASH_AT": point}, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stdout + killed.stderr

    (dbt_project.path / "seeds" / "customers.csv").write_text(
        (dbt_project.path / "seeds" / "customers.csv")
        .read_text()
        .replace("Ada,Lovelace,pro", "Ada,Lovelace,team")
    )
    dbt_project.dbt("seed", "--select", "customers", "--full-refresh")
    dbt_project.dbt("run", "--select", "logged_people")
    run_cli(dbt_project, "sync", "--select", "logged_people", env=env)  # settles the pruning, then logs on
    keys = sorted(row["sync_key"] for row in log_rows(dbt_project, "logged_people"))
    assert keys == ["1", "1", "2", "3", "4", "5", "6", "recent"]
