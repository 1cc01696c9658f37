"""One sync's run: diff, map, send, commit acknowledged keys, record rejections and the sync log.

The invariant that makes crashes harmless: a key enters state only after Customer.io acknowledged the
operation built from it (or when the row needs no operation at all). Acknowledged keys are committed in
chunks while sending continues, so a run stopped half-way resumes where it left off.

The sync log (:mod:`dbt_cio.warehouse.synclog`) follows the same rule: acknowledged operations are logged by
the fold of the ledger (with the number and status of the request that carried them), rejected and failed
ones by this class (:mod:`dbt_cio.engine.sendlog`), with their payload, beside the rejections; under ``log: all``
(or ``--log-payloads``) accepted ones too, right after the ledger rows that acknowledge them.

Items are made one of two ways (:mod:`dbt_cio.engine.render` says which): by the warehouse, which renders each
page of the diff into JSON bytes sent as they are (the sender's raw path; flagged rows go through the Python
mapper, see :mod:`dbt_cio.engine.pages`), or by the Python mapper from every row. Both send the same bytes and
record the same rejections and sync log; only the rows Customer.io refused are read again, by seq, for them.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Any

from dbt_cio.contract.model import Sync
from dbt_cio.customerio.client import CustomerIOClient
from dbt_cio.customerio.operations import Operation, RawAnswer, Refusal
from dbt_cio.customerio.sender import Answer, Sender
from dbt_cio.engine.block_change import note_block_change
from dbt_cio.engine.collections import replace_collection
from dbt_cio.engine.context import SyncContext
from dbt_cio.engine.dry_run import preview
from dbt_cio.engine.guardrails import abort_message, breaches
from dbt_cio.engine.observer import SyncProgress
from dbt_cio.engine.pages import ahead, in_parallel, read_again, split, split_members
from dbt_cio.engine.phases import COMPILE, EXECUTE, timed
from dbt_cio.engine.rejections import RejectionTally
from dbt_cio.engine.render import page_readers, python_casts, rendered_plan, renders
from dbt_cio.engine.results import SyncResult
from dbt_cio.engine.segments import resolve_segment
from dbt_cio.engine.sendlog import SendLog
from dbt_cio.errors import DbtCioError, SyncStopped, WarehouseError
from dbt_cio.payloads.mappers import Mapper, RowRejected, mapper_for
from dbt_cio.payloads.rendered import RenderedPage, RenderPlan
from dbt_cio.warehouse.changes import DiffSummary, RowChange
from dbt_cio.warehouse.ledger import Acknowledged
from dbt_cio.warehouse.session import WarehouseSession
from dbt_cio.warehouse.synclog import LogEntry

__all__ = ["COMMIT_EVERY", "COMMIT_SECONDS", "PAGE_SIZE", "SyncRun"]

# A commit costs the warehouse a few statements whatever its size; acknowledged rows not yet committed
# when the process dies are sent again by the next run (harmless: every operation is idempotent).
COMMIT_EVERY = 50_000  # acknowledged rows per state commit (on a first sync: a quarter of the rows, if more)
COMMIT_SECONDS = 2.0  # ...or this often, whichever comes first (and never while a commit is in flight)
PAGE_SIZE = 10_000  # diff rows read per page
REJECTIONS_EVERY = 1_000


class SyncRun:
    """Runs one :class:`Sync` once. ``connect()`` gives the Customer.io client (no ``connect``: nothing is sent):
    it connects while the warehouse computes the diff (importing aiohttp, a round trip to Customer.io).

    The run's row in the ``runs`` table is the caller's (``result.run_id``): it is written however the run
    ends, also when it fails before reaching this class.
    """

    def __init__(
        self,
        sync: Sync,
        ctx: SyncContext,
        connect: Callable[[], Awaitable[CustomerIOClient]] | None,
        result: SyncResult,
    ):
        self.sync = sync
        self.ctx = ctx
        self._connect = connect
        self._connecting: asyncio.Future[CustomerIOClient] | None = None
        self.result = result
        self._acks: list[Acknowledged] = []  # acknowledged diff rows per request, until committed
        self._acked = 0  # how many rows _acks holds
        self._rejections = RejectionTally(sync.key_columns)
        self._log = SendLog(sync, "all" if sync.log == "errors" and ctx.options.log_payloads else sync.log)
        self._commit_every = COMMIT_EVERY
        self._previous_run: str | None = None  # the run whose rejections the consecutive counts continue
        self._last_commit = time.monotonic()
        self._commit: asyncio.Future[None] | None = None  # the state commit in flight
        self._diff: str | None = None  # where this run's diff is read (a table, or a query for a dry run)

    async def run(self) -> None:
        try:
            await self._run()
        finally:  # a run that failed before it needed the client still waits for the connection it started
            with suppress(DbtCioError):
                await self._client()

    async def _run(self) -> None:
        sync, ctx = self.sync, self.ctx
        session = ctx.session
        if ctx.options.dry_run:  # reads only: no lock (it would be written), nothing committed
            await self._diff_and_send()
            return
        lock = ctx.state.locks.hold(sync.name, self.result.run_id)
        await session.call(lock.__enter__)
        try:
            if ctx.options.full_refresh:
                await session.call(ctx.state.store.forget, sync.name)
            await self._diff_and_send()
        finally:
            await session.call(lock.__exit__, None, None, None)

    async def _diff_and_send(self) -> None:
        sync, ctx = self.sync, self.ctx
        store = ctx.state.store
        if self._connect is not None:  # runs once the diff is handed to the warehouse thread
            self._connecting = asyncio.ensure_future(self._connect())
        with timed(self.result, COMPILE, ctx.observer, "computing the diff"):
            summary = await ctx.session.call(lambda: store.compute_diff(sync, dry_run=ctx.options.dry_run))
        self._diff = summary.table
        self.result.added, self.result.changed = summary.added, summary.changed
        self.result.removed = summary.removed
        client = await self._client()  # connected meanwhile; refused credentials fail the run here
        found = [] if ctx.options.ignore_thresholds else breaches(sync, summary)
        if found:
            self.result.status = "aborted"
            self.result.message = abort_message(sync, found, dry_run=ctx.options.dry_run)
            if ctx.options.dry_run:
                await self._samples(client)
            return
        await note_block_change(sync, ctx)
        if ctx.options.dry_run or client is None:
            await self._dry_run(client)
            return
        collecting = gc.isenabled()
        gc.disable()  # sending makes many short-lived objects and no cycles worth a collection's time
        try:
            with timed(self.result, EXECUTE):
                await self._send(summary, client)
        finally:
            if collecting:
                gc.enable()

    async def _send(self, summary: DiffSummary, client: CustomerIOClient) -> None:
        """Send the diff; set the result's status, counts and message however it ends."""
        ctx, sync, result = self.ctx, self.sync, self.result
        if result.run_id is not None:
            self._previous_run = await ctx.session.call(
                ctx.state.records.previous_run, sync.name, result.run_id
            )
        before = _counters(client)
        error: str | None = None
        if summary.synced == 0:  # a first sync: fewer, larger commits (each costs a few statements)
            self._commit_every = max(COMMIT_EVERY, summary.total // 4)
        try:
            if summary.null_keys:
                cols = ", ".join(sync.key_columns)
                reason = f"{summary.null_keys} row(s) have a null key ({cols}) and were not sent"
                self._rejections.add("<null>", reason, sync.key_columns[0], count=summary.null_keys)
                result.rejected += summary.null_keys
            if sync.type == "collection":
                await replace_collection(sync, summary, ctx, client, result)
            else:
                await self._send_rows(summary, client)
        except DbtCioError as exc:
            error = str(exc)
            raise
        finally:
            with ctx.observer.phase("committing", sync.name):
                try:
                    await self._flush(force=True)
                finally:
                    # Acknowledged rows become the state (what was committed to the ledger is safe even if
                    # this fails: the next run folds it before anything else), and the log of their operations.
                    await ctx.session.call(ctx.state.store.fold, sync, log=self._log.policy == "errors")
                    await self._prune_log()
            after = _counters(client)  # every request of this sync: Track and App API alike
            result.requests, result.retries, result.throttled = (a - b for a, b in zip(after, before))
            self._conclude(error)

    def _conclude(self, error: str | None) -> None:
        """The result's status and message, from how the sending ended and what was rejected."""
        result, sync = self.result, self.sync
        if self._rejections.total:
            result.reasons = self._rejections.top()
            if result.run_id is not None:
                result.rejections_sql = self.ctx.state.records.rejections_sql(result.run_id)
        if error:
            result.status, result.message = "error", error
        elif result.rejected and sync.on_rejections == "warn":
            result.status = "warn"
            result.message = f"{self._rejections.summary()} (on_rejections: warn, so the run goes on)"
        elif result.rejected:
            result.status, result.message = "rejected", self._rejections.summary()
        else:
            result.status = "success"

    # -- rows ----------------------------------------------------------------------------------------------
    async def _send_rows(self, summary: DiffSummary, client: CustomerIOClient) -> None:
        sync = self.sync
        total = summary.total
        if total == 0:
            return
        segment_id = None
        if sync.type == "segment":
            segment_id = await resolve_segment(sync, client, self.ctx)
            assert segment_id is not None  # created when missing
        now = int(time.time())
        self._log.segment_id = segment_id
        self._log.mapper = mapper = mapper_for(sync, now=now, segment_id=segment_id)
        plan = (
            await rendered_plan(sync, self.ctx, now=now)
            if renders(sync, self.ctx, self._log.policy)
            else None
        )
        progress = self.ctx.observer.start_sync(sync.name, total)
        if plan is not None:
            await self._send_rendered(plan, mapper, client, progress)
        else:
            await self._send_mapped(mapper, client, progress)
        progress.finish()
        # Asked to stop: the caller commits what was acknowledged, then records the sync as stopped.
        if self.ctx.stop.is_set():
            raise SyncStopped(
                f"stopped when asked to (SIGTERM) after {self.result.accepted} of {total} row(s) were "
                "acknowledged and committed; the next run sends the rest"
            )

    async def _send_mapped(self, mapper: Mapper, client: CustomerIOClient, progress: SyncProgress) -> None:
        """Every row through the Python mapper, its operations through the sender."""
        sender: Sender[RowChange] = Sender(client)
        stopping = self.ctx.stop.is_set

        async def operations() -> AsyncIterator[Operation[RowChange]]:
            async for page in self._pages():
                done: list[int] = []  # rows that need no operation
                rejected = 0
                for change in page:
                    if stopping():  # asked to stop: produce no more; what is in flight is still acknowledged
                        return
                    try:  # the change is its own ref: seq to commit, key to report
                        ops = mapper(change, change)
                    except RowRejected as exc:
                        self._reject(change, exc.reason, exc.field)
                        self._log.failure(change, "rejected", exc.reason, exc.field, with_payload=False)
                        rejected += 1
                        continue
                    if not ops:  # nothing to send for this change: it is done
                        done.append(change.seq)
                        continue
                    for op in ops:
                        yield op
                if done:
                    self._ack(Acknowledged(done))
                if done or rejected:
                    progress.advance(accepted=len(done), rejected=rejected)
                await self._flush()

        async for answer in sender.send_chunks(operations()):
            accepted = self._on_answer(answer)
            progress.advance(accepted=accepted, rejected=len(answer) - accepted)
            await self._flush()

    async def _send_rendered(
        self, plan: RenderPlan, mapper: Mapper, client: CustomerIOClient, progress: SyncProgress
    ) -> None:
        """Every page rendered by the warehouse, sent as bytes (batch items, or a segment sync's ids); flagged
        rows through the mapper."""
        sender: Sender[RowChange] = Sender(client)
        store, diff, segment = self.ctx.state.store, self._diff, self._log.segment_id
        members = segment is not None
        id_type = self.sync.identifier.type if self.sync.identifier else "id"  # a segment's people

        def read(session: WarehouseSession, number: int) -> RenderedPage | None:
            rows = store.read_page(self.sync, plan.page_sql, number, PAGE_SIZE, diff, session)
            return plan.decode(rows) if rows else None

        async def blocks(sessions: list[WarehouseSession]) -> AsyncIterator[Any]:  # RawItems or RawMembers
            async for page in in_parallel(sessions, read):
                if self.ctx.stop.is_set():  # asked to stop: what is in flight is still acknowledged
                    return
                part = split_members(page, mapper) if members else split(page, mapper)
                for change, reason, field in part.rejected:
                    self._reject(change, reason, field)
                    self._log.failure(change, "rejected", reason, field, with_payload=False)
                if part.refused:  # by the sender's checks: as the mapped path's local rejections
                    refusals = [Refusal(change.seq, reason, field) for change, reason, field in part.refused]
                    known = {change.seq: change for change, _, _ in part.refused}
                    await self._on_raw_answer(RawAnswer([], refusals), plan, known)
                if part.done:
                    self._ack(Acknowledged(part.done))
                progress.advance(accepted=len(part.done), rejected=len(part.rejected) + len(part.refused))
                await self._flush()
                if part.block.seqs:
                    yield part.block

        with self.ctx.session.readers(page_readers(self.ctx)) as sessions:
            async for answer in (
                sender.send_members_raw(segment, id_type, blocks(sessions))
                if segment is not None
                else sender.send_raw(blocks(sessions))
            ):
                accepted = await self._on_raw_answer(answer, plan)
                progress.advance(accepted=accepted, rejected=len(answer) - accepted)
                await self._flush()

    async def _pages(self) -> AsyncIterator[list[RowChange]]:
        """The diff a page at a time, read as :func:`python_casts` says; the next page read during this one."""
        store, casts = self.ctx.state.store, await python_casts(self.sync, self.ctx)
        async for page in ahead(
            self.ctx.session, lambda: store.iter_changes(self.sync, PAGE_SIZE, self._diff, casts)
        ):
            yield page

    def _on_answer(self, answer: Answer[RowChange]) -> int:
        """Take one request's results (or a run of local rejections); return how many were accepted."""
        seqs: list[int] = []
        for result in answer:
            if result.accepted:
                seqs.append(result.ref.seq)
            else:
                reason = result.reason or "rejected by Customer.io"
                self._reject(result.ref, reason, result.field)
                outcome = "failed" if result.retryable else "rejected"
                self._log.failure(
                    result.ref, outcome, reason, result.field, request=answer.request, status=answer.status
                )
        if seqs:
            self._ack(Acknowledged(seqs, answer.request, answer.status))
            if self._log.policy == "all":
                self._log.accepted += [
                    self._log.entry(result.ref, "accepted", request=answer.request, status=answer.status)
                    for result in answer
                    if result.accepted
                ]
        self.result.accepted += len(seqs)
        self.result.sent += len(answer)
        return len(seqs)

    async def _on_raw_answer(
        self, answer: RawAnswer, plan: RenderPlan, known: dict[int, RowChange] | None = None
    ) -> int:
        """:meth:`_on_answer` for the raw path: refused rows are read again by seq (their keys, payloads)."""
        if answer.refused:
            changes = dict(known or {})
            missing = [r.seq for r in answer.refused if r.seq not in changes]
            if missing:
                changes.update(await read_again(self.ctx.session, plan, self._diff or "", missing))
            for refusal in answer.refused:
                change, reason = changes[refusal.seq], refusal.reason or "rejected by Customer.io"
                self._reject(change, reason, refusal.field)
                outcome = "failed" if refusal.retryable else "rejected"
                self._log.failure(
                    change, outcome, reason, refusal.field, request=answer.request, status=answer.status
                )
        if answer.accepted:
            self._ack(Acknowledged(answer.accepted, answer.request, answer.status))
        self.result.accepted += len(answer.accepted)
        self.result.sent += len(answer)
        return len(answer.accepted)

    def _ack(self, acknowledged: Acknowledged) -> None:
        self._acks.append(acknowledged)
        self._acked += len(acknowledged.seqs)

    def _reject(self, change: RowChange, reason: str, field: str | None) -> None:
        self._rejections.add(change.key, reason, field)
        self.result.rejected += 1

    def _commit_now(self, acks: Sequence[Acknowledged], logged: Sequence[LogEntry]) -> None:
        """One commit, on the warehouse thread: the ledger rows, then the log rows written with them."""
        state = self.ctx.state
        state.store.commit(self.sync, acks, self.result.run_id)
        state.log.write(self.sync.name, self.result.run_id, logged)

    async def _prune_log(self) -> None:
        """Remove the sync log's rows past the sync's retention; a failure is a note, not the sync's."""
        ctx, sync = self.ctx, self.sync
        try:
            await ctx.session.call(ctx.state.log.prune, sync.name, sync.log_retention_days)
        except WarehouseError as exc:
            ctx.observer.note(f"sync '{sync.name}': old sync log rows could not be removed: {exc}")

    async def _flush(self, force: bool = False) -> None:
        """Commit acknowledged rows when due (in the background, never while a commit is in flight), record
        rejections. ``force`` commits whatever is left and waits for it."""
        ctx = self.ctx
        due = (
            force
            or self._acked >= self._commit_every
            or time.monotonic() - self._last_commit >= COMMIT_SECONDS
        )
        if due and self._acks and (force or self._commit is None or self._commit.done()):
            await (
                self._committed()
            )  # the previous one: done (or, when forced, waited for); its failure raised
            acks, self._acks, self._acked = self._acks, [], 0
            logged = self._log.take_accepted()
            self._commit = asyncio.ensure_future(ctx.session.call(self._commit_now, acks, logged))
            self._last_commit = time.monotonic()
        pending = len(self._rejections) + len(self._log.failures)
        if pending and (force or pending >= REJECTIONS_EVERY or due):
            await ctx.session.call(
                ctx.state.records.record_rejections,
                self.sync.name,
                self.result.run_id,
                self._rejections.take(),
                self._previous_run,
            )
            logged = self._log.take_failures()
            await ctx.session.call(ctx.state.log.write, self.sync.name, self.result.run_id, logged)
        if force:
            await self._committed()

    async def _committed(self) -> None:
        """Wait for the commit in flight, if any (its failure is raised here)."""
        commit = self._commit
        if commit is not None:
            try:
                await commit
            finally:
                if self._commit is commit:
                    self._commit = None

    # -- dry run -----------------------------------------------------------------------------------------
    async def _dry_run(self, client: CustomerIOClient | None) -> None:
        result = self.result
        result.status = "dry-run"
        if self.ctx.options.full_refresh:
            result.message = (
                "with --full-refresh every row of the model would be sent again; the counts "
                "above are the changes since the last sync"
            )
        await self._samples(client)

    async def _samples(self, client: CustomerIOClient | None) -> None:
        """What the diff would send (see :mod:`dbt_cio.engine.dry_run`)."""
        await preview(self.sync, self.ctx, client, self.result, self._pages)

    async def _client(self) -> CustomerIOClient | None:
        return None if self._connecting is None else await self._connecting


def _counters(client: CustomerIOClient) -> tuple[int, int, int]:
    stats = client.stats
    return stats.requests, stats.retries, stats.throttled
