"""Rows of a sync's diff turned into Customer.io operations: pure functions, no I/O.

Each sync type has a small mapper builder. :func:`mapper_for` does the per-sync work once (which
columns feed what, the action names, static parts of the items) and returns a function that maps one
:class:`~dbt_cio.changes.RowChange` to the operations it needs. That function runs once per row on the
hot path, so it only reads values, converts them and builds the item dict.

What each type sends (Track API v2 batch items unless noted; "nothing" means an empty list):

============  =======================================  ===========================================
type          added / changed                          removed
============  =======================================  ===========================================
person        ``identify`` with the attributes         ``on_delete``: nothing; ``clear`` =
              (``_update: true`` in ``update`` mode)   ``identify`` with every attribute ``""``
                                                       and ``_update: true``; ``delete``
event         added only: ``event``/``page``/          nothing (append only)
              ``screen`` with a deterministic ULID id
object        object ``identify`` with attributes      ``delete`` / ``clear`` / nothing
relationship  person ``add_relationships``             ``mirror``: ``delete_relationships``;
                                                       ``upsert``: nothing
segment       added only: ``SegmentChange(add=True)``  ``mirror``: ``SegmentChange(add=False)``
device        person ``add_device``                    ``delete``: ``delete_device``; nothing
collection    not per row: :func:`collection_data`
============  =======================================  ===========================================

Every change gives at most one operation, so the caller's ``ref`` names exactly one thing to acknowledge.
A row that cannot be sent faithfully (a null identifier, a value with no JSON form, a device platform
Customer.io does not know) raises :class:`RowRejected`; the engine records it and goes on. A clear on a
removed person always carries ``_update: true``: clearing must never create someone. Customer.io's data
limits (sizes, counts) are checked by the sender (``dbt_cio.limits``), not here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from dbt_cio.contract.actions import EVENT_ACTIONS
from dbt_cio.contract.model import Sync
from dbt_cio.customerio.limits import DEVICE_PLATFORMS
from dbt_cio.customerio.operations import BatchItem, Operation, SegmentChange
from dbt_cio.customerio.ulid import event_ulid
from dbt_cio.customerio.values import ValueRejected, identifier_text, to_json, to_unix_seconds
from dbt_cio.warehouse.changes import RowChange

__all__ = ["Mapper", "RowRejected", "mapper_for", "to_operations"]


R = TypeVar("R")


class Mapper(Protocol):
    """Maps one row change to the operations it needs, each carrying the caller's ``ref``; built by
    :func:`mapper_for`."""

    def __call__(self, change: RowChange, ref: R, /) -> list[Operation[R]]: ...


_PASS_THROUGH = frozenset({str, bool, type(None)})


class RowRejected(Exception):
    """One row cannot be sent faithfully; the rest of the sync goes on.

    ``reason`` is written for the user (it names the column and says what to do); ``field`` is where
    the value would have gone in the item (``identifiers.id``, ``attributes.plan``, ``device.platform``).
    """

    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.field = field


def to_operations(
    sync: Sync, change: RowChange, *, ref: R, now: int, segment_id: int | None = None
) -> list[Operation[R]]:
    """The operations one row change needs ([] when it needs none); see the module table.

    Convenience for one-off calls: it builds the sync's mapper every time. On the hot path build it once
    with :func:`mapper_for`. Raises :class:`RowRejected` when the row cannot be sent faithfully.
    """
    return mapper_for(sync, now=now, segment_id=segment_id)(change, ref)


def mapper_for(sync: Sync, *, now: int, segment_id: int | None = None) -> Mapper:
    """Build the row mapper of one sync.

    ``now`` (Unix seconds) stamps events whose row has no timestamp. ``segment_id`` is required for
    segment syncs (the caller resolves the segment by id or name first).
    """
    builder = _BUILDERS.get(sync.type)
    if builder is None:
        raise ValueError(
            f"sync '{sync.name}': type {sync.type!r} has no per-row mapping (collections use collection_data)"
        )
    return builder(sync, now, segment_id)


# --- conversions shared by every type -------------------------------------------------------------


def _identifier(values: Mapping[str, Any], column: str, field: str) -> str:
    """The text of an identifying column, or RowRejected when it is null or not usable."""
    try:
        text = identifier_text(values[column])
    except ValueRejected as exc:
        raise RowRejected(f"column '{column}': {exc.reason}", field) from None
    if text is None:
        raise RowRejected(f"column '{column}' is null or empty: the row names nothing in Customer.io", field)
    return text


def _attributes(attrs: tuple[tuple[str, str], ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every mapped attribute converted to JSON (values that need no conversion are not touched)."""
    out: dict[str, Any] = {}
    try:
        for name, column in attrs:
            value = values[column]
            out[name] = value if type(value) in _PASS_THROUGH else to_json(value)
        return out
    except ValueRejected:
        # Slow path, only for the rare rejected row: find which attribute to blame.
        for name, column in attrs:
            try:
                to_json(values[column])
            except ValueRejected as exc:
                raise RowRejected(f"column '{column}': {exc.reason}", f"attributes.{name}") from None
        raise


