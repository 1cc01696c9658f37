"""Customer.io's documented data limits, and a pure check of one v2 batch item against them.

An item that breaks a limit would be refused by Customer.io (or, worse, sink the batch it travels in),
so the sender rejects it locally, with its reason and field, and never sends it. Byte limits are counted
on UTF-8; "KB" is read as 1000 bytes, the stricter reading, so an item we accept is never refused for a
unit mismatch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "DEVICE_PLATFORMS",
    "MAX_ATTRIBUTES",
    "MAX_ATTRIBUTE_NAME_BYTES",
    "MAX_ATTRIBUTE_VALUE_BYTES",
    "MAX_BATCH_BYTES",
    "MAX_COLLECTION_BYTES",
    "MAX_COLLECTION_ROW_BYTES",
    "MAX_ENTITY_ATTRIBUTES_BYTES",
    "MAX_EVENT_DATA_BYTES",
    "MAX_EVENT_NAME_BYTES",
    "MAX_ID_BYTES",
    "MAX_ITEM_BYTES",
    "MAX_SEGMENT_IDS",
    "Problem",
    "check_collection",
    "check_identifier",
    "check_item",
    "check_item_size",
    "dumps",
]

MAX_ID_BYTES = 150
MAX_ATTRIBUTE_NAME_BYTES = 150
MAX_ATTRIBUTE_VALUE_BYTES = 1000
MAX_ATTRIBUTES = 300
MAX_ENTITY_ATTRIBUTES_BYTES = 100_000  # all attributes of one object or relationship
MAX_EVENT_NAME_BYTES = 100
MAX_EVENT_DATA_BYTES = 100_000
MAX_ITEM_BYTES = 32_000
MAX_BATCH_BYTES = 500_000
MAX_SEGMENT_IDS = 1000
MAX_COLLECTION_BYTES = 10_000_000  # App API: a whole collection
MAX_COLLECTION_ROW_BYTES = 10_000  # App API: one row of a collection
DEVICE_PLATFORMS: tuple[str, ...] = ("ios", "android")
"""The device platforms the Track API v2 accepts (``device.platform`` enum of the OpenAPI document)."""

Problem = tuple[str, str]
"""``(reason, field)``: why an item is refused and where, e.g. ``("longer than 150 bytes", "identifiers.id")``."""

_EVENT_ACTIONS = frozenset({"event", "page", "screen"})
_TYPES = frozenset({"person", "object", "delivery"})


def dumps(value: Any) -> str:
    """Serialize the way the sender does: compact, UTF-8 kept as is (what is measured is what is sent)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _nbytes(value: str) -> int:
    # A str of n characters is at most 4n bytes in UTF-8: skip the encode when that cannot matter.
    return len(value) if value.isascii() else len(value.encode())


def _value_bytes(value: Any) -> int:
    if isinstance(value, str):
        return _nbytes(value)
    if value is None or isinstance(value, (bool, int, float)):
        return 0  # scalars are tiny; never the reason an item is refused
    return len(dumps(value).encode())


def check_identifier(value: Any, field: str = "identifiers.id") -> Problem | None:
    """Refuse an identifier value that is empty or longer than :data:`MAX_ID_BYTES`."""
    if type(value) is str and 0 < len(value) <= MAX_ID_BYTES and value.isascii():
        return None  # the common case, decided without further work
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return (f"identifier must be a string or integer, got {type(value).__name__}", field)
    text = str(value)
    if text == "":
        return ("identifier is empty", field)
    if _nbytes(text) > MAX_ID_BYTES:
        return (f"identifier is longer than {MAX_ID_BYTES} bytes", field)
    return None


def _check_identifiers(identifiers: Any, field: str) -> Problem | None:
    if not identifiers or not (type(identifiers) is dict or isinstance(identifiers, Mapping)):
        return ("identifiers must be a non-empty object", field)
    for key in ("id", "object_id"):
        if key in identifiers:
            problem = check_identifier(identifiers[key], f"{field}.{key}")
            if problem:
                return problem
    return None


