"""``dbt-cio serve`` end to end: the real command on a free port, signed dbt Cloud webhooks over HTTP, the
integration project's artifacts served by the local fake of dbt Cloud, the emulator as Customer.io."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
from conftest import DBT_CIO, DbtProject, RunningEmulator, open_state, run_cli
from dbt_cloud_fake import TOKEN, FakeDbtCloud
from serve_process import SECRET, Server, completed

from dbt_cio.project import DbtArgs, Project
from dbt_cio.serve.webhook import sign


def _publish(project: DbtProject, fake: FakeDbtCloud, *run_ids: int, job_id: int = 7) -> None:
    for run_id in run_ids:
        fake.add_run(run_id, job_id, 10, target=project.path / "target")
    shutil.rmtree(project.path / "target")


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.close()


def _state_keys(project: DbtProject, sync: str) -> set[str]:
    with Project.load(
        DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target)
    ) as p:
        return set(open_state(p).store.state_keys(sync))


def test_a_signed_completed_event_syncs_once_and_nothing_else_does(
    built_project: DbtProject,
    emulator: RunningEmulator,
    dbt_cloud: FakeDbtCloud,
    servers: list[Server],
) -> None:
    _publish(built_project, dbt_cloud, 101)
    server = Server(built_project, {**emulator.env, **dbt_cloud.env}, "--job", "7=cio_people")
    servers.append(server)
    body = completed("wev_1", 7, 101)

    assert server.post(body, signature=None)[0] == 401
    assert server.post(body, signature=sign(json.dumps(body).encode(), "another-secret-0123456789"))[0] == 401
    assert server.post(body, signature="")[0] == 401
    assert server.runs() == [] and dbt_cloud.requests == []  # refused before anything else

    status, answer = server.post(completed("wev_2", 8, 101))
    assert (status, answer["status"]) == (200, "ignored") and "job 8 is not one of the --job" in answer[
        "reason"
    ]
    status, answer = server.post(completed("wev_3", 7, 101, event_type="job.run.started"))
    assert (status, answer["status"]) == (200, "ignored")
    status, answer = server.post(completed("wev_4", 7, 101, account=44))
    assert (status, answer["status"]) == (200, "ignored")

    status, answer = server.post(body)
    assert (status, answer["status"], answer["run_id"]) == (202, "queued", 101)
    status, answer = server.post(body)  # dbt Cloud delivers again
    assert (status, answer["status"], answer["reason"]) == (
        200,
        "ignored",
        "already received (a repeated delivery)",
    )

    end = server.wait_for("TriggeredSyncEnd")
    assert end["data"]["state"] == "success", server.events
    [run] = server.runs()
    assert (run["state"], run["run_id"], run["job_id"], run["events"]) == ("success", 101, 7, ["wev_1"])
    assert [(s["sync"], s["status"], s["accepted"]) for s in run["syncs"]] == [("cio_people", "success", 6)]
    assert len(emulator.state.people) == 6
    assert server.get("/healthz") == (200, {"status": "ok", "running": 0, "waiting": 0, "max_waiting": 16})

    assert server.terminate() == 0
    assert len(server.named("TriggeredSyncStart")) == 1 and server.named("ServeStopped")
    shown = json.dumps(server.events) + server._stderr()
    assert TOKEN not in shown and SECRET not in shown


def test_two_events_during_a_running_sync_queue_one_more_run(
    built_project: DbtProject,
    emulator: RunningEmulator,
    dbt_cloud: FakeDbtCloud,
    servers: list[Server],
) -> None:
    _publish(built_project, dbt_cloud, 101, 102, 103)
    emulator.emulator.faults.slow_seconds = 1.0  # the first sync is still sending when the next events come
    server = Server(built_project, {**emulator.env, **dbt_cloud.env}, "--job", "7=cio_people cio_orders")
    servers.append(server)

    assert server.post(completed("wev_1", 7, 101))[1]["status"] == "queued"
    server.wait_for("TriggeredSyncStart")
    assert server.post(completed("wev_2", 7, 102))[1]["status"] == "queued"
    assert server.post(completed("wev_3", 7, 103))[1]["status"] == "coalesced"
    assert [r["state"] for r in server.runs()] == ["queued", "running"]

    server.wait_for("TriggeredSyncEnd", count=2)
    emulator.emulator.faults.slow_seconds = 0
    second, first = server.runs()
    assert (first["run_id"], first["events"], first["state"]) == (101, ["wev_1"], "success")
    assert (second["run_id"], second["events"], second["state"]) == (103, ["wev_2", "wev_3"], "success")
    assert {s["sync"]: s["added"] for s in second["syncs"]} == {"cio_orders": 0, "cio_people": 0}
    assert server.terminate() == 0
    assert len(server.named("TriggeredSyncStart")) == 2
    downloaded = {a.split("/runs/")[1].split("/")[0] for a in dbt_cloud.artifact_requests()}
    assert downloaded == {"101", "103"}  # the newest run named, once


PEOPLE = 30_000


def test_sigterm_during_a_sync_commits_what_was_acknowledged_and_exits(
    dbt_project: DbtProject,
    emulator: RunningEmulator,
    dbt_cloud: FakeDbtCloud,
    servers: list[Server],
) -> None:
    dbt_project.dbt("run", "--select", "cio_bulk_people", "--vars", f"{{bulk_people: {PEOPLE}}}")
    _publish(dbt_project, dbt_cloud, 101)
    emu = emulator.emulator
    emu.faults.slow_seconds = 0.25  # a few seconds of sending, so SIGTERM lands mid-way
    env = {**emulator.env, **dbt_cloud.env}
    server = Server(dbt_project, env, "--job", "7=cio_bulk_people", "--max-concurrency", "1")
    servers.append(server)
    assert server.post(completed("wev_1", 7, 101))[0] == 202
    deadline = time.monotonic() + 120
    while not emu.state.people and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.terminate() == 0
    emu.faults.slow_seconds = 0

    arrived = {p.id for p in emu.state.people.values()}
    assert 0 < len(arrived) < PEOPLE, "SIGTERM came too late to stop the sync mid-way"
    assert _state_keys(dbt_project, "cio_bulk_people") == arrived  # committed exactly what was acknowledged
    end = server.named("TriggeredSyncEnd")[0]["data"]
    assert end["state"] == "failed" and end["exit_code"] == 1
    [sync] = end["syncs"]
    assert sync["status"] == "error" and "stopped when asked to (SIGTERM)" in sync["message"]
    assert sync["accepted"] == len(arrived)
    stopping = server.named("ServeStopping")[0]["data"]
    assert stopping["running"] is True

    sent: list[str] = []
    emu.faults.reject_items = lambda item: sent.append(item["identifiers"]["id"]) or False
    run_cli(dbt_project, "sync", "--select", "cio_bulk_people", "--dbt-cloud-run", "101", env=env)
    assert len(sent) == PEOPLE - len(arrived) and not arrived & set(sent)
    assert len(emu.state.people) == PEOPLE


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {"DBT_CIO_WEBHOOK_SECRET": ""}, "set DBT_CIO_WEBHOOK_SECRET"),
        ([], {"DBT_CLOUD_ACCOUNT_ID": ""}, "set DBT_CLOUD_ACCOUNT_ID"),
        (["--job", "7"], {}, "--job '7': write JOB_ID=SELECTION"),
        (["--job", "7=a", "--select", "b"], {}, "--job names what each job syncs"),
    ],
    ids=["no-secret", "no-account", "bad-job", "job-and-select"],
)
def test_serve_usage_errors_exit_2_before_listening(
    args: list[str], env: dict[str, str], expected: str
) -> None:
    full = {**os.environ, "DBT_CIO_WEBHOOK_SECRET": SECRET, "DBT_CLOUD_API_TOKEN": TOKEN,
            "DBT_CLOUD_ACCOUNT_ID": "43", **env}  # fmt: skip
    proc = subprocess.run([DBT_CIO, "serve", "--port", "0", *args], check=False, capture_output=True, text=True,
                          env=full, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr
    assert "Listening" not in proc.stdout and TOKEN not in proc.stdout + proc.stderr