def _timestamp(values: Mapping[str, Any], column: str, field: str) -> int | None:
    """A timestamp column as Unix seconds, None when the value is null."""
    value = values[column]
    if value is None:
        return None
    try:
        return to_unix_seconds(value)
    except ValueRejected as exc:
        raise RowRejected(f"column '{column}': {exc.reason}", field) from None


def _item(
    ref: R, type_: str, identifiers: Mapping[Any, str], action: str, **fields: Any
) -> list[Operation[R]]:
    """One batch item, as the one operation of a change."""
    return [BatchItem(ref, {"type": type_, "identifiers": identifiers, "action": action, **fields})]


def _required(value: str | None, sync: Sync, what: str) -> str:
    if value is None:
        raise ValueError(f"sync '{sync.name}' ({sync.type}) has no {what}")
    return value


# --- one builder per sync type ----------------------------------------------------------------------


def _person(sync: Sync, now: int, segment_id: int | None) -> Mapper:
    ident = sync.identifier
    if ident is None:
        raise ValueError(f"sync '{sync.name}' (person) has no identifier")
    id_type, id_column, id_field = ident.type, ident.column, f"identifiers.{ident.type}"
    attrs = tuple(sync.attributes.items())
    update_only = sync.mode == "update"
    on_delete = sync.on_delete or "nothing"
    cleared: dict[str, Any] = {name: "" for name in sync.attributes}
    cleared["_update"] = True

    def map_person(change: RowChange, ref: R) -> list[Operation[R]]:
        if change.change == "removed":
            if on_delete == "nothing":
                return []
            identifiers = {id_type: _identifier(change.values, id_column, id_field)}
            if on_delete == "delete":
                return _item(ref, "person", identifiers, "delete")
            return _item(ref, "person", identifiers, "identify", attributes=dict(cleared))  # clear
        # The hottest path of a sync: the identifier's and the attributes' common cases are inlined
        # (the helpers' semantics, without their calls: about 20% faster).
        values = change.values
        raw = values[id_column]
        if type(raw) is str and raw and not raw.isspace():
            person = raw
        else:
            person = _identifier(values, id_column, id_field)
        attributes: dict[str, Any] = {}
        try:
            for name, column in attrs:
                value = values[column]
                attributes[name] = value if type(value) in _PASS_THROUGH else to_json(value)
        except ValueRejected:
            _attributes(attrs, values)  # raises RowRejected naming the attribute
            raise
        if update_only:
            attributes["_update"] = True
        identifiers = {id_type: person}
        item = {"type": "person", "identifiers": identifiers, "action": "identify", "attributes": attributes}
        return [BatchItem(ref, item)]

    return map_person


