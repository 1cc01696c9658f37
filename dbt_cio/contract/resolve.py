"""Find ``meta.customerio`` blocks in manifest nodes, check them against the project, resolve each into a :class:`Sync`.

Checking runs in three steps, and every problem of every model is collected before anything is raised:
steps 1 and 2 (shape and schema) are :func:`dbt_cio.contract.schema.schema_problems`; step 3, here, is
**project**: what a schema cannot see — every named column exists in the model (case-insensitively), sync
names are unique across the project, attribute names fit Customer.io's 150 bytes, and no attribute clashes
with what the sync sets itself.

The attribute clash rule, kept simple on purpose: only ``type: person`` sets attributes of its own.
A person attribute may not be named ``_update`` (dbt-cio sets it for ``mode: update``) or ``cio_id``
(Customer.io assigns it), and an attribute named like the identifier type (``id`` for ``type: id``,
``email`` for ``type: email``) must be fed by the identifier column itself — any other column would
fight the identifier. So ``email: email`` beside ``identifier: customer_id`` is fine, and so is an ``id``
attribute on a sync identified by email (that is how a person's id is set). Event data, object,
relationship, device and collection attributes are free-form.

Default attributes are every column of the model (as the warehouse or manifest spells it, which also
becomes the attribute name) except the sync's key columns and the columns used for another role, minus
``exclude``. Segment syncs send no attributes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbt_cio.contract.blocks import ROOT_PATH, claim_names, documented_columns, raw_value, split_blocks
from dbt_cio.contract.model import (
    DEFAULT_LOG_RETENTION_DAYS,
    DEFAULT_MAX_REMOVED,
    Identifier,
    Limit,
    NamedRef,
    Sync,
)
from dbt_cio.contract.schema import schema_problems, show
from dbt_cio.customerio.credentials import DEFAULT_WORKSPACE
from dbt_cio.customerio.limits import MAX_ATTRIBUTE_NAME_BYTES, MAX_EVENT_NAME_BYTES
from dbt_cio.errors import ConfigError, ConfigProblem

__all__ = [
    "MODE_DEFAULTS",
    "ROLE_KEYS",
    "Resolution",
    "Unbuilt",
    "load_syncs",
    "resolve_syncs",
]


# Columns each type uses for a role other than "attribute": never part of the default attributes.
ROLE_KEYS: Mapping[str, tuple[str, ...]] = {
    "person": ("identifier",),
    "event": ("identifier", "event_id", "name_column", "anonymous_id", "timestamp"),
    "object": ("object_id",),
    "relationship": ("identifier", "object_id"),
    "segment": ("identifier",),
    "device": ("identifier", "token", "platform", "last_used"),
    "collection": (),
}
# (mode, on_delete) defaults per type; None where the key does not apply.
MODE_DEFAULTS: Mapping[str, tuple[str | None, str | None]] = {
    "person": ("upsert", "nothing"),
    "event": (None, None),
    "object": (None, "nothing"),
    "relationship": ("upsert", None),
    "segment": ("add", None),
    "device": (None, "nothing"),
    "collection": ("replace", None),
}
PERSON_RESERVED = {
    "_update": "dbt-cio sets it itself for mode: update",
    "cio_id": "Customer.io assigns it",
}

# --------------------------------------------------------------------------------------------- nodes


class _Columns:
    """A model's columns, looked up exactly first, then case-insensitively (warehouses fold case)."""

    def __init__(self, names: Sequence[str]):
        self.names = tuple(names)
        self._folded: dict[str, str] = {}
        for name in self.names:
            self._folded.setdefault(name.casefold(), name)

    def find(self, name: str) -> str | None:
        return name if name in self.names else self._folded.get(name.casefold())

    def listing(self) -> str:
        return ", ".join(self.names) if self.names else "(none)"


# --------------------------------------------------------------------------------------------- resolution


