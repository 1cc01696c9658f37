"""Check every ``meta.customerio`` block of a project and resolve each into a :class:`~dbt_cio.contract.Sync`.

The contract lives in ``dbt_cio/schema/customerio.schema.json`` (JSON Schema 2020-12, the file users read).
Checking runs in three steps, and every problem of every model is collected before anything is raised:

1. **Shape** — the value is one block or a non-empty list of blocks, and each block has a known ``type``.
2. **Schema** — the block is validated against the per-type subschema (``$defs/<type>``) chosen by
   ``type``, so an unknown key is reported with the keys allowed *for that type*. jsonschema's own
   messages are replaced by ours (see :func:`_message`): each says what was found and what is allowed.
   A subschema may carry ``x-errors`` (wording per failing keyword) and ``x-hints`` (why a key is not
   allowed); jsonschema ignores both.
3. **Project** — what a schema cannot see: every named column exists in the model (case-insensitively;
   the manifest's documented columns when there are any, else the relation's columns from the
   warehouse), sync names are unique across the project, attribute names fit Customer.io's 150 bytes,
   and no attribute clashes with what the sync sets itself.

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

import difflib
import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dbt_cio.contract import DEFAULT_WORKSPACE, SYNC_TYPES, Identifier, NamedRef, Sync
from dbt_cio.errors import ConfigError, ConfigProblem

__all__ = ["SCHEMA_PATH", "blocks_of", "load_schema", "load_syncs"]

SCHEMA_PATH = Path(__file__).parent / "schema" / "customerio.schema.json"
ROOT_PATH = "meta.customerio"
MAX_ATTRIBUTE_NAME_BYTES = 150
MAX_EVENT_NAME_BYTES = 100

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
# Types where `name` is the sync's name (for events it is the event name).
NAME_NAMES_SYNC = frozenset(SYNC_TYPES) - {"event"}
PERSON_RESERVED = {
    "_update": "dbt-cio sets it itself for mode: update",
    "cio_id": "Customer.io assigns it",
}

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


# --------------------------------------------------------------------------------------------- schema


@functools.cache
def load_schema() -> Mapping[str, Any]:
    """The contract's JSON Schema, as shipped in the package."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator(sync_type: str) -> Any:
    """A validator for one type's subschema (``$defs/<type>``), with the whole file to resolve refs."""
    from jsonschema import Draft202012Validator  # heavy-ish import, kept off the CLI's --help path

    schema = {k: v for k, v in load_schema().items() if k != "oneOf"}
    schema["$ref"] = f"#/$defs/{sync_type}"
    return Draft202012Validator(schema)


def _show(value: Any) -> str:
    """A found value, as a short phrase for a message."""
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a boolean)"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, (int, float)):
        return f"{value} (a number)"
    if value is None:
        return "null (no value)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return repr(value)


def _join_path(base: str, parts: Iterable[Any]) -> str:
    out = base
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _allowed_keys_phrase(schema: Mapping[str, Any]) -> str:
    keys = ", ".join(schema.get("properties", {}))
    title = schema.get("title")
    return f"allowed keys for {title} are: {keys}" if title else f"allowed keys are: {keys}"


def _messages(error: Any, block_path: str) -> list[tuple[str, str]]:
    """Turn one jsonschema error into our (path, message) pairs: what was found, what is allowed."""
    path = _join_path(block_path, error.absolute_path)
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    keyword = error.validator
    value = error.validator_value
    found = error.instance
    custom = schema.get("x-errors", {}).get(keyword)
    if custom:
        return [(path, custom.format(found=_show(found)))]
    if keyword == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        hints = schema.get("x-hints", {})
        out = []
        for key in found:
            if key in allowed:
                continue
            why = f": {hints[key]}" if key in hints else ""
            guess = difflib.get_close_matches(str(key), allowed, n=1)
            mean = f" (did you mean {guess[0]!r}?)" if guess and not why else ""
            out.append(
                (_join_path(path, [key]), f"unknown key {key!r}{why}{mean}; {_allowed_keys_phrase(schema)}")
            )
        return out
    if keyword == "required":
        out = []
        for key in value:
            if key in found:
                continue
            prop = schema.get("properties", {}).get(key, {})
            what = _describe(prop)
            title = schema.get("title")
            where = f"{title} requires it" if title else "it is required"
            out.append((path, f"missing key {key!r}; {where}" + (f" ({what})" if what else "")))
        return out
    if keyword == "type":
        types = value if isinstance(value, list) else [value]
        expected = " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in types)
        if schema.get("minLength") == 1 and "column" in schema.get("description", ""):
            expected = "a column name (a string)"
        return [(path, f"found {_show(found)}; expected {expected}")]
    if keyword in ("enum", "const"):
        allowed = value if keyword == "enum" else [value]
        return [(path, f"found {_show(found)}; allowed: {', '.join(str(a) for a in allowed)}")]
    if keyword == "minLength":
        return [(path, f"found {_show(found)}; expected a non-empty string")]
    if keyword == "maxLength":
        return [(path, f"found {len(found)} characters; at most {value} allowed")]
    if keyword == "minimum":
        return [(path, f"found {_show(found)}; expected at least {value}")]
    if keyword == "uniqueItems":
        return [(path, "found a column listed more than once; list each column once")]
    if keyword == "pattern":
        return [(path, f"found {_show(found)}; expected a value matching {value}")]
    return [(path, error.message)]


def _describe(prop: Mapping[str, Any]) -> str:
    """The first sentence of a property's description, for 'missing key' messages."""
    text = str(prop.get("description", ""))
    first = text.split(". ")[0].rstrip(".")
    return first[:1].lower() + first[1:] if first else ""


