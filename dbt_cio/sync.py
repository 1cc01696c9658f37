"""``dbt-cio sync`` and ``dbt-cio validate`` as library calls.

A run, for each selected sync, in order:

1. take the sync's lock, so two runs of one sync never overlap;
2. compute the diff inside the warehouse (``dbt_cio.warehouse``);
3. stream the diff page by page, map each row to operations (``dbt_cio.payloads``, pure), and feed them to
   the sender, which yields one result per operation as Customer.io acknowledges it;
4. commit acknowledged keys to state in chunks while sending continues, and record rejected rows;
5. record the run.

State never gets ahead of Customer.io: a key is committed only after its operation was acknowledged, so a run
killed at any moment resends, next time, exactly what was not acknowledged.

The warehouse is reached through the dbt adapter, whose connections belong to one thread: every warehouse call
runs on one dedicated worker thread (:class:`WarehouseThread`) while the sender runs on the event loop.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from dbt_cio.contract import Sync
from dbt_cio.errors import AuthError, DbtCioError
from dbt_cio.report import Reporter, SyncOutcome, write_run_results

T = TypeVar("T")


@dataclass(frozen=True)
class SyncOptions:
    dbt: Any  # dbt_cio.project.DbtArgs
    full_refresh: bool = False
    dry_run: bool = False
    fail_fast: bool = False
    use_emulator: bool = False
    rate: float | None = None
    burst: int | None = None
    max_concurrency: int | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


class WarehouseThread:
    """Runs every warehouse call on one thread, because dbt adapter connections are per-thread."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbt-cio-warehouse")

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self._pool.submit(fn, *args, **kwargs).result()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def validate_project(dbt_args: Any, reporter: Reporter | None = None) -> int:
    """Check every ``meta.customerio`` block of the project (raises ConfigError listing all problems)."""
    from dbt_cio.project import Project
    from dbt_cio.validate import load_syncs

    reporter = reporter or Reporter()
    wh = WarehouseThread()
    try:

        def check() -> list[Sync]:
            with Project.load(dbt_args) as project:
                return load_syncs(project.all_nodes(), project.columns_of)

        syncs = wh.run(check)
    finally:
        wh.close()
    reporter.info(f"OK: {len(syncs)} sync(s) configured correctly: " + ", ".join(s.name for s in syncs))
    return 0


def run_sync(options: SyncOptions, reporter: Reporter | None = None) -> int:
    """Run every selected sync; return the exit code (0 all accepted, 1 rejections or failures)."""
    from dbt_cio.project import Project
    from dbt_cio.validate import load_syncs

    reporter = reporter or Reporter()
    started_at = datetime.now(timezone.utc)
    t0 = time.monotonic()
    wh = WarehouseThread()
    outcomes: list[SyncOutcome] = []
    with ExitStack() as stack:
        stack.callback(wh.close)
        project = wh.run(lambda: Project.load(options.dbt).__enter__())
        stack.callback(lambda: wh.run(project.__exit__, None, None, None))
        nodes, notes = wh.run(project.selected_nodes)
        for note in notes:
            reporter.note(note)
        syncs = wh.run(load_syncs, nodes, project.columns_of)
        if not syncs:
            reporter.info("Nothing to sync: no selected model has a meta.customerio block.")
            return 0
        environ = dict(options.environ)
        emulator = None
        if options.use_emulator and not options.dry_run:
            emulator = stack.enter_context(_emulator(environ, reporter))
        store = wh.run(_open_store, project, options.dbt)
        # dbt's parsed project is a large graph of objects that lives until the end: take it out of the
        # garbage collector's sight, or every full collection walks it again while millions of rows pass.
        gc.collect()
        gc.freeze()
        try:
            outcomes = asyncio.run(_run_all(syncs, store, wh, options, environ, reporter))
        finally:
            gc.unfreeze()  # so that everything is released normally at exit
        if emulator is not None:
            _show_emulator(emulator, reporter)
        reporter.summary(outcomes, dry_run=options.dry_run)
        path = write_run_results(
            project.target_dir,
            outcomes,
            started_at=started_at,
            elapsed_seconds=time.monotonic() - t0,
            args={
                "select": list(options.dbt.select),
                "exclude": list(options.dbt.exclude),
                "full_refresh": options.full_refresh,
                "dry_run": options.dry_run,
            },
        )
        reporter.info(f"Run results written to {path}")
    return 0 if all(o.ok for o in outcomes) else 1


