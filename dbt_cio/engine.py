"""One sync's run: diff, map, send, commit acknowledged keys, record rejections.

The invariant that makes crashes harmless: a key enters state only after Customer.io acknowledged the
operation built from it (or when the row needs no operation at all). Acknowledged keys are committed in
chunks while sending continues, so a run stopped half-way resumes where it left off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from dbt_cio.changes import RowChange
from dbt_cio.contract import Sync
from dbt_cio.errors import DbtCioError, TerminalError
from dbt_cio.operations import Operation, Result
from dbt_cio.report import Reporter, SyncOutcome

if TYPE_CHECKING:
    from dbt_cio.sync import SyncOptions, WarehouseThread

# A commit costs the warehouse a few statements whatever its size; acknowledged rows not yet committed
# when the process dies are sent again by the next run (harmless: every operation is idempotent).
COMMIT_EVERY = 50_000  # acknowledged rows per state commit
COMMIT_SECONDS = 2.0  # ...or this often, whichever comes first
PAGE_SIZE = 10_000  # diff rows read per page
DRY_RUN_SAMPLES = 3
BLOCK_META_KEY = "block_fingerprint"  # sync_meta: the fingerprint of the block the sync last ran with
REJECTIONS_EVERY = 1_000


class SyncRun:
    """Runs one :class:`Sync` once."""

    def __init__(
        self,
        sync: Sync,
        store: Any,
        wh: WarehouseThread,
        client: Any,
        options: SyncOptions,
        reporter: Reporter,
        outcome: SyncOutcome,
    ):
        self.sync = sync
        self.store = store
        self.wh = wh
        self.client = client
        self.options = options
        self.reporter = reporter
        self.outcome = outcome
        self._acks: list[int] = []  # the seq of each acknowledged diff row, until committed
        self._rejections: list[tuple[str, str, str | None]] = []
        self._last_commit = time.monotonic()
        self._commit: asyncio.Future[None] | None = None  # the state commit in flight

    async def run(self) -> None:
        sync, store, wh = self.sync, self.store, self.wh
        lock = store.lock(sync.name)
        await wh.call(lock.__enter__)
        try:
            if self.options.full_refresh and not self.options.dry_run:
                await wh.call(store.forget, sync.name)
            summary = await wh.call(store.compute_diff, sync)
            self.outcome.added, self.outcome.changed = summary.added, summary.changed
            self.outcome.removed = summary.removed
            await self._check_block()
            if self.options.dry_run:
                await self._dry_run()
                return
            self.outcome.run_id = run_id = await wh.call(store.start_run, sync)
            before = _counters(self.client)
            error: str | None = None
            try:
                for key_sample in _null_key_rejections(sync, summary):
                    self._rejections.append(key_sample)
                if sync.type == "collection":
                    await self._send_collection(summary)
                else:
                    await self._send_rows(summary)
            except TerminalError as exc:
                error = str(exc)
                raise
            except DbtCioError as exc:
                error = str(exc)
                raise
            finally:
                await self._flush(force=True)
                after = _counters(self.client)  # every request of this sync: Track and App API alike
                self.outcome.requests, self.outcome.retries, self.outcome.throttled = (
                    a - b for a, b in zip(after, before)
                )
                self.outcome.status = "error" if error else "rejected" if self.outcome.rejected else "success"
                if error:
                    self.outcome.message = error
                await wh.call(store.finish_run, run_id, outcome=self.outcome, error=error)
        finally:
            await wh.call(lock.__exit__, None, None, None)

    # -- rows --------------------------------------------------------------------------------------------
    async def _send_rows(self, summary: Any) -> None:
        from dbt_cio.payloads import mapper_for

        sync = self.sync
        total = summary.total
        if total == 0:
            return
        segment_id = await self._segment_id() if sync.type == "segment" else None
        mapper = mapper_for(sync, now=int(time.time()), segment_id=segment_id)
        progress = self.reporter.start_sync(sync.name, total)
        sender = self.client.sender()

        async def operations() -> AsyncIterator[Operation]:
            from dbt_cio.payloads import RowRejected

            async for page in self._pages():
                accepted = rejected = 0
                for change in page:
                    try:
                        ops = mapper(
                            change, change
                        )  # the change is its own ref: seq to commit, key to report
                    except RowRejected as exc:
                        self._reject(change, exc.reason, exc.field)
                        rejected += 1
                        continue
                    if not ops:  # nothing to send for this change: it is done
                        self._acks.append(change.seq)
                        accepted += 1
                        continue
                    for op in ops:
                        yield op
                if accepted or rejected:
                    progress.advance(accepted=accepted, rejected=rejected)
                await self._flush()

        async for results in sender.send_chunks(operations()):
            accepted = self._on_results(results)
            progress.advance(accepted=accepted, rejected=len(results) - accepted)
            await self._flush()
        self.reporter.finish_sync(progress)

    async def _pages(self) -> AsyncIterator[list[RowChange]]:
        """The diff a page at a time; the next page is read while the caller works on this one."""
        iterator = await self.wh.call(lambda: iter(self.store.iter_changes(self.sync, page_size=PAGE_SIZE)))
        sentinel: list[RowChange] = []
        pending = asyncio.ensure_future(self.wh.call(next, iterator, sentinel))
        try:
            while True:
                page = await pending
                if page is sentinel:
                    return
                pending = asyncio.ensure_future(self.wh.call(next, iterator, sentinel))
                yield page
        finally:
            if not pending.done():
                pending.cancel()

    def _on_results(self, results: list[Result]) -> int:
        """Take one acknowledgement's results; return how many were accepted."""
        acks = self._acks
        accepted = 0
        for result in results:
            if result.accepted:
                acks.append(result.ref.seq)
                accepted += 1
            else:
                self._reject(result.ref, result.reason or "rejected by Customer.io", result.field)
        self.outcome.accepted += accepted
        self.outcome.sent += len(results)
        return accepted

    def _reject(self, change: RowChange, reason: str, field: str | None) -> None:
        self._rejections.append((change.key, reason, field))
        self.outcome.rejected += 1

    async def _flush(self, force: bool = False) -> None:
        """Commit acknowledged rows when due (in the background, one commit at a time), record rejections.

        ``force`` commits whatever is left and waits for it.
        """
        due = (
            force or len(self._acks) >= COMMIT_EVERY or time.monotonic() - self._last_commit >= COMMIT_SECONDS
        )
        if due and self._acks:
            acks, self._acks = self._acks, []
            await self._committed()
            self._commit = asyncio.ensure_future(self.wh.call(self.store.commit, self.sync, acks))
            self._last_commit = time.monotonic()
        if self._rejections and (force or len(self._rejections) >= REJECTIONS_EVERY or due):
            rejections, self._rejections = self._rejections, []
            await self.wh.call(self.store.record_rejections, self.sync, self.outcome.run_id, rejections)
        if force:
            await self._committed()

    async def _committed(self) -> None:
        """Wait for the commit in flight, if any (its failure is raised here)."""
        commit, self._commit = self._commit, None
        if commit is not None:
            await commit

    # -- the block itself ---------------------------------------------------------------------------------
    async def _check_block(self) -> None:
        """Say so when the sync's ``meta.customerio`` block changed since its last run, once.

        Like a dbt incremental model whose logic changed: rows synced before are not sent again by
        themselves (their values did not change), so a new mapping or destination reaches them only with
        ``--full-refresh``.
        """
        sync, options = self.sync, self.options
        current = sync.fingerprint
        previous = await self.wh.call(self.store.get_meta, sync.name, BLOCK_META_KEY)
        if previous is not None and previous != current and not options.full_refresh:
            self.reporter.note(
                f"sync '{sync.name}': the meta.customerio block of model '{sync.model}' changed since its last "
                "sync. Rows synced before are sent again only when their values change; to send every row with "
                f"the new block: dbt-cio sync --select {sync.model} --full-refresh"
            )
        if previous != current and not options.dry_run:
            await self.wh.call(self.store.set_meta, sync.name, BLOCK_META_KEY, current)

    # -- segments ----------------------------------------------------------------------------------------
    async def _segment_id(self) -> int:
        from dbt_cio.segment import resolve_segment

        return await resolve_segment(self.sync, self.client, self.store, self.wh)

    # -- collections -------------------------------------------------------------------------------------
    async def _send_collection(self, summary: Any) -> None:
        from dbt_cio.collection import replace_collection

        await replace_collection(self, summary)

    # -- dry run -----------------------------------------------------------------------------------------
    async def _dry_run(self) -> None:
        from dbt_cio.payloads import RowRejected, mapper_for

        self.outcome.status = "dry-run"
        if self.options.full_refresh:
            self.outcome.message = (
                "with --full-refresh every row of the model would be sent again; the counts "
                "above are the changes since the last sync"
            )
        if self.sync.type == "collection":
            return
        mapper = mapper_for(self.sync, now=int(time.time()), segment_id=0)
        async for page in self._pages():
            for change in page:
                try:
                    ops = mapper(change, None)
                except RowRejected as exc:
                    self.outcome.samples.append({"key": change.key, "rejected": exc.reason})
                    continue
                for op in ops:
                    self.outcome.samples.append(_describe(op))
                if len(self.outcome.samples) >= DRY_RUN_SAMPLES:
                    return
            return


def _counters(client: Any) -> tuple[int, int, int]:
    stats = client.stats
    return stats.requests, stats.retries, stats.throttled


def _describe(op: Operation) -> dict[str, Any]:
    from dbt_cio.operations import BatchItem

    if isinstance(op, BatchItem):
        return {"POST /api/v2/batch item": dict(op.item)}
    action = "add_customers" if op.add else "remove_customers"
    return {f"POST /api/v1/segments/{op.segment_id}/{action}?id_type={op.id_type}": {"ids": [op.identifier]}}


def _null_key_rejections(sync: Sync, summary: Any) -> list[tuple[str, str, str | None]]:
    count = getattr(summary, "null_keys", 0) or 0
    if not count:
        return []
    cols = ", ".join(sync.key_columns)
    return [("<null>", f"{count} row(s) have a null key ({cols}) and were not sent", sync.key_columns[0])]