def _event(sync: Sync, now: int, segment_id: int | None) -> Mapper:
    action = EVENT_ACTIONS[sync.event_type or "track"]
    sync_name = sync.name
    event_id_column = _required(sync.event_id, sync, "event_id column")
    static_name = sync.event_name
    name_column = sync.name_column
    if static_name is None and name_column is None:
        raise ValueError(f"sync '{sync.name}' (event) has neither a name nor a name_column")
    ident = sync.identifier
    id_type, id_column = (ident.type, ident.column) if ident else ("id", None)
    id_field = f"identifiers.{id_type}"
    anon_column = sync.anonymous_id
    ts_column = sync.timestamp
    attrs = tuple(sync.attributes.items())
    named = [f"'{column}'" for column in (id_column, anon_column) if column]
    nobody = (
        f"column{'s' if len(named) > 1 else ''} {' and '.join(named)} {'are' if len(named) > 1 else 'is'} "
        "null or empty: the event names nobody"
    )

    def map_event(change: RowChange, ref: R) -> list[Operation[R]]:
        if change.change != "added":
            return []  # append only: an event is sent once, when its row first appears
        values = change.values
        event_id = values[event_id_column]  # text is the common case: skip the helper's call
        if not (type(event_id) is str and event_id and not event_id.isspace()):
            event_id = _identifier(values, event_id_column, "id")
        name = static_name if name_column is None else _event_name(values, name_column)
        item: dict[str, Any] = {"type": "person"}
        person = _optional_identifier(values, id_column, id_field)
        if person is not None:
            item["identifiers"] = {id_type: person}
        else:
            anonymous = _optional_identifier(values, anon_column, "anonymous_id")
            if anonymous is None:
                raise RowRejected(nobody, id_field)
            item["anonymous_id"] = anonymous
        timestamp = _timestamp(values, ts_column, "timestamp") if ts_column else None
        item["action"] = action
        # The id depends only on the row (never on ``now``), so a resend is de-duplicated.
        item["id"] = event_ulid(sync_name, event_id, 0 if timestamp is None else timestamp * 1000)
        item["name"] = name
        item["timestamp"] = now if timestamp is None else timestamp
        if attrs:
            item["attributes"] = _attributes(attrs, values)
        return [BatchItem(ref, item)]

    return map_event


def _optional_identifier(values: Mapping[str, Any], column: str | None, field: str) -> str | None:
    if column is None:
        return None
    try:
        return identifier_text(values[column])
    except ValueRejected as exc:
        raise RowRejected(f"column '{column}': {exc.reason}", field) from None


def _event_name(values: Mapping[str, Any], column: str) -> str:
    value = values[column]
    if type(value) is str and value and not value.isspace():
        return value
    if value is None or isinstance(value, str):
        raise RowRejected(f"column '{column}' is null or empty: an event needs a name", "name")
    try:
        name = identifier_text(value)  # numbers as their digits; anything stranger is rejected
    except ValueRejected as exc:
        raise RowRejected(f"column '{column}': {exc.reason}", "name") from None
    assert name is not None
    return name


def _object(sync: Sync, now: int, segment_id: int | None) -> Mapper:
    type_id = str(_required(sync.object_type_id, sync, "object_type_id"))
    id_column = _required(sync.object_id, sync, "object_id column")
    attrs = tuple(sync.attributes.items())
    on_delete = sync.on_delete or "nothing"
    cleared = {name: "" for name in sync.attributes}
    id_field = "identifiers.object_id"

    def map_object(change: RowChange, ref: R) -> list[Operation[R]]:
        values = change.values
        if change.change == "removed":
            if on_delete == "nothing":
                return []
            identifiers = {"object_type_id": type_id, "object_id": _identifier(values, id_column, id_field)}
            if on_delete == "delete":
                return _item(ref, "object", identifiers, "delete")
            return _item(ref, "object", identifiers, "identify", attributes=dict(cleared))
        identifiers = {"object_type_id": type_id, "object_id": _identifier(values, id_column, id_field)}
        item = {"type": "object", "identifiers": identifiers, "action": "identify"}
        item["attributes"] = _attributes(attrs, values)
        return [BatchItem(ref, item)]

    return map_object


def _relationship(sync: Sync, now: int, segment_id: int | None) -> Mapper:
    ident = sync.identifier
    if ident is None:
        raise ValueError(f"sync '{sync.name}' (relationship) has no identifier")
    id_type, id_column, id_field = ident.type, ident.column, f"identifiers.{ident.type}"
    type_id = str(_required(sync.object_type_id, sync, "object_type_id"))
    object_column = _required(sync.object_id, sync, "object_id column")
    object_field = "cio_relationships.identifiers.object_id"
    attrs = tuple(sync.attributes.items())
    mirror = sync.mode == "mirror"

    def map_relationship(change: RowChange, ref: R) -> list[Operation[R]]:
        values = change.values
        removed = change.change == "removed"
        if removed and not mirror:
            return []  # upsert never removes a relationship
        identifiers = {id_type: _identifier(values, id_column, id_field)}
        object_id = _identifier(values, object_column, object_field)
        relationship: dict[str, Any] = {"identifiers": {"object_type_id": type_id, "object_id": object_id}}
        if removed:
            action = "delete_relationships"
        else:
            action = "add_relationships"
            if attrs:
                relationship["relationship_attributes"] = _attributes(attrs, values)
        return _item(ref, "person", identifiers, action, cio_relationships=[relationship])

    return map_relationship


