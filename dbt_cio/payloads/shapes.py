"""Each sync type's Customer.io operation as SQL: the JSON text a warehouse renders for one diff row, and the
conditions that send the row through the Python mapper instead.

This module mirrors :mod:`dbt_cio.payloads.mappers` branch for branch (same table of what each type sends,
same fields, same order of attributes, ``_update`` and clears included) and :mod:`dbt_cio.customerio.limits`
check for check. What SQL cannot decide exactly becomes a *flag* (a SQL condition): a row with any flag set
goes through the Python mapper and the sender's checks, so its payload and its rejection reason are the ones
they have always been. Flags may catch more rows than strictly needed, never fewer:

- an identifier (or event id, token, event name) that is null, or has no printable ASCII character (Python
  refuses empty and blank text), or is of a kind that is not text, an integer, an integral decimal or a uuid;
- an ``id``/``object_id`` identifier over 150 UTF-8 bytes, an event name over 100, an identify or
  relationship attribute text over 1000 (Customer.io's limits, :mod:`dbt_cio.customerio.limits`); more
  than 300 attributes or an attribute name over 150 bytes (all rows that carry them);
- a value of a kind the SQL does not render (``other``: nested values, blobs, intervals...), a decimal with
  16 or 17 significant digits, an instant Python cannot hold, a JSON column Python would write differently;
- an event with nobody (no usable identifier, no anonymous id), a device platform that is not ``ios`` or
  ``android`` spelled in ASCII letters.

The item's own size is checked on its rendered bytes (:mod:`dbt_cio.payloads.rendered`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dbt_cio.contract.actions import EVENT_ACTIONS
from dbt_cio.contract.model import Sync
from dbt_cio.customerio.limits import MAX_EVENT_NAME_BYTES, MAX_ID_BYTES
from dbt_cio.payloads.fields import ALWAYS, Column, Fields, Json, attribute_problem, dumps, id_limit, obj
from dbt_cio.warehouse.jsonsql import JsonSql

__all__ = ["Branch", "Shape", "shape_of"]


@dataclass
class Branch:
    """What one kind of change (added, changed, removed) renders: the item's JSON (None: nothing to send)
    and the flags that send the row through Python instead."""

    item: Json | None = None
    flags: list[str] = field(default_factory=list)


NOTHING = Branch()


@dataclass
class Shape:
    """A sync type's rendering: one :class:`Branch` per change kind; for events, the SQL of the event id's
    text and of the row's timestamp in seconds (NULL without one), which the ULID is made of; and how many
    numeric values an item holds (their text may be shorter than Python's on warehouses not in
    :data:`~dbt_cio.warehouse.jsonsql.EXACT_ADAPTERS`)."""

    added: Branch
    changed: Branch
    removed: Branch
    event_id: str | None = None
    event_seconds: str | None = None
    numeric_fields: int = 0


def _item(type_: str, identifiers: Json, action: str, **fields: Json) -> Json:
    return obj({"type": Json.of(type_), "identifiers": identifiers, "action": Json.of(action), **fields})


# --- one shape per sync type (see the table in dbt_cio.payloads.mappers) --------------------------------


def _person(b: Fields) -> Shape:
    sync = b.sync
    assert sync.identifier is not None
    id_type, id_column = sync.identifier.type, sync.identifier.column
    on_delete = sync.on_delete or "nothing"
    removed = NOTHING
    if on_delete != "nothing":
        ident, flags = b.identifier(b.key(0, id_column), id_limit(id_type))
        identifiers = obj({id_type: ident})
        if on_delete == "delete":
            removed = Branch(_item("person", identifiers, "delete"), flags)
        else:
            cleared: dict[str, Any] = {name: "" for name in sync.attributes}
            cleared["_update"] = True
            flags += [ALWAYS] if attribute_problem(list(cleared)) else []
            removed = Branch(_item("person", identifiers, "identify", attributes=Json.of(cleared)), flags)
    ident, flags = b.identifier(b.col(id_column), id_limit(id_type))
    attributes, more = b.attributes(tuple(sync.attributes.items()), checked=True)
    if sync.mode == "update":
        attributes["_update"] = Json.of(True)
    flags += more + ([ALWAYS] if attribute_problem(list(attributes)) else [])
    current = Branch(_item("person", obj({id_type: ident}), "identify", attributes=obj(attributes)), flags)
    return Shape(current, current, removed)


def _event(b: Fields) -> Shape:
    sync = b.sync
    action = EVENT_ACTIONS[sync.event_type or "track"]
    event_id, flags = b.ident_text(b.col(sync.event_id))
    if sync.name_column is None:
        name = Json.of(sync.event_name)
        static = sync.event_name or ""
        flags += [ALWAYS] if not static or len(static.encode()) > MAX_EVENT_NAME_BYTES else []
    else:
        name_col = b.col(sync.name_column)
        name, more = b.identifier(name_col, MAX_EVENT_NAME_BYTES if name_col.kind == "text" else None)
        flags += more
    id_type = sync.identifier.type if sync.identifier else "id"
    person_col = b.col(sync.identifier.column) if sync.identifier else None
    person, person_json, more = b.optional_identifier(person_col)
    flags += more
    anon_col = b.col(sync.anonymous_id) if sync.anonymous_id else None
    anonymous, anonymous_json, more = b.optional_identifier(anon_col)
    flags += [
        f"not ({person}) and ({flag})" for flag in more
    ]  # the anonymous id matters only without a person
    flags.append(f"not ({person}) and not ({anonymous})")  # nobody: Python rejects the row
    if person_col is not None and person_col.kind == "text" and id_limit(id_type):
        flags.append(f"({person}) and {b.j.utf8_longer(person_col.sql, MAX_ID_BYTES)}")
    identified = Json().lit(dumps("identifiers") + ":").add(obj({id_type: person_json})).render(b.j)
    anonymous_only = Json().lit(dumps("anonymous_id") + ":").add(anonymous_json).render(b.j)
    item = (
        Json().lit('{"type":"person",').sql(f"case when {person} then {identified} else {anonymous_only} end")
    )
    seconds = None
    if sync.timestamp is not None:
        seconds, more = b.seconds(b.col(sync.timestamp))
        flags += more
        timestamp = Json().sql(f"coalesce({b.j.as_string(seconds)}, {b.j.literal(str(b.now))})")
    else:
        timestamp = Json.of(b.now)
    item.lit("," + dumps("action") + ":" + dumps(action) + ",")
    item.lit(dumps("name") + ":").add(name).lit("," + dumps("timestamp") + ":").add(timestamp)
    if sync.attributes:
        attributes, more = b.attributes(tuple(sync.attributes.items()), checked=False)
        flags += more
        item.lit("," + dumps("attributes") + ":").add(obj(attributes))
    item.lit("}")
    # The id is not in the rendered item: Python splices the ULID in as its first field.
    added = Branch(item, flags)
    return Shape(added, NOTHING, NOTHING, event_id=event_id, event_seconds=seconds)


def _object(b: Fields) -> Shape:
    sync = b.sync
    type_id = Json.of(str(sync.object_type_id))
    id_column = sync.object_id
    on_delete = sync.on_delete or "nothing"
    removed = NOTHING
    if on_delete != "nothing":
        object_id, flags = b.identifier(b.key(0, str(id_column)), MAX_ID_BYTES)
        identifiers = obj({"object_type_id": type_id, "object_id": object_id})
        if on_delete == "delete":
            removed = Branch(_item("object", identifiers, "delete"), flags)
        else:
            cleared = {name: "" for name in sync.attributes}
            flags += [ALWAYS] if attribute_problem(list(cleared)) else []
            removed = Branch(_item("object", identifiers, "identify", attributes=Json.of(cleared)), flags)
    object_id, flags = b.identifier(b.col(id_column), MAX_ID_BYTES)
    attributes, more = b.attributes(tuple(sync.attributes.items()), checked=True)
    flags += more + ([ALWAYS] if attribute_problem(list(attributes)) else [])
    identifiers = obj({"object_type_id": type_id, "object_id": object_id})
    current = Branch(_item("object", identifiers, "identify", attributes=obj(attributes)), flags)
    return Shape(current, current, removed)


def _relationship(b: Fields) -> Shape:
    sync = b.sync
    assert sync.identifier is not None and sync.object_id is not None
    id_type, id_column = sync.identifier.type, sync.identifier.column
    type_id = Json.of(str(sync.object_type_id))

    def relationship(person_col: Column, object_col: Column, removed: bool) -> Branch:
        person, flags = b.identifier(person_col, id_limit(id_type))
        object_id, more = b.identifier(object_col, MAX_ID_BYTES)
        flags += more
        rel: dict[str, Json] = {"identifiers": obj({"object_type_id": type_id, "object_id": object_id})}
        if not removed and sync.attributes:
            attributes, more = b.attributes(tuple(sync.attributes.items()), checked=True)
            flags += more + ([ALWAYS] if attribute_problem(list(attributes)) else [])
            rel["relationship_attributes"] = obj(attributes)
        action = "delete_relationships" if removed else "add_relationships"
        rels = Json().lit("[").add(obj(rel)).lit("]")
        return Branch(_item("person", obj({id_type: person}), action, cio_relationships=rels), flags)

    current = relationship(b.col(id_column), b.col(sync.object_id), removed=False)
    # key columns are (object_id, identifier): the removed row's texts in that order
    removed = NOTHING
    if sync.mode == "mirror":
        removed = relationship(b.key(1, id_column), b.key(0, sync.object_id), removed=True)
    return Shape(current, current, removed)


def _segment(b: Fields) -> Shape:
    """A segment change's "item" is its identifier as a JSON string (an element of the v1 ``ids`` list);
    the sender checks every identifier's length, whatever its type."""
    sync = b.sync
    assert sync.identifier is not None
    column = sync.identifier.column
    added = Branch(*b.identifier(b.col(column), MAX_ID_BYTES))
    removed = Branch(*b.identifier(b.key(0, column), MAX_ID_BYTES)) if sync.mode == "mirror" else NOTHING
    return Shape(added, NOTHING, removed)


