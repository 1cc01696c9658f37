"""Customer.io's data limits: each broken limit is refused with its reason and field; valid items pass."""

from __future__ import annotations

from typing import Any

import pytest
from openapi import validate_batch_item

from dbt_cio.customerio import limits
from dbt_cio.customerio.limits import check_collection, check_identifier, check_item, dumps


def person(**attributes: Any) -> dict[str, Any]:
    return {"type": "person", "identifiers": {"id": "42"}, "action": "identify", "attributes": attributes}


VALID = [
    person(first_name="Jane", plan="premium", seats=3, active=True, gone=None),
    person(bio="é" * 500),  # 1000 bytes exactly
    person(**{f"a{i}": i for i in range(limits.MAX_ATTRIBUTES)}),
    person(**{"n" * limits.MAX_ATTRIBUTE_NAME_BYTES: 1}),
    {
        "type": "person",
        "identifiers": {"email": "a@b.c"},
        "action": "event",
        "name": "x" * 100,
        "id": "01HZY5X7GQ9V8W6T5R4Q3P2N1M",
        "timestamp": 1700000000,
        "attributes": {"price": 3},
    },
    {"type": "person", "anonymous_id": "anon-1", "action": "page", "name": "/home"},
    {
        "type": "object",
        "identifiers": {"object_type_id": "1", "object_id": "o" * 150},
        "action": "identify",
        "attributes": {"name": "Acme"},
    },
    {"type": "person", "identifiers": {"id": "42"}, "action": "delete"},
]
RELATIONSHIP = {
    "type": "object",
    "identifiers": {"object_type_id": "1", "object_id": "acme"},
    "action": "add_relationships",
    "cio_relationships": [{"identifiers": {"id": "42"}, "relationship_attributes": {"role": "admin"}}],
}


@pytest.mark.parametrize("item", VALID)
def test_valid_items_pass_and_match_the_openapi_document(item: dict[str, Any]) -> None:
    validate_batch_item(item)
    assert check_item(item) is None


BROKEN = [
    (
        "identifier is longer than 150 bytes",
        "identifiers.id",
        {"type": "person", "identifiers": {"id": "x" * 151}, "action": "identify"},
    ),
    (
        "identifier is longer than 150 bytes",
        "identifiers.id",
        {"type": "person", "identifiers": {"id": "é" * 76}, "action": "identify"},
    ),  # 152 bytes, 76 chars
    (
        "identifier is longer than 150 bytes",
        "identifiers.object_id",
        {
            "type": "object",
            "identifiers": {"object_type_id": "1", "object_id": "y" * 151},
            "action": "delete",
        },
    ),
    (
        "identifier is empty",
        "identifiers.id",
        {"type": "person", "identifiers": {"id": ""}, "action": "delete"},
    ),
    ("attribute value is longer than 1000 bytes", "attributes.bio", person(bio="b" * 1001)),
    ("attribute value is longer than 1000 bytes", "attributes.tags", person(tags=["t" * 600, "u" * 600])),
    ("attribute name is longer than 150 bytes", "attributes." + "n" * 40, person(**{"n" * 151: 1})),
    ("301 attributes, more than the 300 allowed", "attributes", person(**{f"a{i}": i for i in range(301)})),
    (
        "event name is longer than 100 bytes",
        "name",
        {"type": "person", "identifiers": {"id": "1"}, "action": "event", "name": "e" * 101},
    ),
    ("event name is missing", "name", {"type": "person", "identifiers": {"id": "1"}, "action": "event"}),
    ("type must be person, object or delivery", "type", {"type": "company", "action": "identify"}),
    ("action is missing", "action", {"type": "person", "identifiers": {"id": "1"}}),
    ("identifiers are missing", "identifiers", {"type": "person", "action": "identify"}),
    (
        "identifier is longer than 150 bytes",
        "cio_relationships[1].identifiers.id",
        {
            "type": "object",
            "identifiers": {"object_type_id": "1", "object_id": "a"},
            "action": "add_relationships",
            "cio_relationships": [{"identifiers": {"id": "ok"}}, {"identifiers": {"id": "z" * 200}}],
        },
    ),
]


def test_relationship_items_pass() -> None:
    # Not validated against the OpenAPI document: its relationship identifiers are a oneOf of schemas
    # with no required keys, so even the document's own example matches several branches and fails.
    assert check_item(RELATIONSHIP) is None


@pytest.mark.parametrize(("reason", "field", "item"), BROKEN, ids=[b[0][:30] for b in BROKEN])
def test_each_broken_limit_is_named(reason: str, field: str, item: dict[str, Any]) -> None:
    assert check_item(item) == (reason, field)


def test_an_item_over_32_kb_is_refused_before_anything_else() -> None:
    item = person(**{f"a{i}": "v" * 200 for i in range(170)})
    size = len(dumps(item).encode())
    assert size > limits.MAX_ITEM_BYTES
    problem = check_item(item)
    assert problem is not None and problem[0].startswith(f"item is {size} bytes")
    # a caller that already measured the item passes its size and is believed
    assert check_item(person(a=1), size=limits.MAX_ITEM_BYTES + 1) is not None
    assert check_item(item, size=100) is None


def test_object_attributes_over_100_kb_are_refused_by_the_tighter_item_limit() -> None:
    item = {
        "type": "object",
        "identifiers": {"object_type_id": "1", "object_id": "a"},
        "action": "identify",
        "attributes": {f"a{i}": "v" * 1000 for i in range(101)},
    }
    problem = check_item(item)
    assert problem is not None and "more than the 32000 allowed" in problem[0]


def test_long_values_are_found_in_items_of_any_shape() -> None:
    # names and values are only examined when the item is big enough to hold a long one
    assert check_item(person(a="x" * 999, b="y" * 999)) is None
    assert check_item(person(a="x" * 999, b="é" * 501)) == (
        "attribute value is longer than 1000 bytes",
        "attributes.b",
    )
    assert check_item(person(**{"é" * 76: 1})) == (
        "attribute name is longer than 150 bytes",
        "attributes." + "é" * 40,
    )
    assert check_item(person(**{"é" * 75: 1})) is None


def test_check_identifier() -> None:
    assert check_identifier("a" * 150) is None
    assert check_identifier(12345) is None
    assert check_identifier(None, "identifier") == (
        "identifier must be a string or integer, got NoneType",
        "identifier",
    )
    assert check_identifier(True) is not None


def test_collection_limits() -> None:
    assert check_collection([{"a": 1}] * 10) is None
    row = {"b": "x" * 10_001}
    assert check_collection([{"a": 1}, row]) == (
        f"row is {len(dumps(row))} bytes, more than the 10000 allowed",
        "data[1]",
    )
    too_big = [{"b": "x" * 9_000}] * 1200
    problem = check_collection(too_big)
    assert problem is not None and problem[1] == "data"


def test_dumps_is_compact_and_keeps_utf8() -> None:
    assert dumps({"a": [1, 2], "b": "é"}) == '{"a":[1,2],"b":"é"}'
