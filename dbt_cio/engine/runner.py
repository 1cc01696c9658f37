"""``dbt-cio sync`` and ``dbt-cio validate`` as library calls: :func:`run_sync` and :func:`validate_project`.

A run, for each selected sync, in order (see :class:`~dbt_cio.engine.run.SyncRun`):

1. take the sync's lock, so two runs of one sync never overlap;
2. compute the diff inside the warehouse (:mod:`dbt_cio.warehouse.state`);
3. stream the diff page by page, map each row to operations (:mod:`dbt_cio.payloads`, pure), and feed them
   to the sender, which yields one result per operation as Customer.io acknowledges it;
4. commit acknowledged keys to state in chunks while sending continues, and record rejected rows;
5. record the run.

State never gets ahead of Customer.io: a key is committed only after its operation was acknowledged, so a run
killed at any moment resends, next time, exactly what was not acknowledged.

The warehouse is reached through the dbt adapter, whose connections belong to one thread: every warehouse call
runs on the session's thread (:class:`~dbt_cio.warehouse.session.WarehouseSession`) while the sender runs on
the event loop.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from dbt_cio.alerts.targets import AlertSettings
from dbt_cio.contract.model import Sync
from dbt_cio.contract.resolve import Unbuilt, resolve_syncs
from dbt_cio.customerio.client import CustomerIOClient
from dbt_cio.customerio.credentials import Credentials, env_prefix
from dbt_cio.dbt_cloud.settings import DbtCloudRun
from dbt_cio.engine.artifacts import write_run_results
from dbt_cio.engine.cloud_run import open_project
from dbt_cio.engine.context import SyncContext
from dbt_cio.engine.notify import Notifier
from dbt_cio.engine.observer import LogObserver, Observer
from dbt_cio.engine.options import SyncOptions
from dbt_cio.engine.results import RunResult, SyncResult
from dbt_cio.engine.run import SyncRun
from dbt_cio.errors import AuthError, DbtCioError, UsageError
from dbt_cio.project import DbtArgs, Project
from dbt_cio.run_results import held_back
from dbt_cio.warehouse.schema import StateSchema

if TYPE_CHECKING:
    from dbt_cio.emulator import Emulator

__all__ = ["run_sync", "validate_project"]


def validate_project(
    dbt: DbtArgs | None = None,
    observer: Observer | None = None,
    *,
    dbt_cloud: DbtCloudRun | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Sync]:
    """Check the ``meta.customerio`` blocks of the selected models (every model with a block when nothing is
    selected); return the resolved syncs. Warnings (e.g. documented columns missing from the built table)
    go to ``observer``. With ``dbt_cloud``, the models are those of that run's manifest (``DBT_CLOUD_*``
    read from ``environ``, default the process environment).

    Raises :class:`~dbt_cio.errors.ConfigError` listing every problem of every model at once; a model that
    is not built (and documents no columns) is one of them, as its columns cannot be checked.
    """
    observer = observer or LogObserver()
    project = open_project(dbt or DbtArgs(), dbt_cloud, os.environ if environ is None else environ, observer)
    try:
        nodes, others, notes = _selection(project)
        for note in notes:
            observer.note(note)
        resolution = project.session.run(
            lambda: resolve_syncs(nodes, project.columns_of, others=others, strict=True)
        )
        for warning in resolution.warnings:
            observer.note(warning)
        return resolution.syncs
    finally:
        project.close()


def run_sync(
    options: SyncOptions | None = None,
    observer: Observer | None = None,
    *,
    stop: threading.Event | None = None,
) -> RunResult:
    """Run every selected sync once and return what happened (:attr:`RunResult.exit_code` for a CLI).

    Configuration and usage problems raise (:class:`~dbt_cio.errors.UsageError`,
    :class:`~dbt_cio.errors.ConfigError`) before anything is sent; failures of single syncs are in the result.
    Progress goes to ``observer`` (default: the ``dbt_cio`` logger). Once ``stop`` is set (from another
    thread: a signal handler), the sync under way stops sending, commits what Customer.io acknowledged and
    ends as ``error``; the syncs after it are not run.
    """
    options = options or SyncOptions()
    observer = observer or LogObserver()
    alerts = AlertSettings.from_config(options.notify, options.environ)  # a bad URL stops us before anything
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    results: list[SyncResult] = []
    project = open_project(options.dbt, options.dbt_cloud, options.environ, observer)
    session = project.session
    with ExitStack() as stack:
        stack.callback(project.close)
        nodes, others, notes = _selection(project)
        for note in notes:
            observer.note(note)
        with observer.phase("reading the models' columns"):
            resolution = session.run(lambda: resolve_syncs(nodes, project.columns_of, others=others))
        for warning in resolution.warnings:
            observer.note(warning)
        syncs, unbuilt = resolution.syncs, resolution.unbuilt
        if not syncs and not unbuilt:
            observer.info("Nothing to sync: no selected model has a meta.customerio block.")
            return RunResult((), started_at, time.monotonic() - t0, dry_run=options.dry_run,
                             invocation_id=options.invocation_id)  # fmt: skip
        environ = dict(options.environ)
        emulator = None
        if options.use_emulator:
            emulator = stack.enter_context(_emulator(environ, observer))
        credentials = _credentials(syncs, environ)  # a dry run checks them too (by reading only)
        holds = {} if options.ignore_dbt_results else _held_back(project, syncs, observer)
        state = StateSchema.open(session, project.state_schema, project.database, mode=project.state_mode)
        if not options.dry_run:  # a dry run writes nothing: not even the state schema
            session.run(state.tables.ensure)
        output = None
        if options.dry_run and options.output is not None:
            output = stack.enter_context(_open_output(options.output))
        ctx = SyncContext(session, state, options, observer, output, stop or threading.Event())
        notifier = None
        if alerts and not options.dry_run:
            notifier = Notifier(
                alerts, ctx, invocation_id=options.invocation_id, project=project.project_name,
                target=project.target_name, held_back=lambda r: r.name in holds and r.message == holds[r.name],
            )  # fmt: skip
        # dbt's parsed project is a large graph of objects that lives until the end: take it out of the
        # garbage collector's sight, or every full collection walks it again while millions of rows pass.
        # (No collection first: it costs 60 ms a run, and the few cycles it would free are only kept longer.)
        gc.freeze()
        try:
            results = asyncio.run(_run_all(syncs, unbuilt, holds, credentials, ctx, notifier))
        finally:
            gc.unfreeze()  # so that everything is released normally at exit
        if emulator is not None:
            _show_emulator(emulator, observer)
    elapsed = time.monotonic() - t0
    path = write_run_results(
        project.target_dir,
        results,
        started_at=started_at,
        elapsed_seconds=elapsed,
        args={
            "select": list(options.dbt.select),
            "exclude": list(options.dbt.exclude),
            "full_refresh": options.full_refresh,
            "dry_run": options.dry_run,
            "target": project.target_name,
        },
        invocation_id=options.invocation_id,
    )
    return RunResult(tuple(results), started_at, elapsed, dry_run=options.dry_run, artifact=path,
                     invocation_id=options.invocation_id)  # fmt: skip


def _selection(project: Project) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """The selected models with a block, the project's other models (their sync names are taken), notes."""
    nodes, notes = project.selected_nodes()
    chosen = {node["unique_id"] for node in nodes}
    others = [node for node in project.all_nodes() if node["unique_id"] not in chosen]
    return nodes, others, notes


