"""Where a model's ``meta.customerio`` blocks are, and which sync name each one takes.

A block lives under ``config.meta.customerio`` (dbt >= 1.10 puts model meta there) or ``meta.customerio``;
the value is one block or a list of blocks. Each block names a sync: ``sync_name``, else ``name`` (except
for events, where ``name`` is the event name), else the model's name. Sync names are unique across the
project, compared case-insensitively (they name tables in a warehouse that may fold case).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dbt_cio.contract.model import SYNC_TYPES
from dbt_cio.contract.schema import show

__all__ = [
    "ROOT_PATH",
    "blocks_of",
    "claim_names",
    "documented_columns",
    "has_block",
    "raw_value",
    "split_blocks",
]

ROOT_PATH = "meta.customerio"
# Types where `name` is the sync's name (for events it is the event name).
NAME_NAMES_SYNC = frozenset(SYNC_TYPES) - {"event"}


def blocks_of(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The node's ``meta.customerio`` blocks: ``config.meta`` first (dbt >= 1.10), else ``meta``.

    A single block comes back as a one-item list; no block as ``[]``. Items are returned as found, not
    checked: :func:`load_syncs` reports a malformed value (a scalar comes back as a one-item list so that
    callers still see the model opted in).
    """
    value = raw_value(node)
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    return [value]


def has_block(node: Mapping[str, Any]) -> bool:
    """Whether a manifest node declares a ``meta.customerio`` block (under ``config.meta`` or ``meta``)."""
    return raw_value(node) is not None


def raw_value(node: Mapping[str, Any]) -> Any:
    config_meta = (node.get("config") or {}).get("meta") or {}
    if isinstance(config_meta, Mapping) and config_meta.get("customerio") is not None:
        return config_meta["customerio"]
    meta = node.get("meta") or {}
    return meta.get("customerio") if isinstance(meta, Mapping) else None


def documented_columns(node: Mapping[str, Any]) -> list[str]:
    """Column names from the manifest (a dict keyed by name, or a list of names or dicts)."""
    columns = node.get("columns") or {}
    items = columns.values() if isinstance(columns, Mapping) else columns
    out = []
    for item in items:
        name = item.get("name") if isinstance(item, Mapping) else item
        if isinstance(name, str) and name:
            out.append(name)
    return out


def sync_name(node: Mapping[str, Any], block: Mapping[str, Any]) -> str:
    """``sync_name``, else ``name`` (but not for events: there it is the event name), else the model name."""
    if "sync_name" in block:
        return str(block["sync_name"])
    if block.get("type") in NAME_NAMES_SYNC and "name" in block:
        return str(block["name"])
    return str(node.get("name"))


def split_blocks(value: Any, found: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    """Step 1: one block or a non-empty list of blocks, each with its path."""
    if isinstance(value, Mapping):
        return [(ROOT_PATH, value)]
    if isinstance(value, list):
        if not value:
            found.append((ROOT_PATH, "found an empty list; expected one block or a list of blocks"))
        return [(f"{ROOT_PATH}[{i}]", block) for i, block in enumerate(value)]
    found.append((ROOT_PATH, f"found {show(value)}; expected a mapping (one block) or a list of blocks"))
    return []


def claim_names(
    node: Mapping[str, Any],
    valid: Sequence[tuple[str, Mapping[str, Any]]],
    taken: dict[str, tuple[str, str]],
    found: list[tuple[str, str]],
) -> list[tuple[str, Mapping[str, Any], str]]:
    """Give each valid block its sync name: distinct within the model's list, unique across the project.

    Names are compared case-insensitively (they name state and log rows, which may live in a warehouse
    that folds case). The first model to claim a name keeps it; later ones get the problem.
    """
    model = str(node.get("name"))
    in_model: dict[str, str] = {}
    named = []
    for path, block in valid:
        name = sync_name(node, block)
        folded = name.casefold()
        if folded in in_model:
            message = (
                f"sync name {name!r} is already used by {in_model[folded]} of this model; "
                "blocks in a list need distinct names: set sync_name on each block"
            )
            found.append((path, message))
        elif folded in taken:
            other_model, other_path = taken[folded]
            message = (
                f"sync name {name!r} is already used by model {other_model} ({other_path}); "
                "sync names must be unique across the project: set sync_name on one of them"
            )
            found.append((path, message))
        else:
            in_model[folded] = path
            named.append((path, block, name))
    taken.update({folded: (model, path) for folded, path in in_model.items()})
    return named