def _check_attributes(attributes: Any, field: str, total_limit: int | None, size: int) -> Problem | None:
    """Attribute count, each name and each value, and (for objects/relationships) their total size.

    ``size`` is the serialized length of the whole item: no name or value inside it can be longer, so
    when it is under a limit that limit needs no look at all. Most items are a few hundred bytes, and
    this keeps the check far cheaper than the serialization it follows.
    """
    if not isinstance(attributes, Mapping):
        return ("attributes must be an object", field)
    if len(attributes) > MAX_ATTRIBUTES:
        return (f"{len(attributes)} attributes, more than the {MAX_ATTRIBUTES} allowed", field)
    check_names = size > MAX_ATTRIBUTE_NAME_BYTES
    if check_names and attributes:
        try:  # 4 bytes per character at most: short names cannot be too long
            check_names = max(map(len, attributes)) * 4 > MAX_ATTRIBUTE_NAME_BYTES
        except TypeError:
            pass
    check_values = size > MAX_ATTRIBUTE_VALUE_BYTES
    check_total = total_limit is not None and size > total_limit
    if not (check_names or check_values or check_total):
        return None
    total = 0
    for name, value in attributes.items():
        if check_names and _nbytes(str(name)) > MAX_ATTRIBUTE_NAME_BYTES:
            return (
                f"attribute name is longer than {MAX_ATTRIBUTE_NAME_BYTES} bytes",
                f"{field}.{str(name)[:40]}",
            )
        if check_values or check_total:
            nbytes = _value_bytes(value)
            if nbytes > MAX_ATTRIBUTE_VALUE_BYTES:
                return (
                    f"attribute value is longer than {MAX_ATTRIBUTE_VALUE_BYTES} bytes",
                    f"{field}.{name}",
                )
            total += nbytes
    if total_limit is not None and check_total and total > total_limit:
        return (f"attributes total more than {total_limit} bytes", field)
    return None


def _check_relationships(relationships: Any, field: str, size: int) -> Problem | None:
    if not isinstance(relationships, Sequence) or isinstance(relationships, (str, bytes)):
        return ("cio_relationships must be a list", field)
    for i, rel in enumerate(relationships):
        if not isinstance(rel, Mapping):
            return ("relationship must be an object", f"{field}[{i}]")
        problem = _check_identifiers(rel.get("identifiers"), f"{field}[{i}].identifiers")
        if problem:
            return problem
        if "relationship_attributes" in rel:
            problem = _check_attributes(
                rel["relationship_attributes"],
                f"{field}[{i}].relationship_attributes",
                MAX_ENTITY_ATTRIBUTES_BYTES,
                size,
            )
            if problem:
                return problem
    return None


def check_item_size(size: int) -> Problem | None:
    """Return ``(reason, field)`` if a serialized batch item of ``size`` bytes is over the item limit."""
    if size > MAX_ITEM_BYTES:
        return (f"item is {size} bytes, more than the {MAX_ITEM_BYTES} allowed in one batch item", "")
    return None


def check_item(item: Mapping[str, Any], size: int | None = None) -> Problem | None:
    """Return ``(reason, field)`` if ``item`` breaks a documented limit, else ``None``.

    ``size`` is the item's serialized length in bytes when the caller already has it (the sender
    serializes each item once); otherwise it is computed here.
    """
    if size is None:
        size = len(dumps(item).encode())
    problem = check_item_size(size)
    if problem is not None:
        return problem
    kind = item.get("type")
    if kind not in _TYPES:
        return ("type must be person, object or delivery", "type")
    action = item.get("action")
    if not action or type(action) is not str:
        return ("action is missing", "action")
    if "identifiers" in item:
        problem = _check_identifiers(item["identifiers"], "identifiers")
        if problem:
            return problem
    elif kind != "delivery" and not (action in _EVENT_ACTIONS and "anonymous_id" in item):
        return ("identifiers are missing", "identifiers")
    attributes = item.get("attributes")
    if action in _EVENT_ACTIONS:
        name = item.get("name")
        if not isinstance(name, str) or not name:
            return ("event name is missing", "name")
        if _nbytes(name) > MAX_EVENT_NAME_BYTES:
            return (f"event name is longer than {MAX_EVENT_NAME_BYTES} bytes", "name")
        if attributes is not None and not isinstance(attributes, Mapping):
            return ("attributes must be an object", "attributes")
        # Event data is capped at MAX_EVENT_DATA_BYTES, but a batch item is capped lower still
        # (MAX_ITEM_BYTES), so the size check above already covers it without a second serialization.
    elif attributes is not None:
        problem = _check_attributes(
            attributes, "attributes", MAX_ENTITY_ATTRIBUTES_BYTES if kind == "object" else None, size
        )
        if problem:
            return problem
    if "cio_relationships" in item:
        return _check_relationships(item["cio_relationships"], "cio_relationships", size)
    return None


def check_collection(data: Sequence[Any]) -> Problem | None:
    """Refuse collection contents over 10 MB in all, or with a row over 10 KB (App API limits)."""
    total = 2
    for i, row in enumerate(data):
        size = len(dumps(row).encode())
        if size > MAX_COLLECTION_ROW_BYTES:
            return (f"row is {size} bytes, more than the {MAX_COLLECTION_ROW_BYTES} allowed", f"data[{i}]")
        total += size + 1
    if total > MAX_COLLECTION_BYTES:
        return (f"collection is {total} bytes, more than the {MAX_COLLECTION_BYTES} allowed", "data")
    return None
