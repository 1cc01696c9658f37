"""``dbt-cio debug`` as a library call: is everything in place for a first sync? Sends nothing.

:func:`check_setup` checks, in order, and returns one :class:`Check` per item:

1. the dbt project and profile load (dbt's own flags, profile and ``env_var()``); with a dbt Cloud run, first
   that run's artifacts download (the token, account and run are good, and the run has finished);
2. the manifest: current, or why it was re-parsed (see :mod:`dbt_cio.project`), or the dbt Cloud run's;
3. the warehouse connection (``select 1`` through the adapter), and whether the state schema exists yet;
4. every selected ``meta.customerio`` block, against the built table's columns;
5. dbt's last results (which invocation would gate a sync);
6. per workspace the selected syncs use: the Track credentials and region (``GET /api/v1/accounts/region``,
   which proves them) and the App API key (``GET /v1/segments``, a read); a key no sync needs is checked
   only when it is set;
7. alert URLs in ``DBT_CIO_NOTIFY``, when set (checked as URLs; nothing is posted).

Nothing is written to the warehouse and nothing but those two reads reaches Customer.io. A check that
fails does not stop the others unless they depend on it. A selection dbt cannot apply raises
:class:`~dbt_cio.errors.UsageError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from dbt_cio.alerts.targets import NOTIFY_VARIABLE, AlertSettings
from dbt_cio.contract.blocks import raw_value, split_blocks
from dbt_cio.contract.resolve import resolve_syncs
from dbt_cio.customerio.client import CustomerIOClient, RetrySettings
from dbt_cio.customerio.credentials import DEFAULT_WORKSPACE, Credentials, env_prefix
from dbt_cio.dbt_cloud.settings import DbtCloudRun
from dbt_cio.engine.cloud_run import open_project
from dbt_cio.engine.observer import LogObserver, Observer
from dbt_cio.errors import ConfigError, DbtCioError, DbtCloudError, UsageError
from dbt_cio.project import DbtArgs, Project
from dbt_cio.warehouse.schema import StateSchema

__all__ = ["Check", "CheckStatus", "check_setup"]

CheckStatus = Literal["ok", "failed", "skipped"]
APP_API_TYPES = frozenset({"segment", "collection"})
CHECK_TIMEOUT = 10.0  # seconds per Customer.io request: a check should answer fast or fail
CHECK_RETRY = RetrySettings(max_attempts=2, base_delay=0.5, max_delay=1.0)


@dataclass(frozen=True)
class Check:
    """One item ``debug`` checked: its name, ``ok``/``failed``/``skipped``, and what was found."""

    name: str
    status: CheckStatus
    detail: str

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def as_json(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "detail": self.detail}


def check_setup(
    dbt: DbtArgs | None = None,
    environ: Mapping[str, str] | None = None,
    observer: Observer | None = None,
    dbt_cloud: DbtCloudRun | None = None,
) -> list[Check]:
    """Check the setup (see the module docstring); ``environ`` is where credentials are read (default: the
    process environment); ``dbt_cloud`` the run whose artifacts a sync would read."""
    import os

    env = os.environ if environ is None else environ
    observer = observer or LogObserver()
    checks: list[Check] = []
    try:
        project = open_project(dbt or DbtArgs(), dbt_cloud, env, observer)
    except DbtCloudError as exc:
        checks.append(Check("dbt Cloud run", "failed", str(exc)))
        return checks
    except UsageError as exc:
        checks.append(Check("project and profile", "failed", str(exc)))
        return checks
    if project.given is not None:
        found = (
            "manifest.json and run_results.json"
            if project.given.results
            else "manifest.json (no run_results.json)"
        )
        checks.append(Check("dbt Cloud run", "ok", f"{project.given.origin}: {found} downloaded"))
    with project:
        checks.append(Check("project and profile", "ok", f"project {project.project_name}, target "
                            f"'{project.target_name}' ({project.adapter_type})"))  # fmt: skip
        checks.append(_manifest(project))
        with observer.phase("connecting to the warehouse"):
            connected = _warehouse(project, checks)
        nodes, notes = project.selected_nodes()  # a selection dbt cannot apply is a usage error
        for note in notes:
            observer.note(note)
        if connected:
            with observer.phase("reading the models' columns"):
                checks += _blocks(project, nodes)
        else:
            checks.append(Check("blocks", "skipped", "needs the warehouse connection"))
        results = project.run_results()
        gate = results.describe() if results is not None else "none (target/run_results.json): nothing gates"
        checks.append(Check("dbt results", "ok", gate))
    with observer.phase("asking Customer.io"):
        checks += asyncio.run(_workspaces(_workspace_needs(nodes), env))
    if env.get(NOTIFY_VARIABLE):
        try:
            alerts = AlertSettings.from_config((), env)
            shown = ", ".join(f"{t.public} ({t.format})" for t in alerts.targets)
            checks.append(Check("alerts", "ok", f"{NOTIFY_VARIABLE}: {shown}; nothing was posted"))
        except UsageError as exc:
            checks.append(Check("alerts", "failed", str(exc)))
    return checks


def _manifest(project: Project) -> Check:
    if project.given is not None:
        return Check("manifest", "ok", f"the manifest.json of {project.given.origin}, used as it is")
    path = project.target_dir / "manifest.json"
    if project.reparsed:
        why = project.reparse_reason or "stale"
        return Check("manifest", "ok", f"re-parsed by dbt ({why}); {path} is current now")
    return Check("manifest", "ok", f"{path} is current")


def _warehouse(project: Project, checks: list[Check]) -> bool:
    session = project.session
    try:
        session.run(session.query, "select 1", "checking the connection")
    except DbtCioError as exc:
        checks.append(Check("warehouse connection", "failed", str(exc)))
        return False
    checks.append(Check("warehouse connection", "ok", session.target))
    state = StateSchema.open(session, project.state_schema, project.database)
    names = session.run(session.table_names, project.database, project.state_schema)
    where = state.tables.relation_of_schema()
    detail = (
        f"{where}: {len(names)} table(s)"
        if names
        else f"{where} does not exist yet: the first sync creates it"
    )
    checks.append(Check("state schema", "ok", detail))
    return True


def _blocks(project: Project, nodes: list[dict[str, object]]) -> list[Check]:
    others = [n for n in project.all_nodes() if n["unique_id"] not in {m["unique_id"] for m in nodes}]
    try:
        resolution = project.session.run(lambda: resolve_syncs(nodes, project.columns_of, others=others))
    except ConfigError as exc:
        return [Check(f"block of {p.model}", "failed", f"{p.path}: {p.message}") for p in exc.problems]
    except DbtCioError as exc:
        return [Check("blocks", "failed", str(exc))]
    checks = [Check(f"sync {s.name}", "ok", f"{s.type} from {s.relation}, workspace {s.workspace}")
              for s in resolution.syncs]  # fmt: skip
    checks += [Check(f"sync {u.sync}", "failed", u.message) for u in resolution.unbuilt]
    checks += [Check("blocks", "ok", f"warning: {w}") for w in resolution.warnings]
    if not checks:
        checks.append(Check("blocks", "ok", "no selected model has a meta.customerio block"))
    return checks


def _workspace_needs(nodes: list[dict[str, object]]) -> dict[str, bool]:
    """Each workspace the selected blocks name -> whether one of its syncs needs the App API."""
    needs: dict[str, bool] = {}
    for node in nodes:
        for _path, block in split_blocks(raw_value(node), []):
            if isinstance(block, Mapping):
                workspace = str(block.get("workspace") or DEFAULT_WORKSPACE)
                needs[workspace] = needs.get(workspace, False) or block.get("type") in APP_API_TYPES
    return needs


async def _workspaces(needs: Mapping[str, bool], env: Mapping[str, str]) -> list[Check]:
    checks: list[Check] = []
    for workspace, needs_app in sorted(needs.items()):
        checks += await _workspace(workspace, needs_app, env)
    return checks


async def _workspace(workspace: str, needs_app: bool, env: Mapping[str, str]) -> list[Check]:
    track, app = f"workspace {workspace}: Track API", f"workspace {workspace}: App API"
    try:
        credentials = Credentials.from_env(workspace, environ=env)
    except UsageError as exc:
        return [Check(track, "failed", str(exc)), Check(app, "skipped", "needs the Track credentials")]
    client = CustomerIOClient(credentials, retry=CHECK_RETRY, timeout=CHECK_TIMEOUT)
    try:
        await client.__aenter__()  # asks for the region, which proves the site id and API key
    except DbtCioError as exc:
        return [Check(track, "failed", str(exc)), Check(app, "skipped", "needs the Track API check to pass")]
    try:
        asked = credentials.region
        found = [
            Check(
                track,
                "ok",
                f"credentials accepted; region {client.region} (asked: {asked}), {client.track_url}",
            )
        ]
        if not credentials.app_api_key:
            variable = f"{env_prefix(workspace)}APP_API_KEY"
            if needs_app:
                found.append(Check(app, "failed", f"a segment or collection sync needs it: set {variable}"))
            else:
                found.append(Check(app, "ok", f"{variable} not set (no selected sync needs it)"))
            return found
        try:
            await client.list_segments()  # a read: GET /v1/segments
        except DbtCioError as exc:
            found.append(Check(app, "failed", str(exc)))
        else:
            found.append(Check(app, "ok", f"key accepted (GET /v1/segments), {client.app_url}"))
        return found
    finally:
        await client.close()
