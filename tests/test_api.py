"""The public Python API, as an orchestrator task uses it: ``run_sync`` returns a ``RunResult``."""

from __future__ import annotations

import logging

import pytest
from conftest import DbtProject, RunningEmulator

from dbt_cio import DbtArgs, RateSettings, RunResult, SyncOptions, run_sync, validate_project
from dbt_cio.errors import UsageError


def _args(project: DbtProject, *select: str) -> DbtArgs:
    return DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target, select=select)


def test_run_sync_returns_what_happened(
    built_project: DbtProject, emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    options = SyncOptions(dbt=_args(built_project, "cio_people", "cio_orders"), environ=emulator.env)
    with caplog.at_level(logging.INFO, logger="dbt_cio"):
        result = run_sync(options)
    assert isinstance(result, RunResult)
    assert [s.name for s in result] == ["cio_orders", "cio_people"]
    people = result["cio_people"]
    assert (people.status, people.added, people.accepted, people.rejected) == ("success", 6, 6, 0)
    assert result.success and result.exit_code == 0
    assert set(result.run_ids) == {"cio_orders", "cio_people"}
    assert result.artifact == built_project.path / "target" / "dbt_cio_run_results.json"
    assert "cio_people: done, 6/6 rows acknowledged" in caplog.text  # progress went to logging, not stdout
    assert len(emulator.state.people) == 6

    again = run_sync(options)
    assert again["cio_people"].added == 0 and again.exit_code == 0


def test_a_failed_sync_is_in_the_result_and_usage_errors_raise(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    env = {**emulator.env, "CUSTOMERIO_API_KEY": "wrong"}
    result = run_sync(SyncOptions(dbt=_args(built_project, "cio_people"), environ=env))
    assert result.exit_code == 1 and not result.success
    assert result["cio_people"].status == "error" and "refused the credentials" in str(
        result["cio_people"].message
    )
    assert "wrong" not in str(result["cio_people"].message)

    with pytest.raises(UsageError):
        run_sync(SyncOptions(dbt=_args(built_project, "nosuchmethod:x"), environ=emulator.env))


def test_validate_project_returns_the_syncs(built_project: DbtProject) -> None:
    syncs = validate_project(_args(built_project))
    assert "cio_people" in {s.name for s in syncs}


def test_options_are_frozen_and_checked() -> None:
    options = SyncOptions(rate=RateSettings.from_flags(rate=1000))
    assert options.rate.burst == 1000  # a rate above the default burst lifts the burst with it
    with pytest.raises(AttributeError):
        options.dry_run = True  # type: ignore[misc]
    assert "environ" not in repr(options)  # it holds the Customer.io keys