class _Resolver:
    """Step 3 for one valid block: look up its columns, apply defaults, build the :class:`Sync`."""

    def __init__(self, node: Mapping[str, Any], block: Mapping[str, Any], path: str, columns: _Columns):
        self.node = node
        self.model = str(node.get("name"))
        self.block = block
        self.path = path
        self.columns = columns
        self.problems: list[tuple[str, str]] = []

    def add(self, where: str, message: str) -> None:
        """Record a problem at ``where``, a path relative to the block."""
        self.problems.append((f"{self.path}.{where}", message))

    def column(self, name: str, where: str) -> str | None:
        found = self.columns.find(name)
        if found is None:
            self.add(
                where,
                f"column {name!r} does not exist in model {self.model}; "
                f"available columns: {self.columns.listing()}",
            )
        return found

    def optional_column(self, key: str) -> str | None:
        name = self.block.get(key)
        return None if name is None else self.column(name, key)

    def identifier(self) -> Identifier | None:
        raw = self.block.get("identifier")
        if raw is None:
            return None
        if isinstance(raw, str):
            col = self.column(raw, "identifier")
            return Identifier(column=col) if col else None
        col = self.column(raw["column"], "identifier.column")
        return Identifier(column=col, type=raw.get("type", "id")) if col else None

    def attributes(self, role_columns: Sequence[str]) -> dict[str, str]:
        block, sync_type = self.block, self.block["type"]
        if sync_type == "segment":
            return {}
        if "attributes" in block:
            attributes = {}
            for attr, col in block["attributes"].items():
                found = self.column(col, f"attributes.{attr}")
                if found:
                    attributes[attr] = found
                self.check_attribute_name(attr, f"attributes.{attr}", default=False)
            return attributes
        excluded = set()
        for i, col in enumerate(block.get("exclude", [])):
            found = self.column(col, f"exclude[{i}]")
            if found:
                excluded.add(found)
        roles = set(role_columns)
        attributes = {c: c for c in self.columns.names if c not in roles and c not in excluded}
        for attr in attributes:
            self.check_attribute_name(attr, "attributes", default=True)
        return attributes

    def check_attribute_name(self, attr: str, where: str, *, default: bool) -> None:
        size = len(attr.encode("utf-8"))
        # Longer than 150 characters is already reported by the schema; here only the byte limit.
        if size > MAX_ATTRIBUTE_NAME_BYTES and (default or len(attr) <= MAX_ATTRIBUTE_NAME_BYTES):
            fix = (
                "add it to exclude or map it under a shorter name in attributes"
                if default
                else "use a shorter name"
            )
            self.add(
                where,
                f"attribute name {show(attr)} is {size} bytes; Customer.io allows at most "
                f"{MAX_ATTRIBUTE_NAME_BYTES}: {fix}",
            )

    def check_person_attributes(self, attributes: Mapping[str, str], ident: Identifier | None) -> None:
        default = "attributes" not in self.block
        for attr, col in attributes.items():
            where = "attributes" if default else f"attributes.{attr}"
            source = f"column {col!r} would become attribute {attr!r}" if default else f"found {attr!r}"
            fix = (
                "add the column to exclude or map it under another name in attributes"
                if default
                else "remove it or use another attribute name"
            )
            if attr in PERSON_RESERVED:
                self.add(where, f"{source}, which a person sync may not set ({PERSON_RESERVED[attr]}): {fix}")
            elif ident is not None and attr == ident.type and col != ident.column:
                self.add(
                    where,
                    f"{source}, fed by column {col!r}, but the sync sets {attr} itself from "
                    f"identifier column {ident.column!r}: {fix}",
                )

    def resolve(self, sync_name: str) -> Sync | None:
        block, sync_type = self.block, self.block["type"]
        ident = self.identifier()
        roles = {key: self.optional_column(key) for key in ROLE_KEYS[sync_type] if key != "identifier"}
        role_columns = [c for c in roles.values() if c] + ([ident.column] if ident else [])
        attributes = self.attributes(role_columns)
        if sync_type == "person":
            self.check_person_attributes(attributes, ident)
        if sync_type == "event" and "name" in block:
            size = len(block["name"].encode("utf-8"))
            if size > MAX_EVENT_NAME_BYTES:
                self.add(
                    "name",
                    f"found an event name of {size} bytes; Customer.io allows at most {MAX_EVENT_NAME_BYTES}",
                )
        if self.problems:
            return None
        defaults = MODE_DEFAULTS[sync_type]
        sync = Sync(
            name=sync_name,
            model=self.model,
            unique_id=str(self.node.get("unique_id")),
            relation=str(self.node.get("relation_name")),
            type=sync_type,
            columns=self.columns.names,
            workspace=block.get("workspace", DEFAULT_WORKSPACE),
            identifier=ident,
            attributes=attributes,
            mode=block.get("mode", defaults[0]),
            on_delete=block.get("on_delete", defaults[1]),
            event_type=block.get("event_type", "track") if sync_type == "event" else None,
            event_name=block.get("name") if sync_type == "event" else None,
            name_column=roles.get("name_column"),
            event_id=roles.get("event_id"),
            anonymous_id=roles.get("anonymous_id"),
            timestamp=roles.get("timestamp"),
            object_type_id=block.get("object_type_id"),
            object_id=roles.get("object_id"),
            segment=self.named_ref("segment") if sync_type == "segment" else None,
            collection=self.named_ref("collection") if sync_type == "collection" else None,
            token=roles.get("token"),
            platform=roles.get("platform"),
            last_used=roles.get("last_used"),
            max_added=self.limit("max_added"),
            max_changed=self.limit("max_changed"),
            max_removed=self.limit("max_removed"),
            on_rejections=block.get("on_rejections", "fail"),
            log=block.get("log", "errors"),
            log_retention_days=int(block.get("log_retention_days", DEFAULT_LOG_RETENTION_DAYS)),
        )
        if sync.max_removed is None and sync.removes:
            sync = dataclasses.replace(sync, max_removed=DEFAULT_MAX_REMOVED)
        return sync

    def limit(self, key: str) -> Limit | None:
        value = self.block.get(key)
        return None if value is None else Limit.parse(value)

    def named_ref(self, key: str) -> NamedRef:
        raw = self.block.get(key) or {"name": self.model}
        return NamedRef(id=raw.get("id"), name=raw.get("name"))