def _open_store(project: Any, dbt_args: Any) -> Any:
    from dbt_cio.warehouse import StateStore

    store = StateStore(project, project.state_schema)
    store.ensure()
    return store


@contextmanager
def _emulator(environ: dict[str, str], reporter: Reporter) -> Iterator[Any]:
    """Start a local Customer.io emulator for this run and point this run's credentials at it."""
    from dbt_cio.emulator import Emulator, EmulatorThread

    creds = {"site_id": "emulator-site", "api_key": "emulator-key", "app_api_key": "emulator-app-key"}
    emulator = Emulator(**creds)
    with EmulatorThread(emulator) as base_url:
        environ.update(
            {
                "CUSTOMERIO_SITE_ID": creds["site_id"],
                "CUSTOMERIO_API_KEY": creds["api_key"],
                "CUSTOMERIO_APP_API_KEY": creds["app_api_key"],
                "CUSTOMERIO_REGION": "us",
                "CUSTOMERIO_TRACK_URL": base_url,
                "CUSTOMERIO_APP_URL": base_url,
            }
        )
        reporter.info(f"Sending to a local Customer.io emulator at {base_url} (--emulator).")
        yield emulator


def _show_emulator(emulator: Any, reporter: Reporter) -> None:
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
    reporter.info("Arrived in the emulator: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


async def _run_all(
    syncs: Sequence[Sync],
    store: Any,
    wh: WarehouseThread,
    options: SyncOptions,
    environ: Mapping[str, str],
    reporter: Reporter,
) -> list[SyncOutcome]:
    outcomes: list[SyncOutcome] = []
    clients: dict[str, Any] = {}
    try:
        with reporter.progress():
            for sync in syncs:
                outcome = SyncOutcome(name=sync.name, model=sync.model, type=sync.type)
                outcomes.append(outcome)
                t0 = time.monotonic()
                try:
                    client = None
                    if not options.dry_run:
                        client = clients.get(sync.workspace)
                        if client is None:
                            client = clients[sync.workspace] = await _connect(
                                sync.workspace, options, environ
                            )
                    from dbt_cio.engine import SyncRun

                    await SyncRun(sync, store, wh, client, options, reporter, outcome).run()
                except AuthError as exc:
                    outcome.status, outcome.message = "error", str(exc)
                    raise
                except DbtCioError as exc:
                    outcome.status, outcome.message = "error", str(exc)
                finally:
                    outcome.elapsed_seconds = time.monotonic() - t0
                if options.fail_fast and not outcome.ok:
                    _skip_the_rest(syncs, outcomes, "not run: --fail-fast")
                    break
    except AuthError:
        _skip_the_rest(syncs, outcomes, "not run: Customer.io refused the credentials")
    finally:
        for client in clients.values():
            await client.__aexit__(None, None, None)
    return outcomes


def _skip_the_rest(syncs: Sequence[Sync], outcomes: list[SyncOutcome], message: str) -> None:
    """Record every sync not reached yet as skipped, saying why."""
    for rest in syncs[len(outcomes) :]:
        outcomes.append(
            SyncOutcome(name=rest.name, model=rest.model, type=rest.type, status="skipped", message=message)
        )


async def _connect(workspace: str, options: SyncOptions, environ: Mapping[str, str]) -> Any:
    from dbt_cio.client import CustomerIOClient
    from dbt_cio.credentials import Credentials
    from dbt_cio.ratelimit import RateSettings

    credentials = Credentials.from_env(workspace, environ=environ)
    settings = {
        k: v
        for k, v in (
            ("rate", options.rate),
            ("burst", options.burst),
            ("max_concurrency", options.max_concurrency),
        )
        if v is not None
    }
    client = CustomerIOClient(credentials, RateSettings(**settings))
    await client.__aenter__()
    return client