def _credentials(syncs: Sequence[Sync], environ: Mapping[str, str]) -> dict[str, Credentials]:
    """Every workspace's credentials, read before anything runs: a missing key is a usage error (exit 2)."""
    found: dict[str, Credentials] = {}
    for workspace in sorted({sync.workspace for sync in syncs}):
        found[workspace] = credentials = Credentials.from_env(workspace, environ=environ)
        needs_app = [
            s.name for s in syncs if s.workspace == workspace and s.type in ("segment", "collection")
        ]
        if needs_app and not credentials.app_api_key:
            raise UsageError(
                f"sync(s) {', '.join(needs_app)} need Customer.io's App API (segments and collections): set "
                f"{env_prefix(workspace)}APP_API_KEY in the environment."
            )
    return found


def _held_back(project: Project, syncs: Sequence[Sync], observer: Observer) -> dict[str, str]:
    """The syncs dbt's last results hold back, with why; says once which results gate the run.

    A dbt Cloud run's results gate whatever their target is called; those of a run that did not succeed gate
    strictly (only what it built and tested may sync), and such a run without results holds every sync back.
    """
    results, given = project.run_results(), project.given
    strict = given is not None and not given.complete
    if results is None and strict:
        assert given is not None
        none = f"{given.origin} did not succeed and left no run_results.json, so no model is known to be good"
        return {
            sync.name: f"held back, nothing sent: {none}. Fix the job and sync from its next run."
            for sync in syncs
        }
    if results is None:
        observer.note(
            f"{given.origin} has no run_results.json: dbt's results do not gate this run."
            if given
            else "no target/run_results.json: dbt's results do not gate this run. Run dbt build (or dbt run and "
            "dbt test) before dbt-cio sync, so that a model that fails to build or to pass its tests is held back."
        )
        return {}
    if given is None and results.target is not None and results.target != project.target_name:
        observer.note(
            f"dbt's results in {results.describe()} are for target '{results.target}', not "
            f"'{project.target_name}': they do not gate this run."
        )
        return {}
    observer.info(f"dbt's results gate this run: {results.describe()}")
    holds = {}
    for sync in syncs:
        why = held_back(
            sync.unique_id, sync.relation, project.tests_of(sync.unique_id), results, strict=strict
        )
        if why is not None:
            holds[sync.name] = (
                f"held back, nothing sent: {why}. Fix the model or its data and run dbt again, or sync "
                "anyway with --ignore-dbt-results."
            )
    return holds


