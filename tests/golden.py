"""Golden SQL: every statement dbt-cio sends, as it would reach warehouses this machine cannot reach.

Snowflake, BigQuery, Redshift and Databricks cannot be reached from here, but their dbt adapters can be loaded:
dbt registers an adapter from a profile (``tests/golden/profiles.yml``) without connecting, and renders macros
(``dbt.hash``, ``type_string``, ``current_timestamp``, ``create_schema``...), relation names and quoting
through it. This module runs dbt-cio's real engine (:func:`dbt_cio.run_sync`) for those adapters and records
every statement it sends, written by dbt-cio and rendered by the adapter.

How a run is rendered without its warehouse
    1. The run happens for real on DuckDB (the integration project built by dbt-duckdb, a local emulator as
       Customer.io) through a :class:`TapeSession`, which keeps the outcome of every warehouse call: rows,
       tables listed, columns, or the error raised.
    2. The same run is repeated for each other adapter through a :class:`ReplaySession`: dbt-cio builds its
       statements as always, with that adapter's dialect, relation names and quoting; the session records
       them and answers each call with DuckDB's outcome at the same position. What dbt-cio does next depends
       only on those answers, so the replay takes DuckDB's path; a call of another kind or step than DuckDB's
       at the same position stops it with an error naming both. (So a code path that makes other calls on
       some adapter than on DuckDB, not just other SQL, cannot be replayed as it is: give that adapter's
       calls a DuckDB answer of their own, e.g. by rendering them in a step of their own.)

    Runs are made deterministic for this: run ids and lock tokens come from a counter (:class:`Counter`),
    acknowledged rows are committed once at the end of each sync, a lock heartbeats once per sync; host
    names, process ids and epoch times are masked in the files (:func:`golden_sessions.mask`). Each lane (DuckDB, and each
    adapter) has its own emulator, which receives the same requests and so answers the same.

    The adapter's own introspection (listing a schema's relations, reading a table's columns) is noted in
    the files, not rendered: it is the adapter's SQL, which dbt itself runs on every ``dbt run``. Creating
    the state schema is rendered through the adapter's ``create_schema`` macro (BigQuery creates a dataset
    through its API: noted as such). Transaction boundaries are comments.

Scenarios
    :data:`STEPS` are the runs, in order, over one DuckDB warehouse per state mode (:data:`WORLDS`): a dry run
    before anything was synced, a first sync of one model per sync type (single keys, composite keys, whole-row keys), edits (changed and
    removed rows, a rejection), a dry run, a full refresh, a crash between the statements of a fold then the
    run that repairs it (append-only state only), and ``dbt-cio runs``. Each step writes one file per
    adapter and state mode: ``tests/golden/<adapter>/<mode>/<nn>-<step>.sql``.

Extending
    A new statement dbt-cio sends appears by itself in the files of the steps that reach it. A new step is
    one :class:`Step` in :data:`STEPS` (what to change in the seeds, which options to run with); a new
    adapter is one target in ``tests/golden/profiles.yml`` and one entry in :data:`ADAPTERS`.

Regenerate after a reviewed change: ``scripts/golden --update`` (then read the diff of tests/golden/).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from conftest import DBT_CIO, INTEGRATION_PROJECT, REPO, DbtProject
from golden_sessions import Counter, ReplaySession, Sent, Tape, TapeSession, render_file, statements

from dbt_cio.warehouse.session import WarehouseSession

GOLDEN = REPO / "tests" / "golden"
PROFILES = GOLDEN / "profiles.yml"

#: adapter type -> sqlglot dialect that parses its SQL
ADAPTERS = {
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "redshift": "redshift",
    "databricks": "databricks",
}
#: state mode -> the adapters rendered in it: in place needs transactions (BigQuery and Databricks have none)
WORLDS = {
    "transactional": ("snowflake", "redshift"),
    "append_only": ("snowflake", "bigquery", "redshift", "databricks"),
}
#: one model per sync type: person, event, object, relationship (composite key), segment, device, collection
SYNCS = ("cio_people", "cio_orders", "cio_companies", "cio_company_members", "cio_pro_customers", "cio_devices",
         "cio_products")  # fmt: skip


# -- the scenario -----------------------------------------------------------------------------------------


def _edit_seed(project: DbtProject, seed: str, replace: dict[str, str] | None = None,
               drop: tuple[str, ...] = (), add: tuple[str, ...] = ()) -> None:  # fmt: skip
    lines = project.read_seed(seed).splitlines()
    rows = [r for r in lines[1:] if not r.startswith(drop)] if drop else lines[1:]
    for old, new in (replace or {}).items():
        rows = [r.replace(old, new) for r in rows]
    project.write_seed(seed, "\n".join([lines[0], *rows, *add]) + "\n")


def _edits(project: DbtProject) -> None:
    """Changed and removed rows for every type, and a device Customer.io cannot take (a rejection)."""
    _edit_seed(project, "customers", replace={"Grace,Hopper,free": "Grace,Hopper,pro"}, drop=("6,",))
    _edit_seed(project, "orders", add=("o-1099,3,,order_completed,10.00,2024-07-09 10:00:00",))
    _edit_seed(project, "companies", replace={"Acme Corp": "Acme Inc"})
    _edit_seed(project, "memberships", drop=("initech,6,",), replace={"acme,2,member": "acme,2,admin"})
    _edit_seed(project, "devices", drop=("tok-and-2,",), add=("tok-bb-5,5,blackberry,2024-07-13 11:00:00",))
    _edit_seed(project, "products", replace={"Gizmo,3.75": "Gizmo,4.25"})


def _more_edits(project: DbtProject) -> None:
    _edit_seed(project, "customers", replace={"Alan,Turing,pro": "Alan,Turing,team"})


@dataclass(frozen=True)
class Step:
    """One run of a scenario: seeds changed first (then ``dbt seed`` and ``dbt run`` on DuckDB), the models
    selected, the options; ``crash`` kills a real CLI run of the selection at that point of its fold first
    (see :mod:`dbt_cio.warehouse.ledger`), so the recorded run is the one that repairs it; ``command`` is
    ``sync`` or ``runs``; ``modes`` the state modes the step runs in."""

    name: str
    title: str
    select: tuple[str, ...] = SYNCS
    edit: Callable[[DbtProject], None] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    crash: str | None = None
    command: str = "sync"
    modes: tuple[str, ...] = ("transactional", "append_only")


STEPS = (
    Step(
        "dry-run-first",
        "A dry run before the first sync: no state yet, nothing written.",
        options={"dry_run": True},
    ),
    Step("first-sync", "A first sync of one model per sync type: every row added."),
    Step("edits", "After edits: changed and removed rows of every type, one rejected device.", edit=_edits),
    Step(
        "dry-run",
        "A dry run of cio_people after another edit: reads only.",
        select=("cio_people",),
        edit=_more_edits,
        options={"dry_run": True},
    ),
    Step(
        "full-refresh",
        "cio_devices with --full-refresh: its state forgotten, every row sent again.",
        select=("cio_devices",),
        options={"full_refresh": True},
    ),
    Step(
        "crash-repair",
        "The run after a kill between the statements of a fold (fold:dropped): it finishes the "
        "swap, folds the ledger again, then diffs.",
        select=("cio_people",),
        crash="fold:dropped",
        modes=("append_only",),
    ),
    Step("runs", "dbt-cio runs: the recent runs of every synced model (reads only).", command="runs"),
)


def golden_path(adapter: str, mode: str, index: int, step: Step) -> Path:
    return GOLDEN / adapter / mode / f"{index:02d}-{step.name}.sql"


@dataclass
class Lane:
    """One adapter's side of a world: its project copy and its own emulator."""

    adapter: str
    project: Path
    emulator: Any
    base_url: str


