"""A sync killed with SIGKILL at a random point resumes without losing a row or getting ahead of Customer.io."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable

from conftest import DBT_CIO, DbtProject, RunningEmulator, open_state, run_cli
from test_sync_log import log_rows

from dbt_cio.project import DbtArgs, Project

PEOPLE = 30_000
VARS = f"{{bulk_people: {PEOPLE}}}"


def _expected(n: int) -> dict[str, object]:
    return {
        "email": f"person{n}@example.com",
        "first_name": f"First{n % 1000}",
        "last_name": f"Last{n % 997}",
        "plan": "pro" if n % 3 == 0 else "free" if n % 3 == 1 else "team",
        "lifetime_value": (n % 10000) / 100,
        "is_active": n % 2 == 0,
        "cohort": "v1",
    }


def _state_keys(project: DbtProject) -> set[str]:
    args = DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target, vars=VARS)
    with Project.load(args) as p:
        return set(open_state(p).store.state_keys("cio_bulk_people"))


def _kill_mid_sync(
    project: DbtProject,
    emulator: RunningEmulator,
    model: str,
    variables: str,
    arrived: Callable[[], int],
    total: int,
) -> None:
    """Start a slowed-down sync of ``model`` and SIGKILL it once a random share of ``total`` has arrived."""
    emu = emulator.emulator
    emu.faults.slow_seconds = 0.25  # make the sync last a few seconds so the kill lands mid-way
    rng = random.Random(os.environ.get("DBT_CIO_CRASH_SEED", "20261123"))
    proc = subprocess.Popen(
        [DBT_CIO, "sync", "--select", model, "--vars", variables, "--max-concurrency", "1", *project.flags],
        cwd=project.path,
        env={**os.environ, **project.env, **emulator.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    kill_after = rng.randint(total // 5, total * 4 // 5)
    deadline = time.monotonic() + 120
    while arrived() < kill_after and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.6))
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    emu.faults.slow_seconds = 0
    assert killed, "the sync ended before it could be killed: make it slower"
    assert arrived() < total


def test_sigkill_mid_sync_then_rerun_ends_exactly_as_the_model(
    dbt_project: DbtProject, emulator: RunningEmulator
) -> None:
    dbt_project.dbt("run", "--select", "cio_bulk_people", "--vars", VARS)
    emu = emulator.emulator
    _kill_mid_sync(dbt_project, emulator, "cio_bulk_people", VARS, lambda: len(emu.state.people), PEOPLE)

    # State never claims a row Customer.io did not accept.
    committed = _state_keys(dbt_project)
    arrived = {p.id for p in emu.state.people.values()}
    assert committed <= arrived
    print(f"killed with {len(arrived)} people arrived, {len(committed)} committed")

    # The sync log never claims an operation the state would resend.
    logged = {row["sync_key"] for row in log_rows(dbt_project, "cio_bulk_people", VARS)}
    assert logged <= committed

    # The rerun sends what was not acknowledged (the kill's lock is taken over) and nothing more.
    sent: list[str] = []
    emu.faults.reject_items = lambda item: sent.append(item["identifiers"]["id"]) or False
    run_cli(dbt_project, "sync", "--select", "cio_bulk_people", "--vars", VARS, env=emulator.env)
    assert len(sent) == PEOPLE - len(committed)
    assert not committed & set(sent)

    # Every operation is logged once, as accepted: the killed run's (logged by the rerun's fold of its ledger)
    # are exactly the committed keys, the rerun's exactly what it sent.
    rows = log_rows(dbt_project, "cio_bulk_people", VARS)
    assert len(rows) == PEOPLE and {row["outcome"] for row in rows} == {"accepted"}
    runs: dict[str, set[str]] = {}
    for row in rows:
        runs.setdefault(row["run_id"], set()).add(row["sync_key"])
    # (A kill before the first commit leaves no committed row, so the killed run has no log row at all.)
    expected = [keys for keys in (committed, set(sent)) if keys]
    assert sorted(map(len, runs.values())) == sorted(map(len, expected))
    assert all(keys in runs.values() for keys in expected)

    people = {p.id: p.attributes for p in emu.state.people.values()}
    assert len(people) == PEOPLE
    for n in range(1, PEOPLE + 1):
        assert people[str(n)] == _expected(n), n
    assert _state_keys(dbt_project) == set(people)


EVENTS = 30_000
EVENT_VARS = f"{{bulk_events: {EVENTS}, bulk_people: 500}}"


def test_sigkill_mid_event_sync_then_rerun_delivers_each_event_once(
    dbt_project: DbtProject, emulator: RunningEmulator
) -> None:
    dbt_project.dbt("run", "--select", "cio_bulk_events", "--vars", EVENT_VARS)
    emu = emulator.emulator
    _kill_mid_sync(
        dbt_project, emulator, "cio_bulk_events", EVENT_VARS, lambda: len(emu.state.events), EVENTS
    )

    run_cli(dbt_project, "sync", "--select", "cio_bulk_events", "--vars", EVENT_VARS, env=emulator.env)
    run_cli(dbt_project, "sync", "--select", "cio_bulk_events", "--vars", EVENT_VARS, env=emulator.env)

    ids = [e.id for e in emu.state.events]
    assert len(ids) == EVENTS and len(set(ids)) == EVENTS  # every event, each once
    names = {e.attributes["quantity"] for e in emu.state.events}
    assert names == set(range(97))
