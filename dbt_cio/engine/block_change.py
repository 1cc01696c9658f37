"""Whether a sync's ``meta.customerio`` block changed since its last run: a note, never a resend.

Like a dbt incremental model whose logic changed: rows synced before are not sent again by themselves (their
values did not change), so a new mapping or destination reaches them only with ``--full-refresh``. The block's
fingerprint is kept in ``sync_meta`` after each real run.
"""

from __future__ import annotations

from dbt_cio.contract.model import Sync
from dbt_cio.engine.context import SyncContext

__all__ = ["BLOCK_META_KEY", "note_block_change"]

BLOCK_META_KEY = "block_fingerprint"  # sync_meta: the fingerprint of the block the sync last ran with


async def note_block_change(sync: Sync, ctx: SyncContext) -> None:
    """Say so when the block changed since the sync's last run (once), and remember the block of this one."""
    current = sync.fingerprint
    previous = await ctx.session.call(ctx.state.records.get_meta, sync.name, BLOCK_META_KEY)
    if previous is not None and previous != current and not ctx.options.full_refresh:
        ctx.observer.note(
            f"sync '{sync.name}': the meta.customerio block of model '{sync.model}' changed since its last "
            "sync. Rows synced before are sent again only when their values change; to send every row with "
            f"the new block: dbt-cio sync --select {sync.model} --full-refresh"
        )
    if previous != current and not ctx.options.dry_run:
        await ctx.session.call(ctx.state.records.set_meta, sync.name, BLOCK_META_KEY, current)