def _device(b: Fields) -> Shape:
    sync = b.sync
    assert sync.identifier is not None
    id_type, id_column = sync.identifier.type, sync.identifier.column
    j = b.j
    removed = NOTHING
    if sync.on_delete == "delete":  # key columns are (identifier, token)
        person, flags = b.identifier(b.key(0, id_column), id_limit(id_type))
        token, more = b.identifier(b.key(1, str(sync.token)), None)
        device = obj({"token": token})
        removed = Branch(
            _item("person", obj({id_type: person}), "delete_device", device=device), flags + more
        )
    person, flags = b.identifier(b.col(id_column), id_limit(id_type))
    token, more = b.identifier(b.col(sync.token), None)
    flags += more
    platform_col = b.col(sync.platform)
    if platform_col.kind == "text":
        x = platform_col.sql
        flags.append(f"not ({x} is not null and {j.is_ascii(x)} and lower({x}) in ('ios', 'android'))")
        platform = Json().lit('"').sql(f"lower({x})").lit('"')
    else:
        flags.append(ALWAYS)
        platform = Json.of(None)
    device = Json().lit('{"token":').add(token).lit(',"platform":').add(platform)
    if sync.last_used is not None:
        seconds, more = b.seconds(b.col(sync.last_used))
        flags += more
        last_used = j.concat([j.literal(',"last_used":'), j.as_string(seconds)])
        device.sql(f"case when {seconds} is null then '' else {last_used} end")
    if sync.attributes:
        device.lit(',"attributes":').sql(_device_attributes(b, flags))
    device.lit("}")
    current = Branch(_item("person", obj({id_type: person}), "add_device", device=device), flags)
    return Shape(current, current, removed)