@dataclass(frozen=True)
class Unbuilt:
    """A block whose model is not built and documents no columns: its sync cannot be resolved until it is."""

    sync: str
    model: str
    type: str
    message: str
    unique_id: str = ""
    relation: str | None = None


@dataclass
class Resolution:
    """What :func:`resolve_syncs` found: the syncs, the blocks of unbuilt models, and warnings."""

    syncs: list[Sync] = field(default_factory=list)
    unbuilt: list[Unbuilt] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def resolve_syncs(
    nodes: Iterable[Mapping[str, Any]],
    columns_of: Callable[[Mapping[str, Any]], Sequence[str] | None],
    *,
    others: Iterable[Mapping[str, Any]] = (),
    strict: bool = False,
) -> Resolution:
    """Check every ``meta.customerio`` block of ``nodes`` and resolve each into a :class:`Sync`.

    ``nodes`` are manifest model nodes (JSON dicts); nodes without a block are skipped. A model's columns
    are the built relation's (``columns_of(node)``, None when it is not built); a model that is not built is
    checked against its documented columns, and without any it is listed in :attr:`Resolution.unbuilt`
    (only its own syncs wait for ``dbt run``). A documented column missing from the built relation is a
    warning: ``schema.yml`` often drifts from the model's SQL. ``others`` are the project's other models:
    their sync names are taken too (names must be unique across the project), their problems are not
    reported. Every problem of ``nodes`` is collected first; then :class:`~dbt_cio.errors.ConfigError`
    lists them all. ``strict`` makes an unbuilt model a problem too (``dbt-cio validate``).
    """
    problems: list[ConfigProblem] = []
    resolution = Resolution()
    taken: dict[str, tuple[str, str]] = {}  # casefolded sync name -> (model, block path), across the project
    for node in others:
        value = raw_value(node)
        if value is not None:
            valid = [
                (path, block) for path, block in split_blocks(value, []) if not schema_problems(block, path)
            ]
            claim_names(node, valid, taken, [])

    for node in nodes:
        value = raw_value(node)
        if value is None:
            continue
        found: list[tuple[str, str]] = []
        blocks = split_blocks(value, found)
        valid = [(path, block) for path, block in blocks if not _add(found, schema_problems(block, path))]
        named = claim_names(node, valid, taken, found)
        columns = _model_columns(node, blocks, columns_of, found, resolution.warnings)
        if columns is None and not found:
            model = str(node.get("name"))
            message = (
                f"relation {node.get('relation_name')} does not exist: run `dbt run --select {model}` first"
            )
            if strict:
                found.append((ROOT_PATH, message))
            else:
                resolution.unbuilt += [
                    Unbuilt(
                        name,
                        model,
                        str(block["type"]),
                        message,
                        str(node.get("unique_id") or ""),
                        node.get("relation_name"),
                    )
                    for _p, block, name in named
                ]
        elif columns is not None:
            for path, block, name in named:
                resolver = _Resolver(node, block, path, columns)
                sync = resolver.resolve(name)
                found += resolver.problems
                if sync is not None:
                    resolution.syncs.append(sync)
        problems += [ConfigProblem(model=str(node.get("name")), path=p, message=m) for p, m in found]

    if problems:
        raise ConfigError(problems)
    return resolution


def load_syncs(
    nodes: Iterable[Mapping[str, Any]],
    columns_of: Callable[[Mapping[str, Any]], Sequence[str] | None],
    *,
    others: Iterable[Mapping[str, Any]] = (),
) -> list[Sync]:
    """:func:`resolve_syncs`, strictly: a block whose model is not built (and documents no columns) is a
    problem too, as ``dbt-cio validate`` reports it."""
    return resolve_syncs(nodes, columns_of, others=others, strict=True).syncs


def _add(found: list[tuple[str, str]], more: list[tuple[str, str]]) -> bool:
    """Append ``more`` to ``found``; True when there was anything to add."""
    found += more
    return bool(more)


def _model_columns(
    node: Mapping[str, Any],
    blocks: Sequence[tuple[str, Any]],
    columns_of: Callable[[Mapping[str, Any]], Sequence[str] | None],
    found: list[tuple[str, str]],
    warnings: list[str],
) -> _Columns | None:
    """The model's columns: the built relation's, else the documented ones; None when they cannot be known
    (a problem is recorded, except when the model is simply not built)."""
    if not blocks:
        return None
    model = str(node.get("name"))
    relation = node.get("relation_name")
    if not relation:
        found.append(
            (
                ROOT_PATH,
                (
                    f"model {model} has no relation (is it ephemeral?); a synced model must be "
                    "materialized as a table, view or incremental model"
                ),
            )
        )
        return None
    documented = documented_columns(node)
    columns = columns_of(node)
    if columns is None:
        return _Columns(documented) if documented else None
    built = _Columns(list(columns))
    drifted = [name for name in documented if built.find(name) is None]
    if drifted:
        warnings.append(
            f"model {model}: documented column(s) {', '.join(drifted)} are not in {relation} "
            "(schema.yml differs from the model's SQL); checked against the built table's columns instead"
        )
    return built
