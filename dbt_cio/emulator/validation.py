"""Checking request bodies the way Customer.io does: its OpenAPI document plus its documented data limits.

Two layers, because the emulator must be both strict (tests) and fast (benchmarks pushing a million people):

1. :func:`check_item` — hand-written structural checks and the documented limits (ids 150 bytes, attribute
   names 150 bytes, values 1000 bytes, at most 300 attributes, event name 100 bytes, event data 100,000
   bytes, item 32 KB). Always on; a few microseconds per item.
2. :class:`ItemSchemas` — the item validated against Customer.io's own published schema for its
   ``(type, action)``, compiled once. Picking the schema by ``(type, action)`` ourselves (the document's
   ``discriminator``, which jsonschema ignores) is what makes this affordable: one ``allOf`` instead of an
   ``anyOf`` over seventeen alternatives, and an error message about the right alternative.

Every problem is an :class:`ItemError` with the fields of a 207 answer: ``reason``, ``field``, ``message``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

OPENAPI_FILE = "track-api.openapi.json"

#: Limits from Customer.io's documentation (API-NOTES.md, "Limits on data"). KB means 1000 bytes here:
#: the emulator errs on the strict side, so a client that passes it also passes Customer.io.
BATCH_MAX_BYTES = 500_000
ITEM_MAX_BYTES = 32_000
ID_MAX_BYTES = 150
ATTRIBUTE_NAME_MAX_BYTES = 150
ATTRIBUTE_VALUE_MAX_BYTES = 1000
MAX_ATTRIBUTES = 300
EVENT_NAME_MAX_BYTES = 100
EVENT_DATA_MAX_BYTES = 100_000
COLLECTION_MAX_BYTES = 10_000_000
COLLECTION_ROW_MAX_BYTES = 10_000
SEGMENT_IDS_MAX = 1000

PERSON_ACTIONS = frozenset(
    {
        "identify",
        "delete",
        "event",
        "page",
        "screen",
        "add_relationships",
        "delete_relationships",
        "add_device",
        "delete_device",
        "merge",
        "suppress",
        "unsuppress",
    }
)
OBJECT_ACTIONS = frozenset(
    {"identify", "identify_anonymous", "delete", "add_relationships", "delete_relationships"}
)
EVENT_ACTIONS = frozenset({"event", "page", "screen"})
PERSON_ID_KEYS = ("id", "email", "cio_id")

#: The component schema of Customer.io's document for each (type, action).
SCHEMA_NAMES: Mapping[tuple[str, str], str] = {
    **{("person", a): f"person_{a}" for a in PERSON_ACTIONS if a != "identify"},
    ("person", "identify"): "identify_person",
    ("object", "identify"): "object_identify",
    ("object", "identify_anonymous"): "object_identify_anonymous",
    ("object", "delete"): "object_delete",
    ("object", "add_relationships"): "object_add_relationships",
    ("object", "delete_relationships"): "object_delete_relationships",
    ("delivery", "event"): "delivery_operations",
}


@dataclass(frozen=True, slots=True)
class ItemError:
    """Why one batch item is refused, in the shape of one entry of a 207 ``errors`` list."""

    reason: str
    field: str
    message: str

    def as_json(self, batch_index: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason, "field": self.field, "message": self.message}
        if batch_index is not None:
            out = {"batch_index": batch_index, **out}
        return out


@lru_cache(maxsize=1)
def load_openapi() -> dict[str, Any]:
    """Customer.io's Track API OpenAPI document, shipped with the package."""
    text = resources.files("dbt_cio.emulator").joinpath(OPENAPI_FILE).read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def _bytes(value: str) -> int:
    return len(value.encode("utf-8")) if not value.isascii() else len(value)


def _json_bytes(value: Any) -> int:
    if isinstance(value, str):
        return _bytes(value) + 2
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _size_bound(value: Any) -> int:
    """An upper bound of ``value``'s JSON size in bytes, much cheaper than serialising it.

    ``repr`` runs in C. Each character of a parsed JSON value's ``repr`` stands for at most 4 bytes of
    its compact UTF-8 JSON (a non-ASCII character; ``\\x1f`` is 4 characters for JSON's 6 bytes, a quote
    1 for 2), so only items whose bound passes the item limit need measuring exactly.
    """
    return 4 * len(repr(value))


_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_BATCH_HEAD = re.compile(r'[ \t\n\r]*\{[ \t\n\r]*"batch"[ \t\n\r]*:[ \t\n\r]*\[')
_BATCH_TAIL = re.compile(r"\][ \t\n\r]*\}[ \t\n\r]*\Z")
_DECODER = json.JSONDecoder()


