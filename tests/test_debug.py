"""``dbt-cio debug`` end to end: the real CLI, the real project and the emulator. It checks everything a
first sync needs, reports wrong keys as failed checks (exit 1), and sends nothing."""

from __future__ import annotations

import json
import re

from conftest import DbtProject, RunningEmulator, run_cli

SELECT = ("--select", "cio_people", "cio_pro_customers")  # a person sync and a segment (App API) sync


def _checks(stdout: str) -> dict[str, dict[str, str]]:
    return {c["check"]: c for c in (json.loads(line) for line in stdout.splitlines())}


def _sent_nothing(emulator: RunningEmulator, *, track: int, app: int) -> None:
    """Only the reads a check makes arrived, and the workspace is as empty as before."""
    state = emulator.state
    assert not (state.people or state.events or state.segments or state.collections or state.objects)
    assert sum(emulator.emulator.requests_per_second("track").values()) == track  # type: ignore[attr-defined]
    assert sum(emulator.emulator.requests_per_second("app").values()) == app  # type: ignore[attr-defined]


def test_a_good_setup_passes_every_check_and_sends_nothing(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    proc = run_cli(built_project, "debug", *SELECT, "--output", "json", env=emulator.env)
    checks = _checks(proc.stdout)
    assert all(c["status"] == "ok" for c in checks.values()), checks
    for name in ("project and profile", "manifest", "warehouse connection", "state schema", "dbt results",
                 "sync cio_people", "sync pro_customers"):  # fmt: skip
        assert name in checks, checks
    assert "region us" in checks["workspace default: Track API"]["detail"]
    assert "key accepted" in checks["workspace default: App API"]["detail"]
    assert "does not exist yet" in checks["state schema"]["detail"]  # and debug did not create it
    _sent_nothing(emulator, track=1, app=1)  # the region check and one App API read

    table = run_cli(built_project, "debug", *SELECT, env=emulator.env)  # the table for people
    assert "All" in table.stdout and "checks passed" in table.stdout and "Track API" in table.stdout


def test_a_wrong_api_key_and_a_wrong_app_api_key_are_failed_checks(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    wrong_track = {**emulator.env, "CUSTOMERIO_API_KEY": "wrong-track-key-1"}
    proc = run_cli(built_project, "debug", *SELECT, "--output", "json", env=wrong_track, expect=1)
    checks = _checks(proc.stdout)
    track, app = checks["workspace default: Track API"], checks["workspace default: App API"]
    assert track["status"] == "failed" and "refused the credentials (401)" in track["detail"]
    assert app["status"] == "skipped" and checks["sync cio_people"]["status"] == "ok"
    assert "wrong-track-key-1" not in proc.stdout + proc.stderr
    _sent_nothing(emulator, track=1, app=0)

    wrong_app = {**emulator.env, "CUSTOMERIO_APP_API_KEY": "wrong-app-key-2"}
    proc = run_cli(built_project, "debug", *SELECT, env=wrong_app, expect=1)
    assert "1 check(s) failed: workspace default: App API" in proc.stdout, proc.stdout
    assert "wrong-app-key-2" not in proc.stdout + proc.stderr
    _sent_nothing(emulator, track=2, app=1)

    missing = {k: v for k, v in emulator.env.items() if k != "CUSTOMERIO_APP_API_KEY"}
    proc = run_cli(built_project, "debug", *SELECT, "-o", "json", env=missing, expect=1)
    app = _checks(proc.stdout)["workspace default: App API"]
    assert app["status"] == "failed" and "CUSTOMERIO_APP_API_KEY" in app["detail"]
    proc = run_cli(built_project, "debug", "-s", "cio_people", "-o", "json", env=missing)  # not needed there
    assert _checks(proc.stdout)["workspace default: App API"]["status"] == "ok"


def test_broken_setups_are_failed_checks_and_bad_usage_exits_2(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    (built_project.path / "models" / "broken_people.sql").write_text("select '1' as customer_id")
    (built_project.path / "models" / "broken.yml").write_text(
        "version: 2\nmodels:\n  - name: broken_people\n"
        "    config: {meta: {customerio: {type: person, identifier: nope}}}\n"
    )
    built_project.dbt("run", "--select", "broken_people")
    (built_project.path / "models" / "broken_people.sql").touch()  # newer than the manifest: stale
    proc = run_cli(built_project, "debug", "-s", "broken_people", "-o", "json", env=emulator.env, expect=1)
    checks = _checks(proc.stdout)
    assert checks["manifest"]["status"] == "ok" and "re-parsed" in checks["manifest"]["detail"], checks
    assert "broken_people.sql changed" in checks["manifest"]["detail"]
    block = checks["block of broken_people"]
    assert block["status"] == "failed" and "nope" in block["detail"], checks

    env = {**emulator.env, "CUSTOMERIO_SITE_ID": ""}
    proc = run_cli(built_project, "debug", "-s", "cio_orders", "-o", "json", env=env, expect=1)
    track = _checks(proc.stdout)["workspace default: Track API"]
    assert track["status"] == "failed" and "CUSTOMERIO_SITE_ID" in track["detail"]

    run_cli(built_project, "debug", "--select", "nosuchmethod:x", env=emulator.env, expect=2)
    run_cli(built_project, "debug", "--output", "xml", env=emulator.env, expect=2)
    assert emulator.track_requests() == 1  # the first run's region check; the others asked nothing

    profiles = built_project.path / "profiles.yml"
    broken = re.sub(r"env_var\('DBT_CIO_(DUCKDB_PATH|PG_SCHEMA)', '[^']*'\)", "env_var('NO_SUCH_VAR_X')",
                    profiles.read_text())  # fmt: skip
    assert broken.count("NO_SUCH_VAR_X") == 2
    profiles.write_text(broken)
    proc = run_cli(built_project, "debug", "-o", "json", env=emulator.env, expect=1)
    [check] = _checks(proc.stdout).values()
    assert check["check"] == "project and profile" and check["status"] == "failed", check
    assert "NO_SUCH_VAR_X" in check["detail"]