def _segment(sync: Sync, now: int, segment_id: int | None) -> Mapper:
    ident = sync.identifier
    if ident is None:
        raise ValueError(f"sync '{sync.name}' (segment) has no identifier")
    if segment_id is None:
        raise ValueError(f"sync '{sync.name}' (segment) needs the segment_id of its manual segment")
    id_type, id_column, id_field = ident.type, ident.column, f"identifiers.{ident.type}"
    mirror = sync.mode == "mirror"
    target = segment_id

    def map_segment(change: RowChange, ref: R) -> list[Operation[R]]:
        kind = change.change
        if kind == "added" or (kind == "removed" and mirror):
            person = _identifier(change.values, id_column, id_field)
            return [SegmentChange(ref, target, id_type, person, kind == "added")]
        return []  # a changed row is still in the segment; add mode never removes

    return map_segment


def _device(sync: Sync, now: int, segment_id: int | None) -> Mapper:
    ident = sync.identifier
    if ident is None:
        raise ValueError(f"sync '{sync.name}' (device) has no identifier")
    id_type, id_column, id_field = ident.type, ident.column, f"identifiers.{ident.type}"
    token_column = _required(sync.token, sync, "token column")
    platform_column = _required(sync.platform, sync, "platform column")
    last_used_column = sync.last_used
    attrs = tuple(sync.attributes.items())
    delete = sync.on_delete == "delete"

    def map_device(change: RowChange, ref: R) -> list[Operation[R]]:
        values = change.values
        if change.change == "removed":
            if not delete:
                return []
            identifiers = {id_type: _identifier(values, id_column, id_field)}
            token = {"token": _identifier(values, token_column, "device.token")}
            return _item(ref, "person", identifiers, "delete_device", device=token)
        identifiers = {id_type: _identifier(values, id_column, id_field)}
        device: dict[str, Any] = {
            "token": _identifier(values, token_column, "device.token"),
            "platform": _platform(values, platform_column),
        }
        if last_used_column is not None:
            last_used = _timestamp(values, last_used_column, "device.last_used")
            if last_used is not None:
                device["last_used"] = last_used
        if attrs:
            device["attributes"] = _device_attributes(attrs, values)
        return _item(ref, "person", identifiers, "add_device", device=device)

    return map_device


def _platform(values: Mapping[str, Any], column: str) -> str:
    value = values[column]
    platform = value.strip().lower() if isinstance(value, str) else None
    if platform not in DEVICE_PLATFORMS:
        raise RowRejected(
            f"column '{column}': platform {value!r} is not one Customer.io accepts "
            f"({' or '.join(DEVICE_PLATFORMS)}); filter other devices out in the model",
            "device.platform",
        )
    return platform


def _device_attributes(attrs: tuple[tuple[str, str], ...], values: Mapping[str, Any]) -> dict[str, str]:
    """Device attributes are text in the v2 API: convert, then write non-text values as JSON text.

    Nulls are left out (there is no text for "no value"); booleans become "true"/"false", which is what
    the reserved ``push_enabled`` attribute expects.
    """
    converted = _attributes(attrs, values)
    out: dict[str, str] = {}
    for name, value in converted.items():
        if value is None:
            continue
        if type(value) is str:
            out[name] = value
        elif type(value) is bool:
            out[name] = "true" if value else "false"
        else:
            out[name] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return out


_BUILDERS: dict[str, Callable[[Sync, int, int | None], Mapper]] = {
    "person": _person,
    "event": _event,
    "object": _object,
    "relationship": _relationship,
    "segment": _segment,
    "device": _device,
}
