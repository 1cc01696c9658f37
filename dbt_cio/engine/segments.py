"""Which manual segment a ``type: segment`` sync writes to.

``segment: {id: N}`` must name an existing *manual* segment (checked through the App API before anything is
sent). ``segment: {name: ...}`` is found by name or created once; its id is remembered in the sync's metadata
in the state schema, so a renamed or duplicated name later does not move the sync to another segment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dbt_cio.contract.model import Sync
from dbt_cio.customerio.client import CustomerIOClient
from dbt_cio.engine.context import SyncContext
from dbt_cio.errors import ConfigError, ConfigProblem

__all__ = ["resolve_segment"]

META_KEY = "segment_id"
MANUAL = "manual"


def _problem(sync: Sync, path: str, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(sync.model, f"meta.customerio.{path}", message)])


def _is_manual(segment: Mapping[str, Any]) -> bool:
    return str(segment.get("type", MANUAL)).lower() == MANUAL


async def resolve_segment(
    sync: Sync, client: CustomerIOClient, ctx: SyncContext, *, create: bool = True
) -> int | None:
    """Return the id of the manual segment this sync writes to, creating it once when named; with
    ``create=False`` (a dry run) nothing is created or remembered, and a segment not there yet is None."""
    session, records = ctx.session, ctx.state.records
    ref = sync.segment
    assert ref is not None
    if ref.id is not None:
        segment = await client.get_segment(ref.id)
        if segment is None:
            raise _problem(
                sync,
                "segment.id",
                f"segment {ref.id} does not exist in workspace '{sync.workspace}': "
                "create a manual segment in Customer.io, or use `segment: {name: ...}` to have one created",
            )
        if not _is_manual(segment):
            raise _problem(
                sync,
                "segment.id",
                f"segment {ref.id} ('{segment.get('name')}') is a data-driven "
                "segment; dbt-cio can only add people to manual segments",
            )
        return int(ref.id)

    remembered = await session.call(records.get_meta, sync.name, META_KEY)
    if remembered:
        segment = await client.get_segment(int(remembered))
        if segment is not None and _is_manual(segment):
            return int(remembered)
    name = ref.name or sync.model
    for segment in await client.list_segments():
        if segment.get("name") == name and _is_manual(segment):
            segment_id = int(segment["id"])
            break
    else:
        if not create:
            return None
        created = await client.create_segment(
            name, f"Managed by dbt-cio (model {sync.model}, sync {sync.name})"
        )
        segment_id = int(created["id"])
    if create:
        await session.call(records.set_meta, sync.name, META_KEY, str(segment_id))
    return segment_id
