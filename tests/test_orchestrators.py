"""docs/orchestrators.md's recipes, read from the page and run against the integration project, the emulator
and the local fake of dbt Cloud.

Always: each Python recipe with stand-ins for the orchestrator's decorators and classes (they call the
function as it is), so its dbt-cio calls run for real; the GitHub Actions workflow's command line, run as
GitHub would run it. With ``DBT_CIO_ORCHESTRATORS`` pointing at virtual environments of Airflow, Dagster and
Prefect (``scripts/test-orchestrators`` makes them), each recipe also runs in its real orchestrator.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, DbtProject, RunningEmulator
from dbt_cloud_fake import FakeDbtCloud

PAGE = REPO / "docs" / "orchestrators.md"
ORCHESTRATORS = os.environ.get(
    "DBT_CIO_ORCHESTRATORS"
)  # a directory holding airflow/, dagster/, prefect/ venvs


def recipes() -> dict[str, str]:
    """Every ``<!-- recipe: NAME -->`` block of the page, by name."""
    found = re.findall(r"<!-- recipe: (\S+) -->\n```\w+\n(.*?)```", PAGE.read_text(), re.DOTALL)
    return dict(found)


def test_the_page_has_a_recipe_per_orchestrator() -> None:
    assert set(recipes()) == {"airflow", "dagster", "prefect", "github-actions"}


duckdb_only = pytest.mark.parametrize("target", ["duckdb"], indirect=True)


@pytest.fixture
def deployed(
    built_project: DbtProject,
    emulator: RunningEmulator,
    dbt_cloud: FakeDbtCloud,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The environment a deployment gives the recipes: the project, its profile, Customer.io and dbt Cloud
    (whose run 101 of job 123 holds the project's artifacts)."""
    dbt_cloud.add_run(101, 123, 10, target=built_project.path / "target")
    env = {"DBT_PROJECT_DIR": str(built_project.path), "DBT_PROFILES_DIR": str(built_project.path),
           "DBT_TARGET": built_project.target, **built_project.env, **emulator.env, **dbt_cloud.env}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


# -- stand-ins: the recipe's own Python, without the orchestrator ----------------------------------------------


