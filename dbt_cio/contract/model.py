"""The ``meta.customerio`` contract as Python values: :class:`Sync` and its parts.

A model's block(s) are checked (:mod:`dbt_cio.contract.schema`) and resolved
(:mod:`dbt_cio.contract.resolve`) into one :class:`Sync` per block:
defaults applied, the attribute map made explicit, and the columns the sync reads named. Everything
downstream (warehouse diff, payload mapping, sender) works from a :class:`Sync`, never from raw YAML.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

from dbt_cio.customerio.credentials import DEFAULT_WORKSPACE
from dbt_cio.customerio.operations import IdType

__all__ = ["SYNC_TYPES", "Identifier", "NamedRef", "Sync", "SyncType"]

SyncType = Literal["person", "event", "object", "relationship", "segment", "device", "collection"]
SYNC_TYPES: tuple[SyncType, ...] = (
    "person",
    "event",
    "object",
    "relationship",
    "segment",
    "device",
    "collection",
)
_NOT_SHAPING = frozenset({"name", "model", "unique_id", "relation", "columns"})


@dataclass(frozen=True)
class Identifier:
    """How a row names a person: the column holding the value, and which Customer.io identifier it is."""

    column: str
    type: IdType = "id"


@dataclass(frozen=True)
class NamedRef:
    """A segment or collection, by id or by name (exactly one is set)."""

    id: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class Sync:
    """One resolved ``meta.customerio`` block: what one model's rows become in Customer.io.

    ``columns`` lists every column of the model, in order. ``attributes`` maps a Customer.io attribute
    name to the column that feeds it, with the defaults already applied (every column that is not a key,
    minus ``exclude``). Per-type fields are None when they do not apply.
    """

    name: str
    model: str
    unique_id: str
    relation: str
    type: SyncType
    columns: tuple[str, ...]
    workspace: str = DEFAULT_WORKSPACE
    identifier: Identifier | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    mode: str | None = None
    on_delete: str | None = None
    # event
    event_type: str | None = None
    event_name: str | None = None
    name_column: str | None = None
    event_id: str | None = None
    anonymous_id: str | None = None
    timestamp: str | None = None
    # object and relationship
    object_type_id: str | None = None
    object_id: str | None = None
    # segment and collection
    segment: NamedRef | None = None
    collection: NamedRef | None = None
    # device
    token: str | None = None
    platform: str | None = None
    last_used: str | None = None

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The columns whose values identify a row of this sync (its diff and state key)."""
        ident = self.identifier.column if self.identifier else None
        if self.type in ("person", "segment"):
            assert ident is not None
            return (ident,)
        if self.type == "event":
            assert self.event_id is not None
            return (self.event_id,)
        if self.type == "object":
            assert self.object_id is not None
            return (self.object_id,)
        if self.type == "relationship":
            assert self.object_id is not None and ident is not None
            return (self.object_id, ident)
        if self.type == "device":
            assert self.token is not None and ident is not None
            return (ident, self.token)
        # collection: a row is its whole content; any change replaces the collection
        return self.columns

    @property
    def fingerprint(self) -> str:
        """A digest of everything in the block that shapes what is sent, and where to.

        The model's name and relation are left out (renaming a schema resends nothing); the workspace, the
        mapping, the modes and the destination (segment, collection, object type) are in.
        """
        shaping = {k: v for k, v in asdict(self).items() if k not in _NOT_SHAPING}
        text = json.dumps(shaping, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def value_columns(self) -> tuple[str, ...]:
        """The non-key columns a payload is built from (hashed to detect changes), without repeats."""
        wanted: list[str] = list(self.attributes.values())
        if self.type == "event":
            wanted += [
                c
                for c in (
                    self.identifier.column if self.identifier else None,
                    self.name_column,
                    self.anonymous_id,
                    self.timestamp,
                )
                if c
            ]
        if self.type == "device":
            wanted += [c for c in (self.platform, self.last_used) if c]
        keys = set(self.key_columns)
        seen: set[str] = set()
        out: list[str] = []
        for col in wanted:
            if col not in keys and col not in seen:
                seen.add(col)
                out.append(col)
        return tuple(out)
