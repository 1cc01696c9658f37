"""The HTTP routes of ``dbt-cio serve``.

``POST /dbt-cloud/webhook``, in order — nothing is looked at before the signature:

1. the ``Authorization`` header must be the body's signature (:func:`~dbt_cio.serve.webhook.verify`), else
   **401** and nothing else happens;
2. while the server stops, **503** (dbt Cloud delivers again, to the next instance);
3. a body that is not a webhook event: **400**;
4. an event other than ``job.run.completed``, of another account, already seen (``eventId``: dbt Cloud retries
   deliveries), or of a job we were not told about: **200** with ``{"status": "ignored", "reason": ...}``;
5. otherwise the sync is queued (:mod:`~dbt_cio.serve.queue`): **202** at once, the sync runs in the
   background; **503** with ``Retry-After`` when the queue is full.

``GET /healthz`` answers 200 ``{"status": "ok", ...}`` (503 ``stopping`` once SIGTERM arrived); ``GET /runs``
lists the recent webhook-triggered syncs and their outcome, newest first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from dbt_cio.serve.queue import QueuedSync, SyncQueue, Trigger
from dbt_cio.serve.routes import JobRoutes
from dbt_cio.serve.webhook import JOB_RUN_COMPLETED, BadEvent, WebhookEvent, verify

if TYPE_CHECKING:
    from aiohttp import web

    from dbt_cio.engine.results import SyncResult

__all__ = ["WEBHOOK_PATH", "ServeLog", "ServerState", "build_app"]

WEBHOOK_PATH = "/dbt-cloud/webhook"
SEEN_EVENTS = 10_000  # event ids remembered to ignore dbt Cloud's repeated deliveries
RETRY_AFTER = "60"


class ServeLog(Protocol):
    """Where the server writes its structured events (``name`` from :data:`dbt_cio.jsonlog.EVENTS`) and the
    summary of each sync it ran."""

    def event(self, name: str, msg: str, level: str = "info", /, **data: Any) -> None: ...

    def summary(self, outcomes: Sequence[SyncResult], *, dry_run: bool = False) -> None: ...


@dataclass
class ServerState:
    """What the routes share: the secret, the account and routes to act on, the queue, the events seen."""

    secret: str = field(repr=False)
    account_id: int
    routes: JobRoutes
    queue: SyncQueue
    log: ServeLog
    stopping: bool = False
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def remember(self, event_id: str) -> None:
        self.seen[event_id] = None
        while len(self.seen) > SEEN_EVENTS:
            self.seen.popitem(last=False)


def build_app(state: ServerState) -> web.Application:
    from aiohttp import web

    def answer(code: int, /, **body: Any) -> web.Response:
        response = web.json_response(body, status=code)
        if code == 503:
            response.headers["Retry-After"] = RETRY_AFTER
        return response

    def ignored(event: WebhookEvent, reason: str) -> web.Response:
        state.log.event("WebhookIgnored", f"webhook event {event.event_id} ignored: {reason}",
                        event_id=event.event_id, event_type=event.event_type, job_id=event.job_id,
                        run_id=event.run_id, reason=reason)  # fmt: skip
        return answer(200, status="ignored", reason=reason)

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(body, request.headers.get("Authorization"), state.secret):
            state.log.event("WebhookRefused", f"webhook refused from {request.remote}: missing or wrong signature",
                            "warn", remote=request.remote)  # fmt: skip
            return answer(401, status="refused", reason="missing or wrong signature")
        if state.stopping:
            return answer(503, status="stopping", reason="the server is stopping; deliver again later")
        try:
            event = WebhookEvent.parse(body)
        except BadEvent as exc:
            return answer(400, status="refused", reason=str(exc))
        if event.event_type != JOB_RUN_COMPLETED:
            return ignored(event, f"event type {event.event_type} (only {JOB_RUN_COMPLETED} starts a sync)")
        if event.account_id != state.account_id:
            return ignored(
                event, f"account {event.account_id} is not DBT_CLOUD_ACCOUNT_ID {state.account_id}"
            )
        if event.event_id in state.seen:
            return ignored(event, "already received (a repeated delivery)")
        selection = state.routes.selection(event.job_id)
        if selection is None:
            return ignored(event, f"job {event.job_id} is not one of the --job given")
        if event.run_id is None or event.job_id is None:
            return answer(400, status="refused", reason="the event names no job or run id")
        shown = " ".join(selection) or "every model with a block"

        def announce(offer: str, queued: QueuedSync | None) -> None:
            if queued is None:
                state.log.event("QueueFull", f"webhook event {event.event_id} refused: {state.queue.max_waiting} "
                                "syncs are waiting already (503; dbt Cloud delivers again later)", "warn",
                                event_id=event.event_id, job_id=event.job_id, run_id=event.run_id)  # fmt: skip
                return
            verb = "queued" if offer == "queued" else "joined the waiting sync"
            state.log.event("SyncQueued", f"dbt Cloud job {event.job_id} run {event.run_id} finished "
                            f"({event.run_status or 'status unknown'}): {verb} {queued.id} (--select {shown})",
                            event_id=event.event_id, job_id=event.job_id, run_id=event.run_id, sync_id=queued.id,
                            selection=shown, offer=offer)  # fmt: skip

        offer, queued = state.queue.offer(
            Trigger(event.event_id, event.job_id, event.run_id), selection, announce
        )
        if queued is None:
            return answer(503, status="full", reason="too many syncs are waiting; deliver again later")
        state.remember(event.event_id)
        return answer(202, status=offer, id=queued.id, run_id=event.run_id, selection=shown)

    async def healthz(request: web.Request) -> web.Response:
        status = "stopping" if state.stopping else "ok"
        return answer(503 if state.stopping else 200, status=status, **state.queue.counts())

    async def runs(request: web.Request) -> web.Response:
        return answer(200, runs=state.queue.recent())

    app = web.Application()
    app.router.add_post(WEBHOOK_PATH, webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/runs", runs)
    return app
