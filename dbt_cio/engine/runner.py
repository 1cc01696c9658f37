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
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dbt_cio.contract.model import Sync
from dbt_cio.contract.resolve import load_syncs
from dbt_cio.customerio.client import CustomerIOClient
from dbt_cio.customerio.credentials import Credentials
from dbt_cio.engine.artifacts import write_run_results
from dbt_cio.engine.context import SyncContext
from dbt_cio.engine.observer import LogObserver, Observer
from dbt_cio.engine.options import SyncOptions
from dbt_cio.engine.results import RunResult, SyncResult
from dbt_cio.engine.run import SyncRun
from dbt_cio.errors import AuthError, DbtCioError
from dbt_cio.project import DbtArgs, Project
from dbt_cio.warehouse.schema import StateSchema

if TYPE_CHECKING:
    from dbt_cio.emulator import Emulator

__all__ = ["run_sync", "validate_project"]


def validate_project(dbt: DbtArgs | None = None, observer: Observer | None = None) -> list[Sync]:
    """Check every ``meta.customerio`` block of the project; return the resolved syncs.

    Raises :class:`~dbt_cio.errors.ConfigError` listing every problem of every model at once.
    """
    project = Project.load(dbt or DbtArgs())
    try:
        return project.session.run(load_syncs, project.all_nodes(), project.columns_of)
    finally:
        project.close()


def run_sync(options: SyncOptions | None = None, observer: Observer | None = None) -> RunResult:
    """Run every selected sync once and return what happened (:attr:`RunResult.exit_code` for a CLI).

    Configuration and usage problems raise (:class:`~dbt_cio.errors.UsageError`,
    :class:`~dbt_cio.errors.ConfigError`) before anything is sent; failures of single syncs are in the result.
    Progress goes to ``observer`` (default: the ``dbt_cio`` logger).
    """
    options = options or SyncOptions()
    observer = observer or LogObserver()
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    results: list[SyncResult] = []
    project = Project.load(options.dbt)
    session = project.session
    with ExitStack() as stack:
        stack.callback(project.close)
        nodes, notes = project.selected_nodes()
        for note in notes:
            observer.note(note)
        syncs = session.run(load_syncs, nodes, project.columns_of)
        if not syncs:
            observer.info("Nothing to sync: no selected model has a meta.customerio block.")
            return RunResult((), started_at, time.monotonic() - t0, dry_run=options.dry_run)
        environ = dict(options.environ)
        emulator = None
        if options.use_emulator and not options.dry_run:
            emulator = stack.enter_context(_emulator(environ, observer))
        state = StateSchema.open(session, project.state_schema, project.database)
        session.run(state.tables.ensure)
        ctx = SyncContext(session, state, options, observer)
        # dbt's parsed project is a large graph of objects that lives until the end: take it out of the
        # garbage collector's sight, or every full collection walks it again while millions of rows pass.
        gc.collect()
        gc.freeze()
        try:
            results = asyncio.run(_run_all(syncs, ctx, environ))
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
        },
    )
    return RunResult(tuple(results), started_at, elapsed, dry_run=options.dry_run, artifact=path)


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


async def _run_all(syncs: Sequence[Sync], ctx: SyncContext, environ: Mapping[str, str]) -> list[SyncResult]:
    results: list[SyncResult] = []
    clients: dict[str, CustomerIOClient] = {}
    try:
        with ctx.observer.progress():
            for sync in syncs:
                result = SyncResult(name=sync.name, model=sync.model, type=sync.type)
                results.append(result)
                t0 = time.monotonic()
                try:
                    client = None
                    if not ctx.options.dry_run:
                        client = clients.get(sync.workspace)
                        if client is None:
                            client = clients[sync.workspace] = await _connect(sync.workspace, ctx, environ)
                    await SyncRun(sync, ctx, client, result).run()
                except AuthError as exc:
                    result.status, result.message = "error", str(exc)
                    raise
                except DbtCioError as exc:
                    result.status, result.message = "error", str(exc)
                finally:
                    result.elapsed_seconds = time.monotonic() - t0
                if ctx.options.fail_fast and not result.ok:
                    _skip_the_rest(syncs, results, "not run: --fail-fast")
                    break
    except AuthError:
        _skip_the_rest(syncs, results, "not run: Customer.io refused the credentials")
    finally:
        for client in clients.values():
            await client.close()
    return results


def _skip_the_rest(syncs: Sequence[Sync], results: list[SyncResult], message: str) -> None:
    """Record every sync not reached yet as skipped, saying why."""
    for rest in syncs[len(results) :]:
        results.append(
            SyncResult(name=rest.name, model=rest.model, type=rest.type, status="skipped", message=message)
        )


async def _connect(workspace: str, ctx: SyncContext, environ: Mapping[str, str]) -> CustomerIOClient:
    credentials = Credentials.from_env(workspace, environ=environ)
    client = CustomerIOClient(credentials, ctx.options.rate)
    await client.__aenter__()
    return client
