"""Shared fixtures: a private copy of the ``integration_tests`` dbt project per test, on DuckDB or Postgres
(or Spark).

Each test gets its own copy (so seeds can be edited), its own DuckDB file or Postgres schema (so runs never
share state), and helpers to run dbt on it. Postgres tests are marked ``postgres``; set
``DBT_CIO_SKIP_POSTGRES=1`` to skip them on a machine without the server. Spark tests (``spark_project``,
marked ``spark``) get their own Spark metastore and table directory; scripts/test runs them apart, one at a
time, as each dbt or dbt-cio process starts a JVM.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dbt_cio.project import Project
from dbt_cio.warehouse.schema import StateSchema

REPO = Path(__file__).resolve().parent.parent
INTEGRATION_PROJECT = REPO / "integration_tests"
SHARED = REPO.parent / "shared"
DBT = str(Path(sys.executable).parent / "dbt")
_IGNORE = shutil.ignore_patterns("target", "logs", "*.duckdb*", "dbt_packages")


def _target_params() -> list:
    return [
        pytest.param("duckdb", id="duckdb"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]


@dataclass
class DbtProject:
    """A private copy of the integration project, bound to one target."""

    path: Path
    target: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def flags(self) -> list[str]:
        """The dbt-style flags that point a dbt or dbt-cio command at this project."""
        return ["--project-dir", str(self.path), "--profiles-dir", str(self.path), "--target", self.target]

    def dbt(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a dbt command on this project in a subprocess (as a user would)."""
        proc = subprocess.run(
            [DBT, *args, *self.flags],
            check=False,  # the exit code is checked below, with the output
            cwd=self.path,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def build(self) -> None:
        """Load the seeds and build every model (``dbt seed --full-refresh`` then ``dbt run``)."""
        self.dbt("seed", "--full-refresh")
        self.dbt("run")

    def write_seed(self, name: str, text: str) -> None:
        (self.path / "seeds" / f"{name}.csv").write_text(text)

    def read_seed(self, name: str) -> str:
        return (self.path / "seeds" / f"{name}.csv").read_text()

    @property
    def schema(self) -> str:
        """The schema dbt builds the models in, for this target."""
        if self.target == "spark":
            return self.env["DBT_CIO_SPARK_SCHEMA"]
        return self.env["DBT_CIO_PG_SCHEMA"] if self.target == "postgres" else "main"


def open_state(project: Project, **kwargs: Any) -> StateSchema:
    """The state schema of a loaded project (tables, per-sync state, records, locks), used from this thread;
    in the project's state mode unless ``mode=`` says otherwise."""
    kwargs.setdefault("mode", project.state_mode)
    return StateSchema.open(project.session, project.state_schema, project.database, **kwargs)


def _drop_pg_schemas(prefix: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("select nspname from pg_namespace where nspname like %s", (prefix + "%",))
        for (name,) in cur.fetchall():
            cur.execute(f'drop schema if exists "{name}" cascade')
    conn.close()


@pytest.fixture(params=_target_params())
def target(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and os.environ.get("DBT_CIO_SKIP_POSTGRES"):
        pytest.skip("DBT_CIO_SKIP_POSTGRES is set")
    return request.param


SPARK_SCHEMA = "it"


def spark_env(root: Path) -> dict[str, str]:
    """The environment of a Spark project kept under ``root``: its Hive metastore (Derby, one process at a
    time) and its tables in ``root/spark``, the driver on loopback (see integration_tests/profiles.yml)."""
    return {"DBT_CIO_SPARK_DIR": str(root / "spark"), "DBT_CIO_SPARK_SCHEMA": SPARK_SCHEMA,
            "SPARK_LOCAL_IP": "127.0.0.1"}  # fmt: skip


def make_project(tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[DbtProject]:
    path = tmp_path / "project"
    shutil.copytree(INTEGRATION_PROJECT, path, ignore=_IGNORE)
    env = {"DBT_CIO_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    schema = None
    if target == "postgres":
        schema = f"it_{uuid.uuid4().hex[:10]}"
        env["DBT_CIO_PG_SCHEMA"] = schema
    if target == "spark":
        env.update(spark_env(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    project = DbtProject(path=path, target=target, env=env)
    try:
        yield project
    finally:
        if schema:
            _drop_pg_schemas(schema)


@pytest.fixture
def dbt_project(tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[DbtProject]:
    """An unbuilt copy of the integration project on ``target`` (duckdb and postgres)."""
    yield from make_project(tmp_path, target, monkeypatch)


@pytest.fixture
def spark_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DbtProject]:
    """An unbuilt copy of the integration project on Spark (dbt-spark's session method), with a metastore
    of its own. Set ``DBT_CIO_SKIP_SPARK=1`` to skip on a machine without Java."""
    if os.environ.get("DBT_CIO_SKIP_SPARK"):
        pytest.skip("DBT_CIO_SKIP_SPARK is set")
    yield from make_project(tmp_path, "spark", monkeypatch)


class _Templates:
    """The integration project built once per target (per pytest worker); tests get copies of it.

    Building (``dbt seed`` + ``dbt run``) costs ~15 s; copying a built DuckDB file, or cloning a built Postgres
    schema's tables, costs well under a second. Each test still gets its own file or schema.
    """

    def __init__(self, root: Path):
        self.root = root
        self.built: dict[str, DbtProject] = {}

    def get(self, target: str) -> DbtProject:
        if target not in self.built:
            base = self.root / target
            base.mkdir(parents=True)
            path = base / "project"
            shutil.copytree(INTEGRATION_PROJECT, path, ignore=_IGNORE)
            env = {"DBT_CIO_DUCKDB_PATH": str(base / "warehouse.duckdb")}
            if target == "postgres":
                env["DBT_CIO_PG_SCHEMA"] = f"tmpl_{uuid.uuid4().hex[:10]}"
            project = DbtProject(path=path, target=target, env=env)
            project.build()
            self.built[target] = project
        return self.built[target]

    def close(self) -> None:
        for project in self.built.values():
            if project.target == "postgres":
                _drop_pg_schemas(project.env["DBT_CIO_PG_SCHEMA"])


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    built = _Templates(tmp_path_factory.mktemp("templates"))
    yield built
    built.close()


def _clone_pg_schema(source: str, dest: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'create schema if not exists "{dest}"')
        cur.execute("select tablename from pg_tables where schemaname = %s", (source,))
        for (table,) in cur.fetchall():
            cur.execute(f'create table "{dest}"."{table}" as table "{source}"."{table}"')
    conn.close()


@pytest.fixture
def built_project(dbt_project: DbtProject, templates: _Templates) -> DbtProject:
    """A copy of the integration project with seeds loaded and models built (copied from a built template)."""
    template = templates.get(dbt_project.target)
    shutil.copytree(template.path / "target", dbt_project.path / "target")
    (dbt_project.path / "target" / "partial_parse.msgpack").unlink(missing_ok=True)
    if dbt_project.target == "duckdb":
        shutil.copy(template.env["DBT_CIO_DUCKDB_PATH"], dbt_project.env["DBT_CIO_DUCKDB_PATH"])
    else:
        source, dest = template.env["DBT_CIO_PG_SCHEMA"], dbt_project.env["DBT_CIO_PG_SCHEMA"]
        _clone_pg_schema(source, dest)
        manifest = dbt_project.path / "target" / "manifest.json"
        manifest.write_text(manifest.read_text().replace(source, dest))  # a random, unique name
    return dbt_project


@pytest.fixture
def openapi_path() -> Path:
    """Customer.io's Track API OpenAPI document (copied into the test data)."""
    return REPO / "tests" / "data" / "track-api.openapi.json"


# -- end-to-end: the real CLI against a real emulator ------------------------------------------------------

EMULATOR_CREDENTIALS = {"site_id": "e2e-site", "api_key": "e2e-key", "app_api_key": "e2e-app-key"}
DBT_CIO = str(Path(sys.executable).parent / "dbt-cio")


@dataclass
class RunningEmulator:
    """An emulator serving on a background thread, and the environment that points dbt-cio at it."""

    emulator: object
    base_url: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "CUSTOMERIO_SITE_ID": EMULATOR_CREDENTIALS["site_id"],
            "CUSTOMERIO_API_KEY": EMULATOR_CREDENTIALS["api_key"],
            "CUSTOMERIO_APP_API_KEY": EMULATOR_CREDENTIALS["app_api_key"],
            "CUSTOMERIO_REGION": "us",
            "CUSTOMERIO_TRACK_URL": self.base_url,
            "CUSTOMERIO_APP_URL": self.base_url,
        }

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.emulator.state  # type: ignore[attr-defined]

    def track_requests(self) -> int:
        return sum(self.emulator.requests_per_second("track").values())  # type: ignore[attr-defined]


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    from dbt_cio.emulator import Emulator, EmulatorThread

    emu = Emulator(**EMULATOR_CREDENTIALS)
    with EmulatorThread(emu) as base_url:
        yield RunningEmulator(emu, base_url)


def run_cli(
    project: DbtProject, *args: str, env: dict[str, str] | None = None, expect: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """Run the real ``dbt-cio`` command on ``project`` in a subprocess; check its exit code."""
    proc = subprocess.run(
        [DBT_CIO, *args, *project.flags],
        check=False,  # the exit code is checked below, with the output
        cwd=project.path,
        env={**os.environ, **project.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if expect is not None and proc.returncode != expect:
        raise AssertionError(
            f"dbt-cio {' '.join(args)} exited {proc.returncode}, expected {expect}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def dbt_cloud() -> Iterator[Any]:
    """A local fake of dbt Cloud's Administrative API (tests/dbt_cloud_fake.py) on a free port."""
    from dbt_cloud_fake import serve_fake

    with serve_fake() as fake:
        yield fake