def batch_items(text: str) -> list[tuple[Any, int]] | None:
    """The items of a ``{"batch": [...]}`` body, each with its size in bytes as sent.

    Parsing item by item gives every item's exact size for free (the 32 KB item limit) where parsing the
    whole body and re-serialising each item would double the work. ``None`` when the body has any other
    shape (other keys, malformed JSON): the caller then parses it whole and measures items itself.
    """
    head = _BATCH_HEAD.match(text)
    if head is None:
        return None
    ascii_only = text.isascii()
    decode, space = _DECODER.raw_decode, _JSON_SPACE.match
    items: list[tuple[Any, int]] = []
    at = space(text, head.end()).end()  # type: ignore[union-attr]
    if not text.startswith("]", at):
        while True:
            try:
                item, end = decode(text, at)
            except ValueError:
                return None
            items.append((item, end - at if ascii_only else len(text[at:end].encode())))
            at = space(text, end).end()  # type: ignore[union-attr]
            if not text.startswith(",", at):
                break
            at = space(text, at + 1).end()  # type: ignore[union-attr]
    return items if _BATCH_TAIL.match(text, at) else None


def _check_id(field: str, value: Any) -> ItemError | None:
    if not isinstance(value, str) or value == "":
        return ItemError("invalid", field, f"{field} must be a non-empty string")
    if _bytes(value) > ID_MAX_BYTES:
        return ItemError("too_long", field, f"{field} is {_bytes(value)} bytes; the limit is {ID_MAX_BYTES}")
    return None


def _check_person_identifiers(identifiers: Any, field: str = "identifiers") -> ItemError | None:
    if not isinstance(identifiers, dict):
        return ItemError("required", field, f"{field} must be an object with one of id, email, cio_id")
    present = [k for k in PERSON_ID_KEYS if k in identifiers]
    if len(present) != 1:
        return ItemError(
            "invalid",
            field,
            f"{field} must hold exactly one of id, email, cio_id (found {present or 'none'})",
        )
    return _check_id(f"{field}.{present[0]}", identifiers[present[0]])


def _check_object_identifiers(identifiers: Any, field: str = "identifiers") -> ItemError | None:
    if not isinstance(identifiers, dict):
        return ItemError("required", field, f"{field} must be an object with object_type_id and object_id")
    if "cio_object_id" in identifiers:
        return _check_id(f"{field}.cio_object_id", identifiers["cio_object_id"])
    type_id = identifiers.get("object_type_id")
    if not isinstance(type_id, str) or not type_id.isdigit():
        return ItemError(
            "invalid",
            f"{field}.object_type_id",
            'object_type_id must be a string holding an integer, e.g. "1"',
        )
    return _check_id(f"{field}.object_id", identifiers.get("object_id"))


def _check_attributes(attributes: Any, field: str) -> ItemError | None:
    if not isinstance(attributes, dict):
        return ItemError("invalid", field, f"{field} must be an object")
    if len(attributes) > MAX_ATTRIBUTES:
        return ItemError(
            "too_many", field, f"{field} has {len(attributes)} attributes; the limit is {MAX_ATTRIBUTES}"
        )
    for name, value in attributes.items():
        if _bytes(name) > ATTRIBUTE_NAME_MAX_BYTES:
            return ItemError(
                "too_long",
                f"{field}.{name[:40]}",
                f"attribute name is {_bytes(name)} bytes; the limit is {ATTRIBUTE_NAME_MAX_BYTES}",
            )
        if value is None or isinstance(value, (bool, int, float)):
            continue
        size = _bytes(value) if isinstance(value, str) else _json_bytes(value)
        if size > ATTRIBUTE_VALUE_MAX_BYTES:
            return ItemError(
                "too_long",
                f"{field}.{name}",
                f"value of attribute {name!r} is {size} bytes; the limit is {ATTRIBUTE_VALUE_MAX_BYTES}",
            )
    return None


def _check_relationships(rels: Any, to_objects: bool) -> ItemError | None:
    if not isinstance(rels, list):
        return ItemError("invalid", "cio_relationships", "cio_relationships must be an array")
    for i, rel in enumerate(rels):
        field = f"cio_relationships[{i}]"
        if not isinstance(rel, dict):
            return ItemError("invalid", field, f"{field} must be an object")
        ids = rel.get("identifiers")
        problem = (
            _check_object_identifiers(ids, f"{field}.identifiers")
            if to_objects
            else _check_person_identifiers(ids, f"{field}.identifiers")
        )
        if problem is None and "relationship_attributes" in rel:
            problem = _check_attributes(rel["relationship_attributes"], f"{field}.relationship_attributes")
        if problem is not None:
            return problem
    return None


