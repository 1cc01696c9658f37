"""What dbt-cio writes: ``--log-format json`` (every stdout line one JSON object in dbt's shape),
``--quiet``, colours (``--no-use-colors``, ``NO_COLOR``), the terminal's phase spinner, and the dbt-shaped
``target/dbt_cio_run_results.json``."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from conftest import DbtProject, RunningEmulator, run_cli
from run_results import read_results

from dbt_cio.engine.artifacts import DBT_STATUS, result_entry, utc_z
from dbt_cio.engine.results import RejectionReason, SyncResult, Timing
from dbt_cio.report import Reporter

INFO_FIELDS = {"category", "code", "extra", "invocation_id", "level", "msg", "name", "pid", "thread", "ts"}


def _events(stdout: str) -> list[dict]:
    lines = stdout.splitlines()
    assert lines, "nothing on stdout"
    events = [json.loads(line) for line in lines]  # every line parses as JSON
    for event in events:
        assert set(event) == {"data", "info"} and set(event["info"]) == INFO_FIELDS, event
        assert event["info"]["ts"].endswith("Z") and event["info"]["level"] in ("info", "warn", "error")
    return events


def test_json_logs_and_run_results_share_the_invocation_and_name_each_sync(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    proc = run_cli(
        built_project, "sync", "-s", "cio_people", "cio_orders", "--log-format", "json", env=emulator.env
    )
    events = _events(proc.stdout)
    doc = json.loads((built_project.path / "target" / "dbt_cio_run_results.json").read_text())
    invocation = doc["metadata"]["invocation_id"]
    assert {e["info"]["invocation_id"] for e in events} == {invocation}
    names = [e["info"]["name"] for e in events]
    assert names[0] == "PhaseStart" and "RunSummary" in names and names.count("SyncResult") == 2
    phases = {(e["data"]["phase"], e["data"]["sync"]) for e in events if e["info"]["name"] == "PhaseStart"}
    assert {
        ("loading the project", None),
        ("computing the diff", "cio_people"),
        ("committing", "cio_people"),
    } <= phases
    people = next(
        e["data"]
        for e in events
        if e["info"]["name"] == "SyncResult" and e["data"]["dbt_cio"]["sync"] == "cio_people"
    )
    uid = "model.dbt_cio_integration_tests.cio_people"
    assert people["node_info"]["unique_id"] == f"{uid}.cio_people" and people["status"] == "success"
    assert people["adapter_response"]["accepted"] == 6

    # the run results: dbt's shape, dbt-cio's schema version, UTC times ending in Z
    meta = doc["metadata"]
    assert meta["dbt_schema_version"] == "dbt-cio/run-results/v1" and meta["dbt_cio_version"]
    assert meta["generated_at"].endswith("Z") and meta["invocation_started_at"].endswith("Z")
    datetime.fromisoformat(meta["generated_at"].removesuffix("Z"))
    assert doc["args"]["which"] == "sync" and doc["args"]["select"] == ["cio_people", "cio_orders"]
    entry = read_results(built_project)["cio_people"]
    assert entry["unique_id"] == f"{uid}.cio_people" and entry["dbt_cio"]["model_unique_id"] == uid
    assert entry["relation_name"].endswith('"cio_people"') and entry["failures"] is None
    assert [t["name"] for t in entry["timing"]] == ["compile", "execute"]
    assert all(
        t["started_at"] <= t["completed_at"] and t["completed_at"].endswith("Z") for t in entry["timing"]
    )
    assert entry["execution_time"] > 0 and entry["adapter_response"]["rows_affected"] == 6
    for key in (
        "status",
        "timing",
        "thread_id",
        "execution_time",
        "adapter_response",
        "message",
        "failures",
        "unique_id",
        "compiled",
        "compiled_code",
        "relation_name",
        "batch_results",
    ):  # dbt's fields
        assert key in entry, key
    assert {"elapsed_time", "args", "metadata", "results"} <= set(doc)


def test_json_logs_stay_json_on_errors_and_quiet_keeps_only_errors(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    proc = run_cli(
        built_project, "sync", "-s", "nosuchmethod:x", "--log-format", "json", env=emulator.env, expect=2
    )
    [error] = [e for e in _events(proc.stdout) if e["info"]["level"] == "error"]
    assert error["info"]["name"] == "Error" and "selection" in error["data"]["msg"]
    assert proc.stderr.startswith("Error: ")  # the line for people is still on stderr

    wrong = {**emulator.env, "CUSTOMERIO_API_KEY": "wrong-key"}
    proc = run_cli(built_project, "sync", "-s", "cio_people", "--log-format", "json", env=wrong, expect=1)
    result = next(e for e in _events(proc.stdout) if e["info"]["name"] == "SyncResult")
    assert result["info"]["level"] == "error" and result["data"]["adapter_response"]["code"] == "error"

    for command in (("runs",), ("debug",), ("validate",)):
        _events(run_cli(built_project, *command, "--log-format", "json", env=emulator.env).stdout)

    assert run_cli(built_project, "sync", "-s", "cio_people", "--quiet", env=emulator.env).stdout == ""
    proc = run_cli(built_project, "sync", "-s", "cio_people", "-q", env=wrong, expect=1)
    assert (
        proc.stdout.strip().startswith("cio_people: error: ") and len(proc.stdout.strip().splitlines()) == 1
    )
    assert "Error" not in proc.stderr  # a failed sync is a result, not a usage error
    quiet_json = run_cli(
        built_project, "sync", "-s", "cio_people", "-q", "--log-format", "json", env=wrong, expect=1
    )
    assert {e["info"]["level"] for e in _events(quiet_json.stdout)} == {"error"}


def _terminal(**options: object) -> tuple[Reporter, io.StringIO]:
    out = io.StringIO()
    return Reporter(out, force_terminal=True, **options), out  # type: ignore[arg-type]


def test_a_terminal_shows_the_phase_under_way_in_colour_unless_told_not_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    reporter, out = _terminal()
    with reporter.phase("computing the diff", "cio_people"):
        pass
    reporter.note("careful")
    assert "cio_people: computing the diff" in out.getvalue() and "\x1b[" in out.getvalue()

    for reporter, out in (_terminal(use_colors=False),):
        reporter.note("careful")
        assert "note: careful" in out.getvalue() and "\x1b[3" not in out.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    reporter, out = _terminal()
    reporter.note("careful")
    assert "\x1b[3" not in out.getvalue()

    reporter, out = _terminal(quiet=True)
    with reporter.phase("loading the project"), reporter.progress():
        reporter.start_sync("cio_people", 3).finish()
        reporter.info("hello")
    reporter.error("it broke")
    assert out.getvalue().strip().endswith("it broke") and "hello" not in out.getvalue()
    assert "loading the project" not in out.getvalue()


@pytest.mark.parametrize(
    ("status", "dbt_status", "failures"),
    [("success", "success", None), ("warn", "warn", 2), ("rejected", "fail", 2), ("error", "error", None),
     ("aborted", "error", None), ("skipped", "skipped", None), ("dry-run", "success", None)],
)  # fmt: skip
def test_each_status_maps_to_a_dbt_status_word(status: str, dbt_status: str, failures: int | None) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    result = SyncResult(name="s", model="m", type="person", status=status, accepted=3, rejected=2, sent=5,  # type: ignore[arg-type]
                        unique_id="model.p.m", reasons=[RejectionReason("too long", 2, "k")],
                        timing=[Timing("compile", when, when)])  # fmt: skip
    entry = result_entry(result)
    assert (entry["status"], entry["failures"], DBT_STATUS[status]) == (dbt_status, failures, dbt_status)
    assert entry["unique_id"] == "model.p.m.s" and entry["adapter_response"]["code"] == status
    assert entry["timing"] == [
        {"name": "compile", "started_at": "2026-01-02T03:04:05Z", "completed_at": "2026-01-02T03:04:05Z"}
    ]
    assert entry["dbt_cio"]["rejection_reasons"] == [{"reason": "too long", "count": 2, "sample_key": "k"}]
    assert utc_z(datetime(2026, 1, 2, 3, 4, 5, 600)) == "2026-01-02T03:04:05.000600Z"
