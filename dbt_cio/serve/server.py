"""The ``dbt-cio serve`` process: the web server on the event loop, one worker thread that runs the syncs.

Start-up checks everything it can before listening (the webhook secret, the dbt Cloud settings, the routes),
so a misconfigured server exits 2 at once instead of failing on the first delivery. Each queued sync is a
:func:`~dbt_cio.engine.runner.run_sync` of the command's options with the job's selection and the event's
dbt Cloud run (its artifacts, downloaded).

SIGTERM (or SIGINT), in steps:

1. the server stops accepting: webhooks and ``/healthz`` answer 503 from now on;
2. the stop signal is set: the sync under way stops producing operations, waits for the requests in flight,
   commits and folds what Customer.io acknowledged (state is never ahead of Customer.io, and not behind what
   was acknowledged either), and records itself as stopped; waiting syncs are dropped;
3. the worker ends, the server closes, the process exits 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from dbt_cio.dbt_cloud.settings import CloudSettings, DbtCloudRun
from dbt_cio.engine.observer import Observer
from dbt_cio.engine.options import SyncOptions
from dbt_cio.engine.runner import run_sync
from dbt_cio.errors import DbtCioError, UsageError
from dbt_cio.serve.app import WEBHOOK_PATH, ServeLog, ServerState, build_app
from dbt_cio.serve.queue import QueuedSync, SyncQueue, SyncState
from dbt_cio.serve.routes import JobRoutes

__all__ = ["DEFAULT_PORT", "SECRET_VARIABLE", "ServeLog", "ServeSettings", "serve"]

SECRET_VARIABLE = "DBT_CIO_WEBHOOK_SECRET"
DEFAULT_PORT = 8580


@dataclass(frozen=True)
class ServeSettings:
    """How ``dbt-cio serve`` runs: checked when built (:meth:`build`)."""

    options: SyncOptions  # every sync's options, but for the selection and the dbt Cloud run
    routes: JobRoutes
    cloud: CloudSettings
    secret: str = field(repr=False)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_waiting: int = 16

    @classmethod
    def build(cls, options: SyncOptions, routes: JobRoutes, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
              max_waiting: int = 16) -> ServeSettings:  # fmt: skip
        """The settings, with the secret and dbt Cloud's settings read from ``options.environ``."""
        secret = options.environ.get(SECRET_VARIABLE, "")
        if len(secret) < 16:
            raise UsageError(
                f"set {SECRET_VARIABLE} to the secret token dbt Cloud shows for the webhook (it signs every "
                "delivery; at least 16 characters): deliveries without its signature are refused."
            )
        if options.dry_run and options.output is not None:
            raise UsageError("--output is for one dry run at a time, not for a server")
        if max_waiting < 1:
            raise UsageError("--max-queue must be at least 1")
        return cls(options, routes, CloudSettings.from_env(options.environ), secret, host, port, max_waiting)


def serve(settings: ServeSettings, observer: Observer, log: ServeLog) -> int:
    """Serve until SIGTERM or SIGINT; return the exit code (0)."""
    return asyncio.run(_serve(settings, observer, log))


async def _serve(settings: ServeSettings, observer: Observer, log: ServeLog) -> int:
    from aiohttp import web

    queue = SyncQueue(settings.max_waiting)
    state = ServerState(settings.secret, settings.cloud.account_id, settings.routes, queue, log)
    stop = threading.Event()  # tells the running sync to stop sending
    worker = threading.Thread(target=_work, args=(settings, queue, observer, log, stop), name="dbt-cio-sync")
    runner = web.AppRunner(build_app(state), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        port = _bound_port(site)
        terminate = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, terminate.set)
        worker.start()
        shown = f"[{settings.host}]" if ":" in settings.host else settings.host
        log.event("ServeStarted", f"Listening on http://{shown}:{port}{WEBHOOK_PATH} for dbt Cloud webhooks "
                  f"(account {settings.cloud.account_id}; {settings.routes.describe()})", host=settings.host,
                  port=port, pid=os.getpid(), account_id=settings.cloud.account_id,
                  routes=settings.routes.describe())  # fmt: skip
        await terminate.wait()
        state.stopping = True
        stop.set()
        dropped = queue.close()
        log.event("ServeStopping", "Stopping: the sync under way commits what Customer.io acknowledged; "
                  f"{len(dropped)} waiting sync(s) dropped", running=queue.busy,
                  dropped=[item.id for item in dropped])  # fmt: skip
        await asyncio.to_thread(worker.join)
    finally:
        await runner.cleanup()
    log.event("ServeStopped", "Stopped.")
    return 0


def _work(
    settings: ServeSettings, queue: SyncQueue, observer: Observer, log: ServeLog, stop: threading.Event
) -> None:
    """The worker thread: run each queued sync in turn until the queue closes."""
    while (item := queue.take()) is not None:
        _run_one(item, settings, queue, observer, log, stop)


def _run_one(item: QueuedSync, settings: ServeSettings, queue: SyncQueue, observer: Observer, log: ServeLog,
             stop: threading.Event) -> None:  # fmt: skip
    trigger, shown = item.trigger, " ".join(item.selection) or "every model with a block"
    options = dataclasses.replace(
        settings.options,
        dbt=dataclasses.replace(settings.options.dbt, select=item.selection),
        dbt_cloud=DbtCloudRun(run_id=trigger.run_id),
        invocation_id=str(uuid.uuid4()),
    )
    log.event("TriggeredSyncStart", f"sync {item.id}: --select {shown} from dbt Cloud run {trigger.run_id} "
              f"(job {trigger.job_id})", sync_id=item.id, run_id=trigger.run_id, job_id=trigger.job_id,
              invocation_id=options.invocation_id)  # fmt: skip
    try:
        result = run_sync(options, observer, stop=stop)
    except DbtCioError as exc:
        queue.finish(item, "error", exc.exit_code, str(exc))
        log.event("TriggeredSyncEnd", f"sync {item.id}: error: {exc}", "error", sync_id=item.id,
                  state="error", exit_code=exc.exit_code)  # fmt: skip
        return
    except Exception as exc:  # noqa: BLE001 - a bug must not stop the server: report it and go on
        queue.finish(item, "error", 1, f"unexpected {type(exc).__name__}: {exc}")
        log.event("TriggeredSyncEnd", f"sync {item.id}: unexpected {type(exc).__name__}: {exc}", "error",
                  sync_id=item.id, state="error", exit_code=1)  # fmt: skip
        return
    syncs = [{"sync": s.name, "status": s.status, "added": s.added, "changed": s.changed, "removed": s.removed,
              "accepted": s.accepted, "rejected": s.rejected, "run_id": s.run_id, "message": s.message}
             for s in result]  # fmt: skip
    state: SyncState = "success" if result.success else "failed"
    queue.finish(item, state, result.exit_code, None, syncs)
    if result.syncs:
        log.summary(result.syncs, dry_run=result.dry_run)
    log.event("TriggeredSyncEnd", f"sync {item.id}: {state} (exit code {result.exit_code}), "
              f"{sum(s.accepted for s in result)} row(s) accepted", "info" if result.success else "warn",
              sync_id=item.id, state=state, exit_code=result.exit_code, invocation_id=result.invocation_id,
              syncs=syncs)  # fmt: skip


def _bound_port(site: Any) -> int:
    sockets = getattr(site._server, "sockets", None)
    assert sockets, "the site is started"
    return int(sockets[0].getsockname()[1])