@contextmanager
def _open_output(path: Path) -> Iterator[IO[str]]:
    """The file a dry run writes every operation to (``--output``)."""
    try:
        handle = path.open("w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output {path}: cannot write the file: {exc.strerror}") from exc
    with handle:
        yield handle


@contextmanager
def _emulator(environ: dict[str, str], observer: Observer) -> Iterator[Emulator]:
    """Start a local Customer.io emulator for this run and point this run's credentials at it."""
    from dbt_cio.emulator import Emulator, EmulatorThread

    site_id, api_key, app_api_key = "emulator-site", "emulator-key", "emulator-app-key"
    emulator = Emulator(site_id=site_id, api_key=api_key, app_api_key=app_api_key)
    with EmulatorThread(emulator) as base_url:
        environ.update(
            {
                "CUSTOMERIO_SITE_ID": site_id,
                "CUSTOMERIO_API_KEY": api_key,
                "CUSTOMERIO_APP_API_KEY": app_api_key,
                "CUSTOMERIO_REGION": "us",
                "CUSTOMERIO_TRACK_URL": base_url,
                "CUSTOMERIO_APP_URL": base_url,
            }
        )
        observer.info(f"Sending to a local Customer.io emulator at {base_url} (--emulator).")
        yield emulator


def _show_emulator(emulator: Emulator, observer: Observer) -> None:
    """Say what arrived in the emulator, so a demo run shows its effect."""
    state = emulator.state
    counts = {
        "people": len(state.people),
        "events": len(state.events),
        "objects": len(state.objects),
        "relationships": len(state.relationships),
        "devices": len(state.devices),
        "segment members": sum(len(s.members) for s in state.segments.values()) if state.segments else 0,
        "collections": len(state.collections),
    }
    observer.info("Arrived in the emulator: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


async def _run_all(
    syncs: Sequence[Sync],
    unbuilt: Sequence[Unbuilt],
    holds: Mapping[str, str],
    credentials: Mapping[str, Credentials],
    ctx: SyncContext,
    notifier: Notifier | None = None,
) -> list[SyncResult]:
    """Run each sync in turn; every sync of a real run leaves its row in the ``runs`` table, however it ends
    (and, with alerts, is considered for one)."""
    results = [SyncResult(name=s.name, model=s.model, type=s.type, unique_id=s.unique_id,
                          relation_name=s.relation) for s in syncs]  # fmt: skip
    results += [
        SyncResult(
            name=u.sync,
            model=u.model,
            type=u.type,
            status="error",
            message=u.message,
            unique_id=u.unique_id,
            relation_name=u.relation,
        )
        for u in unbuilt
    ]
    clients: dict[str, CustomerIOClient] = {}
    unreachable: dict[str, DbtCioError] = {}  # workspace -> why connecting failed (the next syncs fail fast)
    stop: str | None = None  # why the syncs not reached yet are not run
    try:
        with ctx.observer.progress():
            for index, result in enumerate(results):
                t0 = time.monotonic()
                if stop is None and ctx.stop.is_set():
                    stop = "not run: dbt-cio was asked to stop"
                if not ctx.options.dry_run:
                    try:
                        result.run_id = await ctx.session.call(ctx.state.records.start_run, result.name)
                    except DbtCioError as exc:
                        result.status, result.message = "error", str(exc)
                        if notifier is not None:
                            notifier.after(result)
                        continue
                try:
                    if stop is not None:
                        result.status, result.message = "skipped", stop
                    elif result.status == "pending" and result.name in holds:
                        result.status, result.message = "skipped", holds[result.name]
                    elif result.status == "pending":
                        sync = syncs[index]
                        connect = partial(_client, sync.workspace, credentials, clients, unreachable, ctx)
                        await SyncRun(sync, ctx, connect, result).run()
                except AuthError as exc:
                    result.status, result.message = "error", str(exc)
                    stop = "not run: Customer.io refused the credentials"
                except DbtCioError as exc:
                    result.status, result.message = "error", str(exc)
                finally:
                    result.elapsed_seconds = time.monotonic() - t0
                    if result.run_id is not None:
                        await _finish(ctx, result)
                    if notifier is not None:
                        notifier.after(result)
                if ctx.options.fail_fast and not result.ok and stop is None:
                    stop = "not run: --fail-fast"
    finally:
        if notifier is not None:
            await notifier.close()
        for client in clients.values():
            await client.close()
    return results


async def _finish(ctx: SyncContext, result: SyncResult) -> None:
    """Write how the sync ended to its row in ``runs`` (a failure to do so is reported, never hidden)."""
    assert result.run_id is not None
    error = None if result.ok else result.message
    try:
        await ctx.session.call(
            ctx.state.records.finish_run,
            result.run_id,
            status=result.status,
            counts=result.counts(),
            error=error,
        )
    except DbtCioError as exc:
        ctx.observer.note(f"sync '{result.name}': its run could not be recorded: {exc}")


async def _client(
    workspace: str,
    credentials: Mapping[str, Credentials],
    clients: dict[str, CustomerIOClient],
    unreachable: dict[str, DbtCioError],
    ctx: SyncContext,
) -> CustomerIOClient:
    """The workspace's connected client (one per workspace and run); a failed connection fails fast after."""
    if workspace in unreachable:
        raise unreachable[workspace]
    client = clients.get(workspace)
    if client is None:
        client = CustomerIOClient(credentials[workspace], ctx.options.rate)
        try:
            await client.__aenter__()
        except AuthError:
            raise
        except DbtCioError as exc:
            unreachable[workspace] = exc
            raise
        clients[workspace] = client
    return client