class World:
    """One state mode's scenario: a DuckDB warehouse run for real, and the adapters replaying each run."""

    def __init__(self, mode: str, root: Path, template: DbtProject, counter: Counter) -> None:
        from conftest import EMULATOR_CREDENTIALS

        from dbt_cio.emulator import Emulator, EmulatorThread

        self.mode = mode
        self.counter = counter
        self.stack = contextlib.ExitStack()
        base = root / mode
        duck_path = base / "duckdb"
        shutil.copytree(template.path, duck_path / "project")
        database = base / "warehouse.duckdb"
        shutil.copy(template.env["DBT_CIO_DUCKDB_PATH"], database)
        self.duckdb = DbtProject(path=duck_path / "project", target="duckdb",
                                 env={"DBT_CIO_DUCKDB_PATH": str(database)})  # fmt: skip
        self.lanes: dict[str, Lane] = {}
        for adapter in ("duckdb", *WORLDS[mode]):
            emulator = Emulator(**EMULATOR_CREDENTIALS)
            url = self.stack.enter_context(EmulatorThread(emulator))
            if adapter == "duckdb":
                project = self.duckdb.path
            else:
                project = base / adapter / "project"
                shutil.copytree(
                    INTEGRATION_PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*")
                )
            self.lanes[adapter] = Lane(adapter, project, emulator, url)

    def close(self) -> None:
        self.stack.close()

    def _environ(self, lane: Lane) -> dict[str, str]:
        from conftest import EMULATOR_CREDENTIALS

        return {
            **os.environ,
            "DBT_CIO_DUCKDB_PATH": self.duckdb.env["DBT_CIO_DUCKDB_PATH"],
            "DBT_CIO_STATE_MODE": self.mode,
            # These warehouses send through the Python mapper (their rendering macros are not checked byte for
            # byte: engine/render.py), so the DuckDB run they replay must too.
            "DBT_CIO_RENDER": "python",
            "CUSTOMERIO_SITE_ID": EMULATOR_CREDENTIALS["site_id"],
            "CUSTOMERIO_API_KEY": EMULATOR_CREDENTIALS["api_key"],
            "CUSTOMERIO_APP_API_KEY": EMULATOR_CREDENTIALS["app_api_key"],
            "CUSTOMERIO_REGION": "us",
            "CUSTOMERIO_TRACK_URL": lane.base_url,
            "CUSTOMERIO_APP_URL": lane.base_url,
        }

    def prepare(self, step: Step) -> None:
        """Change the seeds and rebuild on DuckDB; run the crash a step asks for."""
        if step.edit is not None:
            step.edit(self.duckdb)
            self.duckdb.dbt("seed", "--full-refresh")
            self.duckdb.dbt("run")
        if step.crash is not None:
            _edit_seed(self.duckdb, "customers", replace={"Ada,Lovelace,pro": "Ada,Lovelace,team"})
            self.duckdb.dbt("seed", "--full-refresh")
            self.duckdb.dbt("run")
            lane = self.lanes["duckdb"]
            proc = subprocess.run(
                [DBT_CIO, "sync", *(a for s in step.select for a in ("--select", s)), *self.duckdb.flags],
                cwd=self.duckdb.path, env={**self._environ(lane), "DBT_CIO_TEST_CRASH_AT": step.crash},
                capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            assert proc.returncode == -9, (
                f"the sync was to be killed at {step.crash}:\n{proc.stdout}\n{proc.stderr}"
            )
            # Every lane's Customer.io saw what the killed run sent, as DuckDB's did.
            for name, other in self.lanes.items():
                if name != "duckdb":
                    other.emulator.state = _copy_state(lane.emulator)

    def run(self, step: Step, lane: Lane, session_factory: Callable[..., WarehouseSession]) -> None:
        """Run ``step`` on ``lane`` in this process, its warehouse sessions made by ``session_factory``."""
        from dbt_cio.engine.history import recent_runs
        from dbt_cio.engine.options import SyncOptions
        from dbt_cio.engine.runner import run_sync
        from dbt_cio.project import DbtArgs

        if lane.adapter == "duckdb":
            args = DbtArgs(
                project_dir=lane.project, profiles_dir=lane.project, target="duckdb", select=step.select
            )
        else:
            args = DbtArgs(
                project_dir=lane.project, profiles_dir=GOLDEN, target=lane.adapter, select=step.select
            )
        environ = self._environ(lane)
        self.counter.reset()
        with _patched(session_factory, environ):
            if step.command == "runs":
                recent_runs(args)
            else:
                options = SyncOptions(dbt=args, environ=environ, ignore_dbt_results=True, **step.options)
                run_sync(options)


def _copy_state(emulator: Any) -> Any:
    import copy

    return copy.deepcopy(emulator.state)


@contextlib.contextmanager
def _patched(session_factory: Callable[..., WarehouseSession], environ: dict[str, str]) -> Iterator[None]:
    """Sessions made by ``session_factory``, the environment ``environ``, and the determinism of this module."""
    import dbt_cio.engine.run as run_module
    import dbt_cio.project as project_module
    import dbt_cio.warehouse.locks as locks_module

    saved_env = dict(os.environ)
    saved = (project_module.WarehouseSession, run_module.COMMIT_SECONDS, locks_module.HEARTBEAT_EVERY)
    os.environ.clear()
    os.environ.update(environ)
    project_module.WarehouseSession = session_factory  # type: ignore[assignment,misc]
    run_module.COMMIT_SECONDS = 24 * 3600.0  # one commit per sync, at its end
    locks_module.HEARTBEAT_EVERY = 24 * 3600.0  # one heartbeat per sync
    try:
        yield
    finally:
        project_module.WarehouseSession, run_module.COMMIT_SECONDS, locks_module.HEARTBEAT_EVERY = saved  # type: ignore[misc]
        os.environ.clear()
        os.environ.update(saved_env)


def _tape_session(adapter: Any, target: str, *, tape: Tape) -> TapeSession:
    return TapeSession(adapter, target=target, tape=tape)


def _replay_session(
    tape: Tape, sent: list[Sent], sessions: list[ReplaySession], adapter: Any, target: str
) -> ReplaySession:
    session = ReplaySession(adapter, target=target, tape=tape, sent=sent)
    sessions.append(session)
    return session


def render_all(root: Path, template: DbtProject) -> dict[Path, tuple[str, list[tuple[str, str]]]]:
    """Run every step of every world; for each golden file its text and its statements (with their steps)."""
    import dbt_cio.warehouse.locks as locks_module
    import dbt_cio.warehouse.records as records_module

    counter = Counter()
    saved = (locks_module.uuid, records_module.uuid)  # type: ignore[attr-defined]
    locks_module.uuid, records_module.uuid = counter, counter  # type: ignore[attr-defined]
    out: dict[Path, tuple[str, list[tuple[str, str]]]] = {}
    try:
        for mode, adapters in WORLDS.items():
            world = World(mode, root, template, counter)
            try:
                for index, step in enumerate(STEPS, start=1):
                    if mode not in step.modes:
                        continue
                    world.prepare(step)
                    tape = Tape()
                    world.run(step, world.lanes["duckdb"], partial(_tape_session, tape=tape))
                    for adapter in adapters:
                        sent: list[Sent] = []
                        sessions: list[ReplaySession] = []
                        world.run(step, world.lanes[adapter], partial(_replay_session, tape, sent, sessions))
                        for session in sessions:
                            session.finished()
                        title = f"{adapter}, state mode {mode}: {step.title}"
                        out[golden_path(adapter, mode, index, step)] = (
                            render_file(title, sent),
                            statements(sent),
                        )
            finally:
                world.close()
    finally:
        locks_module.uuid, records_module.uuid = saved  # type: ignore[attr-defined]
    return out
