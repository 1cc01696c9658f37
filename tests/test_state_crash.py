"""State that needs no DELETE, UPDATE or transaction survives a kill between any two statements of its fold.

Append-only state (as on Spark) folds the ledger into the state in restartable steps; these tests SIGKILL
the real CLI at each step (``DBT_CIO_TEST_CRASH_AT``, see dbt_cio.warehouse.ledger), on DuckDB and PostgreSQL,
and check the invariants: the state (as the next run sees it) is never ahead of Customer.io, the re-run
sends exactly what the state does not hold, and ends with the state equal to the model. A kill at a random
moment while sending is covered for both state modes.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import DBT_CIO, DbtProject, RunningEmulator, open_state, run_cli
from test_sync_crash import _kill_mid_sync
from test_sync_log import log_rows

from dbt_cio.project import DbtArgs, Project

PEOPLE = 3_000
VARS = f"{{bulk_people: {PEOPLE}}}"


def _state(project: DbtProject, env: dict[str, str], variables: str = VARS) -> set[str]:
    args = DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target, vars=variables)
    with Project.load(args) as p:
        assert p.state_mode == env.get("DBT_CIO_STATE_MODE", "auto")
        return set(open_state(p).store.state_keys("cio_bulk_people"))


def _arrived(emulator: RunningEmulator) -> set[str]:
    return {p.id for p in emulator.state.people.values() if p.id is not None}


def _sync(
    project: DbtProject, env: dict[str, str], variables: str = VARS
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DBT_CIO, "sync", "--select", "cio_bulk_people", "--vars", variables, *project.flags],
        cwd=project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("point", ["fold:created", "fold:dropped", "fold:renamed"])
def test_a_kill_between_the_statements_of_a_fold_loses_and_doubles_nothing(
    dbt_project: DbtProject, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    monkeypatch.setenv("DBT_CIO_STATE_MODE", "append_only")
    dbt_project.dbt("run", "--select", "cio_bulk_people", "--vars", VARS)
    env = {**dbt_project.env, **emulator.env, "DBT_CIO_STATE_MODE": "append_only"}
    first = _sync(dbt_project, {**os.environ, **env, "DBT_CIO_TEST_CRASH_AT": point})
    assert first.returncode == -9, first.stdout + first.stderr  # killed inside the fold
    assert len(_arrived(emulator)) == PEOPLE  # everything was sent and acknowledged before the fold
    assert _state(dbt_project, env) == _arrived(emulator)  # ...and is the state the next run sees

    # The re-run finishes (or discards and redoes) the fold, then finds nothing to send.
    sent: list[str] = []
    emulator.emulator.faults.reject_items = lambda item: sent.append(item["identifiers"]["id"]) or False
    run_cli(dbt_project, "sync", "--select", "cio_bulk_people", "--vars", VARS, env=env)
    assert sent == []
    assert _state(dbt_project, env) == {str(n) for n in range(1, PEOPLE + 1)}
    logged = [row["sync_key"] for row in log_rows(dbt_project, "cio_bulk_people", VARS)]
    assert sorted(logged) == sorted(_arrived(emulator))  # each operation logged once, the fold redone or not

    # and the state moves on normally afterwards: 1% changed, 10 removed
    smaller = f"{{bulk_people: {PEOPLE - 10}, bulk_version: 2}}"
    dbt_project.dbt("run", "--select", "cio_bulk_people", "--vars", smaller)
    run_cli(dbt_project, "sync", "--select", "cio_bulk_people", "--vars", smaller, env=env)
    assert len(sent) == 29 + 10  # every hundredth person changed (100..2900), and 10 deletes
    assert _state(dbt_project, env, smaller) == {str(n) for n in range(1, PEOPLE - 9)} == _arrived(emulator)


@pytest.mark.parametrize("mode", ["transactional", "append_only"])
def test_a_kill_while_sending_resumes_exactly_in_either_state_mode(
    dbt_project: DbtProject, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("DBT_CIO_STATE_MODE", mode)
    people = 12_000
    variables = f"{{bulk_people: {people}}}"
    env = {**dbt_project.env, **emulator.env, "DBT_CIO_STATE_MODE": mode}
    dbt_project.dbt("run", "--select", "cio_bulk_people", "--vars", variables)
    _kill_mid_sync(
        dbt_project, emulator, "cio_bulk_people", variables, lambda: len(emulator.state.people), people
    )
    committed = _state(dbt_project, env, variables)
    assert committed <= _arrived(emulator)  # never ahead of Customer.io

    sent: list[str] = []
    emulator.emulator.faults.reject_items = lambda item: sent.append(item["identifiers"]["id"]) or False
    run_cli(dbt_project, "sync", "--select", "cio_bulk_people", "--vars", variables, env=env)
    assert len(sent) == people - len(committed) and not committed & set(sent)
    assert _state(dbt_project, env, variables) == _arrived(emulator) == {str(n) for n in range(1, people + 1)}
