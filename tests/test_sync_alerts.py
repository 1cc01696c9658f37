"""Alerts end to end: the real CLI, the emulator, and a local HTTP receiver standing in for Slack and
webhooks. One signed alert per failing sync, one on recovery, none for a clean run, never per row; an
alert that cannot be delivered changes nothing."""

from __future__ import annotations

from conftest import DbtProject, RunningEmulator, run_cli
from receiver import closed_port_url, receiver
from run_results import read_results, status

from dbt_cio.alerts.messages import signature

SECRET = "alert-signing-secret-5d1"
TOKEN = "T000-B000-hookpathsecret"  # a Slack webhook's path is its key
REJECTING_SQL = "select '1' as customer_id union all select '2' union all select repeat('x', 151)"
REJECTING_YML = """version: 2
models:
  - name: rejecting_people
    config:
      meta:
        customerio: {type: person, identifier: customer_id}
"""


def _alerts(env: dict[str, str], url: str) -> dict[str, str]:
    return {**env, "DBT_CIO_NOTIFY": url, "DBT_CIO_NOTIFY_SECRET": SECRET}


def test_a_failing_sync_alerts_once_signed_and_its_recovery_once(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    select = ("sync", "--select", "cio_people", "cio_orders")
    with receiver() as rx:
        env = _alerts(emulator.env, rx.url + "/hooks/dbt-cio")
        run_cli(built_project, *select, env=env)  # a clean first run: nothing to say
        assert rx.received == []

        wrong = {**env, "CUSTOMERIO_API_KEY": "wrong-key"}
        run_cli(built_project, *select, env=wrong, expect=1)  # the first sync fails, the next is not run
        [alert] = rx.received
        assert alert.path == "/hooks/dbt-cio"
        assert alert.headers["x-dbt-cio-signature"] == signature(alert.body, SECRET)
        body, results = alert.json, read_results(built_project)
        assert (body["event"], body["sync"], body["model"], body["status"]) == (
            "sync.failed", "cio_orders", "cio_orders", "error",
        )  # fmt: skip
        assert "refused the credentials" in body["message"] and "wrong-key" not in alert.body.decode()
        assert body["run_id"] == results["cio_orders"]["dbt_cio"]["run_id"]
        doc_invocation = (built_project.path / "target" / "dbt_cio_run_results.json").read_text()
        assert body["invocation_id"] in doc_invocation and body["target"] == built_project.target

        run_cli(built_project, *select, env=wrong, expect=1)  # still failing: alerted again, once
        assert [a.json["event"] for a in rx.received] == ["sync.failed", "sync.failed"]

        run_cli(built_project, *select, env=env)  # recovered: one alert for the sync that had failed
        assert [a.json["event"] for a in rx.received[2:]] == ["sync.recovered"]
        assert rx.received[2].json["sync"] == "cio_orders" and rx.received[2].json["status"] == "success"

        run_cli(built_project, *select, env=env)  # clean again: nothing
        assert len(rx.received) == 3


def test_rejections_alert_once_per_sync_never_per_row_and_slack_gets_its_message(
    dbt_project: DbtProject, emulator: RunningEmulator
) -> None:
    models = dbt_project.path / "models"
    (models / "rejecting_people.sql").write_text(REJECTING_SQL)
    (models / "rejecting.yml").write_text(REJECTING_YML)
    dbt_project.dbt("run", "--select", "rejecting_people")
    with receiver() as rx:
        slack = f"slack+{rx.url}/services/{TOKEN}"
        proc = run_cli(
            dbt_project, "sync", "--select", "rejecting_people", "--notify", slack,
            "--notify", rx.url + "/json", env=_alerts(emulator.env, rx.url + "/json"), expect=1,
        )  # fmt: skip
        by_path = {a.path: a for a in rx.received}
        assert sorted(by_path) == ["/json", f"/services/{TOKEN}"] and len(rx.received) == 2  # one each
        body = by_path["/json"].json
        assert (body["status"], body["counts"]["accepted"], body["counts"]["rejected"]) == ("rejected", 2, 1)
        assert body["top_rejection_reasons"] == [
            {"reason": "identifier is longer than 150 bytes", "count": 1}
        ]
        text = by_path[f"/services/{TOKEN}"].json["text"]
        assert "rejecting_people" in text and "had rejected rows" in text and "1 × identifier" in text
        assert "x-dbt-cio-signature" not in by_path[f"/services/{TOKEN}"].headers
        assert TOKEN not in proc.stdout + proc.stderr


def test_an_undeliverable_alert_is_reported_and_changes_no_exit_code(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    nowhere = closed_port_url().replace("/hooks/alerts", f"/services/{TOKEN}")
    wrong = {**emulator.env, "CUSTOMERIO_API_KEY": "wrong-key"}
    proc = run_cli(built_project, "sync", "-s", "cio_people", "--notify", nowhere, env=wrong, expect=1)
    assert "alert could not be delivered" in proc.stdout and "connection failed" in proc.stdout, proc.stdout
    assert TOKEN not in proc.stdout + proc.stderr
    proc = run_cli(
        built_project, "sync", "-s", "cio_people", "--notify", f"slack+{nowhere}", env=emulator.env
    )
    assert "recovery alert could not be delivered" in proc.stdout and TOKEN not in proc.stdout + proc.stderr
    assert status(read_results(built_project)["cio_people"]) == "success"


def test_a_bad_alert_url_is_a_usage_error_before_anything_runs(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    proc = run_cli(
        built_project, "sync", "--notify", f"http://alerts.example.com/{TOKEN}", env=emulator.env, expect=2
    )
    assert "--notify" in proc.stderr and "https" in proc.stderr and TOKEN not in proc.stderr
    assert emulator.track_requests() == 0


def test_held_back_and_aborted_syncs_alert_and_clean_ones_do_not(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    with receiver() as rx:
        env = _alerts(emulator.env, rx.url)
        broken = built_project.path / "models" / "cio_companies.sql"
        broken.write_text("select no_such_column from " + "{{ ref('companies') }}")
        built_project.dbt("run", "--select", "cio_companies", "cio_page_views", check=False)
        run_cli(built_project, "sync", "-s", "cio_companies", "cio_page_views", env=env, expect=1)
        [held] = [a.json for a in rx.received]  # cio_page_views synced cleanly: nothing about it
        assert (held["sync"], held["status"], held["event"]) == ("cio_companies", "skipped", "sync.failed")
        assert "held back" in held["message"] and "has status error" in held["message"]

        built_project.dbt("run", "--select", "cio_bulk_people", "--vars", '{"bulk_people": 50}')
        run_cli(built_project, "sync", "-s", "cio_bulk_people", env=env)
        built_project.dbt("run", "--select", "cio_bulk_people", "--vars", '{"bulk_people": 0}')
        run_cli(built_project, "sync", "-s", "cio_bulk_people", env=env, expect=1)
        assert [(a.json["sync"], a.json["status"]) for a in rx.received[1:]] == [
            ("cio_bulk_people", "aborted")
        ]
        assert "max_removed" in rx.received[1].json["message"]
