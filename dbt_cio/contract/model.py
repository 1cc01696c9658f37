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

__all__ = [
    "DEFAULT_MAX_REMOVED",
    "SYNC_TYPES",
    "Identifier",
    "Limit",
    "NamedRef",
    "RejectionPolicy",
    "Sync",
    "SyncType",
]

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
RejectionPolicy = Literal["fail", "warn"]
LogPolicy = Literal["errors", "all", "none"]
"""What the sync log keeps (:mod:`dbt_cio.warehouse.synclog`): a row per operation sent, with the payload of
rejected and failed ones (``errors``) or of every one (``all``); or nothing (``none``)."""
DEFAULT_LOG_RETENTION_DAYS = 30
# What does not change what is sent, nor where: renaming a model or moving its schema, and the guardrails.
_NOT_SHAPING = frozenset(
    {
        "name",
        "model",
        "unique_id",
        "relation",
        "columns",
        "max_added",
        "max_changed",
        "max_removed",
        "on_rejections",
        "log",
        "log_retention_days",
    }
)


@dataclass(frozen=True)
class Limit:
    """A row threshold: at most ``count`` rows, or at most ``percent`` % of the rows the sync has synced.

    ``floor`` rows or fewer never break it (the built-in default lets small edits through); a percentage
    does not apply while nothing is synced yet. ``default`` marks the built-in one (not from the block).
    """

    count: int | None = None
    percent: float | None = None
    floor: int = 0
    default: bool = False

    @classmethod
    def parse(cls, value: int | str) -> Limit:
        """A block's value: an integer count, or a percentage such as ``"20%"`` (checked by the schema)."""
        if isinstance(value, str):
            return cls(percent=float(value.rstrip("%")))
        return cls(count=int(value))

    def allowed(self, synced: int) -> int | None:
        """The most rows allowed when ``synced`` rows are synced; None when the limit does not apply."""
        if self.count is not None:
            return max(self.count, self.floor)
        if self.percent is None or synced == 0:
            return None
        return max(int(synced * self.percent / 100), self.floor)

    def __str__(self) -> str:
        return f"{self.count}" if self.count is not None else f"{self.percent:g}%"


DEFAULT_MAX_REMOVED = Limit(percent=20.0, floor=10, default=True)
"""For syncs that remove, clear or delete (see :attr:`Sync.removes`): at most 20% of the synced rows, once
more than 10 rows would be removed."""


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
    # guardrails
    max_added: Limit | None = None
    max_changed: Limit | None = None
    max_removed: Limit | None = None
    on_rejections: RejectionPolicy = "fail"
    # the sync log
    log: LogPolicy = "errors"
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS

    @property
    def removes(self) -> bool:
        """Whether a row leaving the model removes, clears or deletes something in Customer.io."""
        if self.type in ("person", "object"):
            return self.on_delete in ("clear", "delete")
        if self.type == "device":
            return self.on_delete == "delete"
        if self.type in ("relationship", "segment"):
            return self.mode == "mirror"
        return self.type == "collection"  # a replaced collection loses the rows that left the model

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
