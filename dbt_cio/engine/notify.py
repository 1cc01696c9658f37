"""When a run alerts: per sync that fails, is aborted or held back, or has rejections, and once when it
recovers. Never per row.

After each sync of a real run (never a dry run), :meth:`Notifier.after` decides in the background while
the next sync runs:

1. an *alerting* status (``error``, ``aborted``, ``rejected``, ``warn``, or ``skipped`` because dbt's results
   held the sync back) sends a ``failure`` alert and remembers the status in the sync's ``sync_meta``
   (:data:`ALERT_META_KEY`);
2. a ``success`` when a status is remembered sends one ``recovery`` alert and forgets it;
3. anything else (a clean run with nothing remembered, a sync not reached) sends nothing.

An alert that cannot be delivered, or a memory that cannot be read or written, is a note: it never changes
the sync's outcome or the exit code. :meth:`Notifier.close` waits for every alert of the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dbt_cio.alerts.delivery import DeliverySettings, deliver, describe
from dbt_cio.alerts.messages import Alert, AlertKind
from dbt_cio.alerts.targets import AlertSettings
from dbt_cio.engine.context import SyncContext
from dbt_cio.engine.results import SyncResult
from dbt_cio.errors import DbtCioError

__all__ = ["ALERTING", "ALERT_META_KEY", "Notifier"]

ALERT_META_KEY = "alert_status"
"""sync_meta: the status of the sync's last alerted run, until it recovers."""
ALERTING = frozenset({"error", "aborted", "rejected", "warn"})
"""Statuses that alert (besides ``skipped`` for a sync held back by dbt's results)."""


class Notifier:
    """The alerts of one run (see the module docstring)."""

    def __init__(
        self,
        settings: AlertSettings,
        ctx: SyncContext,
        *,
        invocation_id: str,
        held_back: Callable[[SyncResult], bool],
        project: str | None = None,
        target: str | None = None,
        delivery: DeliverySettings | None = None,
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        self.invocation_id = invocation_id
        self.held_back = held_back
        self.project, self.target = project, target
        self.delivery = delivery
        self._pending: list[asyncio.Future[None]] = []

    def after(self, result: SyncResult) -> None:
        """Consider ``result`` (a finished sync) for an alert, in the background."""
        if not self.settings:
            return
        alerting = result.status in ALERTING or (result.status == "skipped" and self.held_back(result))
        if alerting or result.status == "success":
            self._pending.append(asyncio.ensure_future(self._consider(result, alerting)))

    async def close(self) -> None:
        """Wait for every alert of the run to be delivered (or given up on); whatever went wrong with one is
        a note, never the run's failure."""
        pending, self._pending = self._pending, []
        for outcome in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(outcome, Exception):
                self.ctx.observer.note(
                    f"an alert failed unexpectedly ({type(outcome).__name__}); the run goes on"
                )

    async def _consider(self, result: SyncResult, alerting: bool) -> None:
        remembered = await self._meta(result, read=True)
        if alerting:
            kind: AlertKind = "failure"
        elif remembered:
            kind = "recovery"
        else:
            return
        undelivered = await deliver(self._alert(kind, result), self.settings, self.delivery)
        if undelivered:
            self.ctx.observer.note(
                f"sync '{result.name}': the {kind} alert could not be delivered to {describe(undelivered)} "
                "(the sync's outcome is unchanged)"
            )
        if alerting and remembered != result.status:
            await self._meta(result, value=result.status)
        elif not alerting:
            await self._meta(result, value=None)

    async def _meta(self, result: SyncResult, *, read: bool = False, value: str | None = None) -> str | None:
        """Read, or write (``None`` forgets), the sync's remembered alert status; a failure is a note."""
        records, session = self.ctx.state.records, self.ctx.session
        try:
            if read:
                return await session.call(records.get_meta, result.name, ALERT_META_KEY)
            await session.call(records.set_meta, result.name, ALERT_META_KEY, value)
        except DbtCioError as exc:
            doing = "read whether it had alerted" if read else "remember its alert"
            self.ctx.observer.note(f"sync '{result.name}': could not {doing}: {exc}")
        return None

    def _alert(self, kind: AlertKind, result: SyncResult) -> Alert:
        return Alert(
            kind=kind,
            sync=result.name,
            model=result.model,
            status=result.status,
            message=result.message,
            counts=result.counts(),
            reasons=[(reason.reason, reason.count) for reason in result.reasons],
            run_id=result.run_id,
            invocation_id=self.invocation_id,
            project=self.project,
            target=self.target,
        )