def _decorator(*args: Any, **kwargs: Any) -> Any:
    """``@task``, ``@task(retries=2)``, ``@asset(deps=[...])``: the function as it is."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda func: func


class _Record:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs
        self.output = "the run id, from XCom"


def _run_recipe(
    name: str, monkeypatch: pytest.MonkeyPatch, modules: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    for module, attrs in modules.items():
        stand_in = types.ModuleType(module)
        stand_in.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, module, stand_in)
    namespace: dict[str, Any] = {"__name__": f"recipe_{name}"}
    exec(compile(recipes()[name], f"{PAGE}[{name}]", "exec"), namespace)  # noqa: S102 - the recipe is the test
    return namespace


def _dag(**kwargs: Any) -> Callable[[Callable[[], None]], Callable[[], None]]:
    return lambda func: lambda: None  # Airflow builds the graph; nothing of it runs here


@duckdb_only
def test_the_airflow_recipe_syncs_a_dbt_cloud_run(
    deployed: dict[str, str], emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = _run_recipe("airflow", monkeypatch, {
        "pendulum": {"datetime": lambda *a, **k: None},
        "airflow.sdk": {"dag": _dag, "task": _decorator},
        "airflow.providers.dbt.cloud.operators.dbt": {"DbtCloudRunJobOperator": _Record},
    })  # fmt: skip
    summary = recipe["sync_customerio"](101)
    assert summary["cio_people"] == {"status": "success", "accepted": 6, "rejected": 0}
    assert len(emulator.state.people) == 6


@duckdb_only
def test_the_dagster_recipe_syncs_after_the_dbt_assets(
    deployed: dict[str, str], emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = _run_recipe("dagster", monkeypatch, {
        "dagster": {"AssetExecutionContext": object, "Definitions": _Record, "MaterializeResult": _Record,
                    "asset": _decorator},
        "dagster_dbt": {"DbtCliResource": _Record, "dbt_assets": _decorator},
    })  # fmt: skip
    logged: list[str] = []
    context = types.SimpleNamespace(log=types.SimpleNamespace(info=logged.append))
    materialized = recipe["customerio_sync"](context)
    assert materialized.kwargs["metadata"]["accepted"] == 36  # every row of the 9 syncs
    assert (
        materialized.kwargs["metadata"]["syncs"] == 9
        and "cio_people: success, 6 accepted, 0 rejected" in logged
    )
    assert len(emulator.state.people) == 6


@duckdb_only
def test_the_prefect_recipe_builds_then_syncs(
    deployed: dict[str, str], emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = _run_recipe("prefect", monkeypatch, {"prefect": {"flow": _decorator, "task": _decorator}})
    accepted = recipe["dbt_then_customerio"]()  # `dbt build`, then the sync
    assert accepted["cio_people"] == 6 and len(emulator.state.people) == 6
    assert recipe["sync_customerio"](101) == {
        name: 0 for name in accepted
    }  # from the dbt Cloud run: no change


@duckdb_only
def test_the_github_actions_workflow_runs_its_command(
    deployed: dict[str, str], built_project: DbtProject, emulator: RunningEmulator, dbt_cloud: FakeDbtCloud
) -> None:
    workflow = yaml.safe_load(recipes()["github-actions"])
    assert set(workflow[True]) == {
        "repository_dispatch",
        "workflow_dispatch",
        "schedule",
    }  # YAML reads `on` as True
    job = workflow["jobs"]["sync"]
    assert job["env"]["RUN_ID"] == "${{ github.event.client_payload.run_id || inputs.run_id }}"
    [step] = [s for s in job["steps"] if s.get("name") == "dbt-cio sync"]
    bin_dir = str(Path(sys.executable).parent)  # where `pip install dbt-cio` put dbt-cio
    for run_id in ("101", ""):  # a dispatched run; the schedule (job 123's latest successful run)
        proc = subprocess.run(["bash", "-e", "-c", step["run"]], check=False, cwd=built_project.path, capture_output=True,
                              text=True, env={**os.environ, **deployed, "RUN_ID": run_id,
                                              "PATH": f"{bin_dir}:{os.environ['PATH']}"})  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert all(json.loads(line) for line in proc.stdout.splitlines())  # --log-format json
        assert "dbt Cloud run 101 (job 123, success" in proc.stdout
    assert len(emulator.state.people) == 6


# -- the real orchestrators ----------------------------------------------------------------------------------

real = pytest.mark.skipif(
    not ORCHESTRATORS, reason="DBT_CIO_ORCHESTRATORS is not set: run scripts/test-orchestrators"
)


def _in(orchestrator: str, args: list[str], env: dict[str, str], cwd: Path, timeout: int = 600) -> str:
    """Run ``args`` with the orchestrator's virtual environment first on PATH; return the output."""
    venv = Path(str(ORCHESTRATORS)) / orchestrator
    assert (venv / "bin" / "python").exists(), f"no {venv}: run scripts/test-orchestrators"
    full = {**os.environ, **env, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    proc = subprocess.run(
        args, check=False, cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"{args} exited {proc.returncode}:\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}"
    )
    return proc.stdout + proc.stderr


DAGSTER_DRIVER = """
import recipe_dagster as recipe
from dagster import materialize

result = materialize([recipe.analytics_dbt_assets, recipe.customerio_sync], resources=recipe.defs.resources)
assert result.success
[event] = result.asset_materializations_for_node("customerio_sync")
print("METADATA", {k: v.value for k, v in event.metadata.items()})
"""

AIRFLOW_SYNC_DAG = """
import os

import pendulum
from airflow.sdk import dag
from recipe_airflow import sync_customerio  # the recipe's module: its own DAG is loaded too


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)
def sync_after_dbt_cloud_run():
    sync_customerio(int(os.environ["DBT_CLOUD_RUN_ID"]))  # in the recipe, the dbt Cloud operator's output


sync_after_dbt_cloud_run()
"""


@real
@duckdb_only
def test_dagster_materializes_the_dbt_assets_then_the_sync(
    deployed: dict[str, str], emulator: RunningEmulator, tmp_path: Path
) -> None:
    (tmp_path / "recipe_dagster.py").write_text(recipes()["dagster"])
    (tmp_path / "driver.py").write_text(DAGSTER_DRIVER)
    (tmp_path / "home").mkdir()
    out = _in("dagster", ["python", "driver.py"], {**deployed, "DAGSTER_HOME": str(tmp_path / "home"),
                                                  "PYTHONPATH": str(tmp_path)}, tmp_path)  # fmt: skip
    assert "Done. PASS=" in out and "'syncs': 9" in out  # dbt build ran through dagster-dbt, then the asset
    assert len(emulator.state.people) == 6


@real
@duckdb_only
def test_prefect_runs_the_flow(deployed: dict[str, str], emulator: RunningEmulator, tmp_path: Path) -> None:
    (tmp_path / "recipe_prefect.py").write_text(recipes()["prefect"])
    env = {
        **deployed,
        "PREFECT_HOME": str(tmp_path / "home"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }  # a busy machine starts it slowly
    out = _in("prefect", ["python", "recipe_prefect.py"], env,
              tmp_path)  # fmt: skip
    assert (
        "Task run 'dbt_build" in out
        and "Task run 'sync_customerio" in out
        and "Finished in state Completed" in out
    )
    assert len(emulator.state.people) == 6


@real
@duckdb_only
def test_airflow_loads_the_dag_and_runs_the_sync_task(
    deployed: dict[str, str], emulator: RunningEmulator, tmp_path: Path
) -> None:
    home, lib = tmp_path / "airflow", tmp_path / "lib"
    (home / "dags").mkdir(parents=True)
    lib.mkdir()
    (lib / "recipe_airflow.py").write_text(recipes()["airflow"])
    (home / "dags" / "sync_after_dbt_cloud_run.py").write_text(AIRFLOW_SYNC_DAG)
    env = {**deployed, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PYTHONPATH": str(lib),
           "DBT_CLOUD_RUN_ID": "101"}  # fmt: skip
    _in("airflow", ["airflow", "db", "migrate"], env, tmp_path)
    _in(
        "airflow", ["airflow", "dags", "reserialize"], env, tmp_path
    )  # parse the dags folder into the database
    listed = _in("airflow", ["airflow", "dags", "list", "--output", "json"], env, tmp_path)
    assert "dbt_cloud_then_customerio" in listed and "sync_after_dbt_cloud_run" in listed
    errors = _in("airflow", ["airflow", "dags", "list-import-errors", "--output", "json"], env, tmp_path)
    assert "recipe_airflow" not in errors
    out = _in("airflow", ["airflow", "dags", "test", "sync_after_dbt_cloud_run"], env, tmp_path)
    assert "state=success" in out and "Project state from dbt Cloud run 101" in out
    assert len(emulator.state.people) == 6