def check_item(item: Any, size: int | None = None) -> ItemError | None:
    """The structural checks and data limits for one v2 item; ``None`` when it is acceptable.

    ``size`` is the item's size in bytes as it was sent, when the caller knows it (see
    :func:`batch_items`); otherwise it is measured here (re-serialised, only when it could be too large).
    """
    if not isinstance(item, dict):
        return ItemError("invalid", "", "each batch item must be an object")
    kind = item.get("type")
    action = item.get("action")
    if kind not in ("person", "object", "delivery"):
        return ItemError("invalid", "type", "type must be one of person, object, delivery")
    if not isinstance(action, str) or (kind, action) not in SCHEMA_NAMES:
        return ItemError("invalid", "action", f"action {action!r} is not valid for type {kind!r}")
    if size is None and _size_bound(item) > ITEM_MAX_BYTES:
        size = _json_bytes(item)
    if size is not None and size > ITEM_MAX_BYTES:
        return ItemError("too_large", "", f"item is {size} bytes; the limit is {ITEM_MAX_BYTES}")
    if kind == "person":
        problem = _check_person_item(item, action)
    elif kind == "object":
        problem = _check_object_item(item, action)
    else:
        problem = (
            None
            if isinstance(item.get("identifiers"), dict)
            else ItemError("required", "identifiers", "identifiers must be an object")
        )
    return problem


def _check_person_item(item: dict[str, Any], action: str) -> ItemError | None:
    if action == "merge":
        return _check_person_identifiers(item.get("primary"), "primary") or _check_person_identifiers(
            item.get("secondary"), "secondary"
        )
    if action in EVENT_ACTIONS and "identifiers" not in item and "anonymous_id" in item:
        problem = _check_id("anonymous_id", item["anonymous_id"])
    else:
        problem = _check_person_identifiers(item.get("identifiers"))
    if problem is not None:
        return problem
    if action in EVENT_ACTIONS:
        name = item.get("name")
        if not isinstance(name, str) or name == "":
            return ItemError("required", "name", f"a {action} needs a non-empty name")
        if _bytes(name) > EVENT_NAME_MAX_BYTES:
            return ItemError(
                "too_long", "name", f"name is {_bytes(name)} bytes; the limit is {EVENT_NAME_MAX_BYTES}"
            )
        attributes = item.get("attributes")
        if attributes is not None:
            if not isinstance(attributes, dict):
                return ItemError("invalid", "attributes", "attributes must be an object")
            size = _json_bytes(attributes)
            if size > EVENT_DATA_MAX_BYTES:
                return ItemError(
                    "too_large",
                    "attributes",
                    f"event data is {size} bytes; the limit is {EVENT_DATA_MAX_BYTES}",
                )
        return None
    if action == "identify" and "attributes" in item:
        problem = _check_attributes(item["attributes"], "attributes")
        if problem is not None:
            return problem
    if action in ("add_relationships", "delete_relationships") or (
        action == "identify" and "cio_relationships" in item
    ):
        return _check_relationships(item.get("cio_relationships"), to_objects=True)
    if action in ("add_device", "delete_device"):
        device = item.get("device")
        if not isinstance(device, dict) or not isinstance(device.get("token"), str) or not device["token"]:
            return ItemError("required", "device.token", f"{action} needs device.token")
    return None


def _check_object_item(item: dict[str, Any], action: str) -> ItemError | None:
    problem = _check_object_identifiers(item.get("identifiers"))
    if problem is not None:
        return problem
    if action in ("identify", "identify_anonymous") and "attributes" in item:
        problem = _check_attributes(item["attributes"], "attributes")
        if problem is not None:
            return problem
    if action in ("add_relationships", "delete_relationships") or (
        action == "identify" and "cio_relationships" in item
    ):
        return _check_relationships(item.get("cio_relationships"), to_objects=False)
    return None