def _schema_problems(block: Any, block_path: str) -> list[tuple[str, str]]:
    """Steps 1 and 2 for one block: its shape, its type, then its per-type subschema."""
    if not isinstance(block, Mapping):
        return [(block_path, f"found {_show(block)}; expected a mapping (one sync block)")]
    sync_type = block.get("type")
    if "type" not in block:
        return [(block_path, f"missing key 'type'; allowed: {', '.join(SYNC_TYPES)}")]
    if not isinstance(sync_type, str) or sync_type not in SYNC_TYPES:
        return [(f"{block_path}.type", f"found {_show(sync_type)}; allowed: {', '.join(SYNC_TYPES)}")]
    out: list[tuple[str, str]] = []
    errors = sorted(_validator(sync_type).iter_errors(block), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        for item in _messages(error, block_path):
            if item not in out:
                out.append(item)
    return out


# --------------------------------------------------------------------------------------------- nodes


def blocks_of(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The node's ``meta.customerio`` blocks: ``config.meta`` first (dbt >= 1.10), else ``meta``.

    A single block comes back as a one-item list; no block as ``[]``. Items are returned as found, not
    checked: :func:`load_syncs` reports a malformed value (a scalar comes back as a one-item list so that
    callers still see the model opted in).
    """
    value = _raw_value(node)
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    return [value]


def _raw_value(node: Mapping[str, Any]) -> Any:
    config_meta = (node.get("config") or {}).get("meta") or {}
    if isinstance(config_meta, Mapping) and config_meta.get("customerio") is not None:
        return config_meta["customerio"]
    meta = node.get("meta") or {}
    return meta.get("customerio") if isinstance(meta, Mapping) else None


def _documented_columns(node: Mapping[str, Any]) -> list[str]:
    """Column names from the manifest (a dict keyed by name, or a list of names or dicts)."""
    columns = node.get("columns") or {}
    items = columns.values() if isinstance(columns, Mapping) else columns
    out = []
    for item in items:
        name = item.get("name") if isinstance(item, Mapping) else item
        if isinstance(name, str) and name:
            out.append(name)
    return out


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
                f"attribute name {_show(attr)} is {size} bytes; Customer.io allows at most "
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
        return Sync(
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
        )

    def named_ref(self, key: str) -> NamedRef:
        raw = self.block.get(key) or {"name": self.model}
        return NamedRef(id=raw.get("id"), name=raw.get("name"))


def _sync_name(node: Mapping[str, Any], block: Mapping[str, Any]) -> str:
    """``sync_name``, else ``name`` (but not for events: there it is the event name), else the model name."""
    if "sync_name" in block:
        return str(block["sync_name"])
    if block.get("type") in NAME_NAMES_SYNC and "name" in block:
        return str(block["name"])
    return str(node.get("name"))


def load_syncs(
    nodes: Iterable[Mapping[str, Any]],
    columns_of: Callable[[Mapping[str, Any]], Sequence[str] | None],
) -> list[Sync]:
    """Check every ``meta.customerio`` block of ``nodes`` and resolve each into a :class:`Sync`.

    ``nodes`` are manifest model nodes (JSON dicts); nodes without a block are skipped. A model's columns
    are its documented columns in the manifest when it has any, else ``columns_of(node)``: the relation's
    columns from the warehouse, or None when the relation does not exist. Every problem of every node is
    collected first; then :class:`~dbt_cio.errors.ConfigError` lists them all.
    """
    problems: list[ConfigProblem] = []
    syncs: list[Sync] = []
    taken: dict[str, tuple[str, str]] = {}  # casefolded sync name -> (model, block path), across the project

    for node in nodes:
        value = _raw_value(node)
        if value is None:
            continue
        found: list[tuple[str, str]] = []
        blocks = _split_blocks(value, found)
        valid = [(path, block) for path, block in blocks if not _add(found, _schema_problems(block, path))]
        named = _claim_names(node, valid, taken, found)
        columns = _model_columns(node, blocks, columns_of, found)
        if columns is not None:
            for path, block, name in named:
                resolver = _Resolver(node, block, path, columns)
                sync = resolver.resolve(name)
                found += resolver.problems
                if sync is not None:
                    syncs.append(sync)
        problems += [ConfigProblem(model=str(node.get("name")), path=p, message=m) for p, m in found]

    if problems:
        raise ConfigError(problems)
    return syncs


def _add(found: list[tuple[str, str]], more: list[tuple[str, str]]) -> bool:
    """Append ``more`` to ``found``; True when there was anything to add."""
    found += more
    return bool(more)


def _split_blocks(value: Any, found: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    """Step 1: one block or a non-empty list of blocks, each with its path."""
    if isinstance(value, Mapping):
        return [(ROOT_PATH, value)]
    if isinstance(value, list):
        if not value:
            found.append((ROOT_PATH, "found an empty list; expected one block or a list of blocks"))
        return [(f"{ROOT_PATH}[{i}]", block) for i, block in enumerate(value)]
    found.append((ROOT_PATH, f"found {_show(value)}; expected a mapping (one block) or a list of blocks"))
    return []


def _claim_names(
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
        name = _sync_name(node, block)
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


def _model_columns(
    node: Mapping[str, Any],
    blocks: Sequence[tuple[str, Any]],
    columns_of: Callable[[Mapping[str, Any]], Sequence[str] | None],
    found: list[tuple[str, str]],
) -> _Columns | None:
    """The model's columns, or None (with a problem recorded) when they cannot be known."""
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
    documented = _documented_columns(node)
    if documented:
        return _Columns(documented)
    columns = columns_of(node)
    if columns is None:
        found.append((ROOT_PATH, f"relation {relation} does not exist: run `dbt run --select {model}` first"))
        return None
    return _Columns(list(columns))