def _device_attributes(b: Fields, flags: list[str]) -> str:
    """Device attributes are text in the v2 API (Python: ``_device_attributes``): nulls are left out,
    strings as they are, anything else as its JSON text in a string. JSON values would need Python's
    compact re-encoding: rows holding one go to Python."""
    j = b.j
    pieces: list[str] = []
    for name, column in b.sync.attributes.items():
        c = b.col(column)
        value, more = b.value(c, None)
        flags += more
        if c.kind == "json":
            flags.append(f"{c.sql} is not null")
        text = value.render(j)
        quoted = j.concat([j.literal('"'), text, j.literal('"')])
        as_text = f"case when left({text}, 1) = '\"' then {text} else {quoted} end"
        entry = j.concat([j.literal("," + dumps(name) + ":"), as_text])
        pieces.append(f"case when {text} = 'null' then '' else {entry} end")
    joined = pieces[0] if len(pieces) == 1 else j.concat(pieces)
    return j.concat([j.literal("{"), f"substr({joined}, 2)", j.literal("}")])


def _collection_row(b: Fields) -> Branch:
    """One row of a collection: ``{name: value}`` for the mapped attributes (every column by default), as
    :func:`dbt_cio.payloads.collections.collection_data` builds it."""
    sync = b.sync
    attrs = tuple(sync.attributes.items()) or tuple((column, column) for column in sync.columns)
    fields, flags = b.attributes(attrs, checked=False)
    return Branch(obj(fields), flags)


_SHAPES = {
    "person": _person,
    "event": _event,
    "object": _object,
    "relationship": _relationship,
    "segment": _segment,
    "device": _device,
}


def shape_of(sync: Sync, j: JsonSql, columns: Mapping[str, Column], *, now: int) -> Shape:
    """The rendering of ``sync``'s diff rows (``columns``: every column the sync reads, by the name the
    block uses); ``now`` stamps events without a timestamp, as the Python mapper's ``now`` does."""
    b = Fields(sync, j, columns, now=now)
    if sync.type == "collection":
        row = _collection_row(b)
        return Shape(row, row, row, numeric_fields=b.numeric_fields)
    shape = _SHAPES[sync.type](b)
    shape.numeric_fields = b.numeric_fields
    return shape