def _patched(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the document with one known defect fixed.

    ``v2_cio_relationships`` (an object's relationships to people) offers ``id``, ``email`` and ``cio_id``
    as ``oneOf`` branches without ``required``, so every identifiers object matches all three and the
    ``oneOf`` can never pass -- even Customer.io's own example fails. Each branch is made to require the
    key it is titled by, which is what the prose says.
    """
    doc = json.loads(json.dumps(document))
    items = doc["components"]["schemas"]["v2_cio_relationships"]["items"]
    for branch in items["properties"]["identifiers"]["oneOf"]:
        branch.setdefault("required", [branch["title"]])
    return doc  # type: ignore[no-any-return]


#: Keys whose string values the item schemas constrain (all by ``enum``): at the top of an item, and in
#: ``device`` and ``device.attributes``. Everywhere else the schemas look only at types and key presence.
_TOP_ENUM_KEYS = frozenset({"type", "action", "name"})
_DEVICE_ENUM_KEYS = frozenset({"platform", "_last_status", "push_enabled"})
_SHAPE_CACHE_SIZE = 100_000


def _shape(value: Any, enum_keys: frozenset[str] = frozenset(), in_device: bool = False) -> Any:
    """A hashable skeleton of ``value`` that keeps everything the item schemas can see, and nothing else.

    The item schemas constrain strings only by ``enum`` at known keys (a test checks this against the
    document), numbers only by type, and objects by their keys. So two items of the same shape are both
    valid or both invalid, and a valid shape need not be validated again.
    """
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            if isinstance(item, str):
                out.append((key, item if key in enum_keys else ""))
            elif (key == "device" and not in_device) or (key == "attributes" and in_device):
                out.append((key, _shape(item, _DEVICE_ENUM_KEYS, True)))
            else:
                out.append((key, _shape(item)))
        return ("{", tuple(out))
    if isinstance(value, list):
        return ("[", tuple(_shape(v) for v in value))
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return 0
    if isinstance(value, float):
        return 0 if value.is_integer() else 0.5  # JSON Schema counts 1.0 as an integer
    return "" if isinstance(value, str) else type(value).__name__


class ItemSchemas:
    """Customer.io's published schema for each v2 item kind, compiled once.

    Valid item *shapes* are remembered (see :func:`_shape`): a sync sends thousands of items that differ
    only in their values, and each shape is validated once. Invalid items are always validated in full,
    so their messages are exact.

    An anonymous event (``anonymous_id`` and no ``identifiers``) is accepted by Customer.io's v1 API but
    not described by the v2 document; it is checked against the event schema without its identifier part.
    """

    def __init__(self, document: Mapping[str, Any] | None = None):
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        doc = _patched(document if document is not None else load_openapi())
        resource = Resource.from_contents(doc, default_specification=DRAFT202012)
        registry: Registry[Any] = Registry().with_resource("urn:cio-track", resource)
        schemas = doc["components"]["schemas"]
        self._validators: dict[tuple[str, str], Any] = {}
        for key, name in SCHEMA_NAMES.items():
            ref = {"$ref": f"urn:cio-track#/components/schemas/{name}"}
            self._validators[key] = Draft202012Validator(ref, registry=registry)
        self._anonymous: dict[str, Any] = {}
        for action in EVENT_ACTIONS:
            action_part = schemas[f"person_{action}"]["allOf"][1]
            schema: dict[str, Any] = {
                "allOf": [
                    {
                        "type": "object",
                        "required": ["type", "anonymous_id"],
                        "properties": {"type": {"enum": ["person"]}, "anonymous_id": {"type": "string"}},
                    },
                    action_part,
                ]
            }
            self._anonymous[action] = Draft202012Validator(schema, registry=registry)
        self._valid_shapes: set[Any] = set()

    def check(self, item: Mapping[str, Any]) -> ItemError | None:
        """Validate an item that passed :func:`check_item`; ``None`` when the schema accepts it."""
        from jsonschema.exceptions import best_match

        kind, action = item["type"], item["action"]
        if kind == "person" and action in EVENT_ACTIONS and "identifiers" not in item:
            validator = self._anonymous[action]
        else:
            validator = self._validators[(kind, action)]
        shape = _shape(item, _TOP_ENUM_KEYS)
        if shape in self._valid_shapes:
            return None
        if validator.is_valid(item):
            if len(self._valid_shapes) >= _SHAPE_CACHE_SIZE:
                self._valid_shapes.clear()
            self._valid_shapes.add(shape)
            return None
        error = best_match(validator.iter_errors(item))
        if error is None:
            return None
        field = ".".join(str(p) for p in error.absolute_path)
        return ItemError(str(error.validator), field, error.message[:500])


def check_collection(data: Any) -> str | None:
    """The documented collection limits (10 MB in all, 10 KB per row); a message, or ``None`` if fine."""
    if not isinstance(data, list):
        return "collection data must be an array of objects"
    total = 2
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            return f"collection row {i} is not an object"
        size = _json_bytes(row)
        if size > COLLECTION_ROW_MAX_BYTES:
            limit = COLLECTION_ROW_MAX_BYTES
            return f"collection row {i} is {size} bytes; Customer.io accepts at most {limit} per row"
        total += size + 1
    if total > COLLECTION_MAX_BYTES:
        limit = COLLECTION_MAX_BYTES
        return f"collection data is {total} bytes; Customer.io accepts at most {limit} per collection"
    return None
