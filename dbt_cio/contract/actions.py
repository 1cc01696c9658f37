"""What a sync does in Customer.io for each kind of change, named as the sync log names it.

The mappers (:mod:`dbt_cio.payloads.mappers`) build the operations; this module names them without building
any (it is part of the contract: what a block's rows become), so the warehouse can write the log rows of acknowledged operations itself (one ``insert ... select``
per run, see :mod:`dbt_cio.warehouse.synclog`) instead of Python writing a row per operation. The names are
the Track API's ``action`` of a batch item (``identify``, ``delete``, ``event``, ``page``, ``screen``,
``add_relationships``, ``delete_relationships``, ``add_device``, ``delete_device``), ``clear`` for an identify
that blanks the synced attributes of a row that left the model, ``segment add`` / ``segment remove`` for a
manual segment's membership, and ``collection replace`` for a collection. A test holds the names against what
the mappers really build.
"""

from __future__ import annotations

from collections.abc import Mapping

from dbt_cio.contract.model import Sync

__all__ = ["COLLECTION_REPLACE", "EVENT_ACTIONS", "actions_for"]

COLLECTION_REPLACE = "collection replace"
EVENT_ACTIONS: Mapping[str, str] = {"track": "event", "page": "page", "screen": "screen"}
"""The Track API action of each ``event_type``."""


def actions_for(sync: Sync) -> Mapping[str, str]:
    """The action of each change kind (``added``, ``changed``, ``removed``) that sends an operation; a kind
    missing from the mapping sends nothing (e.g. a removed row with ``on_delete: nothing``)."""
    kind = sync.type
    if kind in ("person", "object"):
        removed = {"delete": "delete", "clear": "clear"}.get(sync.on_delete or "nothing")
        return _with_removed({"added": "identify", "changed": "identify"}, removed)
    if kind == "event":
        return {"added": EVENT_ACTIONS[sync.event_type or "track"]}
    if kind == "relationship":
        removed = "delete_relationships" if sync.mode == "mirror" else None
        return _with_removed({"added": "add_relationships", "changed": "add_relationships"}, removed)
    if kind == "segment":
        return _with_removed({"added": "segment add"}, "segment remove" if sync.mode == "mirror" else None)
    if kind == "device":
        removed = "delete_device" if sync.on_delete == "delete" else None
        return _with_removed({"added": "add_device", "changed": "add_device"}, removed)
    return {"added": COLLECTION_REPLACE, "changed": COLLECTION_REPLACE, "removed": COLLECTION_REPLACE}


def _with_removed(actions: dict[str, str], removed: str | None) -> dict[str, str]:
    if removed is not None:
        actions["removed"] = removed
    return actions
