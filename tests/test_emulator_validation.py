"""Item validation: structural checks and data limits, and Customer.io's OpenAPI schemas (table tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dbt_cio.emulator.validation import (
    SCHEMA_NAMES,
    ItemSchemas,
    batch_items,
    check_collection,
    check_item,
    load_openapi,
)


@pytest.fixture(scope="module")
def schemas() -> ItemSchemas:
    return ItemSchemas()


def test_shipped_document_is_customerios(openapi_path: Path) -> None:
    assert load_openapi() == json.loads(openapi_path.read_text())


def test_every_mapped_schema_exists() -> None:
    names = load_openapi()["components"]["schemas"]
    assert all(name in names for name in SCHEMA_NAMES.values())


def _examples() -> list[Any]:
    """Customer.io's own example for each v2 item kind (the delivery example needs its required fields)."""
    names = load_openapi()["components"]["schemas"]
    return [
        pytest.param(names[n]["example"], id=n)
        for n in sorted(set(SCHEMA_NAMES.values()))
        if "example" in names[n] and "type" in names[n]["example"]
    ]


@pytest.mark.parametrize("example", _examples())
def test_customerios_own_examples_pass(example: dict[str, Any], schemas: ItemSchemas) -> None:
    assert check_item(example) is None
    assert schemas.check(example) is None


VALID = [
    {
        "type": "person",
        "identifiers": {"email": "a@b.c"},
        "action": "identify",
        "attributes": {"a": [1, 2], "_update": True},
    },
    {"type": "person", "identifiers": {"cio_id": "a3000001"}, "action": "delete"},
    {"type": "person", "anonymous_id": "anon", "action": "page", "name": "/"},
    {
        "type": "person",
        "identifiers": {"id": "1"},
        "action": "event",
        "name": "n",
        "id": "01HZ",
        "timestamp": 1,
    },
    {
        "type": "person",
        "identifiers": {"id": "1"},
        "action": "add_device",
        "device": {"token": "t", "platform": "android", "last_used": 5, "attributes": {"app_version": "1"}},
    },
    {"type": "person", "action": "merge", "primary": {"id": "1"}, "secondary": {"email": "x@y.z"}},
    {
        "type": "object",
        "identifiers": {"object_type_id": "2", "object_id": "c"},
        "action": "delete_relationships",
        "cio_relationships": [{"identifiers": {"email": "a@b.c"}}],
    },
    {"type": "person", "identifiers": {"id": "é" * 75}, "action": "identify"},  # 150 bytes exactly
]


@pytest.mark.parametrize("item", VALID)
def test_valid_items(item: dict[str, Any], schemas: ItemSchemas) -> None:
    assert check_item(item) is None
    assert schemas.check(item) is None


INVALID_STRUCTURE = [
    ("not an object", "invalid", ""),
    ({"type": "person", "action": "identify"}, "required", "identifiers"),
    ({"type": "person", "identifiers": {}, "action": "identify"}, "invalid", "identifiers"),
    ({"type": "person", "identifiers": {"id": ""}, "action": "identify"}, "invalid", "identifiers.id"),
    ({"type": "person", "identifiers": {"id": 42}, "action": "identify"}, "invalid", "identifiers.id"),
    ({"type": "person", "identifiers": {"id": "é" * 76}, "action": "identify"}, "too_long", "identifiers.id"),
    ({"type": "person", "identifiers": {"id": "1"}, "action": "fly"}, "invalid", "action"),
    (
        {"type": "object", "identifiers": {"object_type_id": "1", "object_id": "o"}, "action": "event"},
        "invalid",
        "action",
    ),
    (
        {"type": "person", "identifiers": {"id": "1"}, "action": "identify", "attributes": []},
        "invalid",
        "attributes",
    ),
    ({"type": "person", "identifiers": {"id": "1"}, "action": "screen", "name": ""}, "required", "name"),
    (
        {"type": "person", "identifiers": {"id": "1"}, "action": "add_device", "device": {}},
        "required",
        "device.token",
    ),
    (
        {
            "type": "person",
            "identifiers": {"id": "1"},
            "action": "add_relationships",
            "cio_relationships": [{"identifiers": {"object_type_id": "1"}}],
        },
        "invalid",
        "cio_relationships[0].identifiers.object_id",
    ),
    (
        {
            "type": "object",
            "identifiers": {"object_type_id": "1", "object_id": "o"},
            "action": "add_relationships",
            "cio_relationships": [{"identifiers": {"id": "1"}, "relationship_attributes": {"r": "v" * 1001}}],
        },
        "too_long",
        "cio_relationships[0].relationship_attributes.r",
    ),
    ({"type": "person", "action": "merge", "primary": {"id": "1"}}, "required", "secondary"),
]


@pytest.mark.parametrize("item, reason, field", INVALID_STRUCTURE)
def test_structural_checks(item: Any, reason: str, field: str) -> None:
    problem = check_item(item)
    assert problem is not None
    assert (problem.reason, problem.field) == (reason, field)


@pytest.mark.parametrize(
    "item, field",
    [
        (
            {"type": "person", "identifiers": {"id": "1"}, "action": "identify", "timestamp": "yesterday"},
            "timestamp",
        ),
        (
            {"type": "person", "identifiers": {"id": "1"}, "action": "event", "name": "n", "timestamp": 1.5},
            "timestamp",
        ),
        (
            {
                "type": "person",
                "identifiers": {"id": "1"},
                "action": "add_device",
                "device": {"token": "t", "platform": "ios", "attributes": {"custom": 3}},
            },
            "device.attributes.custom",
        ),
        (
            {
                "type": "delivery",
                "identifiers": {"id": "d"},
                "action": "event",
                "name": "clicked",
                "attributes": {"device_token": "t"},
            },
            "name",
        ),
    ],
)
def test_schema_catches_what_structure_does_not(
    item: dict[str, Any], field: str, schemas: ItemSchemas
) -> None:
    assert check_item(item) is None
    problem = schemas.check(item)
    assert problem is not None and problem.field == field and problem.message


def test_item_size_is_measured_unless_the_caller_already_knows(schemas: ItemSchemas) -> None:
    big = {
        "type": "person",
        "identifiers": {"id": "1"},
        "action": "identify",
        "attributes": {f"a{i}": "x" * 999 for i in range(33)},
    }
    problem = check_item(big)
    assert problem is not None and problem.reason == "too_large"
    assert check_item(big, size=31_000) is None  # the caller measured it as sent: believed
    assert (
        check_item({"type": "person", "identifiers": {"id": "1"}, "action": "identify"}, size=32_001)
        is not None
    )


def test_batch_items_are_measured_as_sent() -> None:
    item = {"type": "person", "identifiers": {"id": "1"}, "action": "identify", "attributes": {"name": "Zoë"}}
    compact = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
    spaced = json.dumps(item)
    body = '\n { "batch" : [ ' + compact + " ,\t" + spaced + " ] } \n"
    assert batch_items(body) == [(item, len(compact.encode())), (item, len(spaced))]
    assert batch_items('{"batch":[]}') == []
    # any other shape is left to a whole parse
    for other in ('{"batch":[1,]}', '{"batch":[1]', '{"batch":[1],"x":2}', '{"x":1,"batch":[1]}', "[1]", ""):
        assert batch_items(other) is None, other


def test_collection_limits() -> None:
    assert check_collection([{"a": 1}]) is None
    assert check_collection({"a": 1}) == "collection data must be an array of objects"
    assert "row 1" in (check_collection([{"a": 1}, 5]) or "")
    assert "row 0" in (check_collection([{"a": "x" * 10_000}]) or "")
    assert "per collection" in (check_collection([{"a": "x" * 9_000}] * 1112) or "")


def _constraints(node: Any, names: dict[str, Any], seen: set[str], key: str = "") -> list[tuple[str, str]]:
    """(property name, keyword) of every keyword in the item schemas that looks at more than a type."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                name = v.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    found += _constraints(names[name], names, seen, key)
            elif k in ("example", "examples", "description", "default"):
                continue
            elif k == "properties":
                for prop, sub in v.items():
                    found += _constraints(sub, names, seen, prop)
            else:
                if k in (
                    "enum",
                    "const",
                    "pattern",
                    "minLength",
                    "maxLength",
                    "minimum",
                    "maximum",
                    "exclusiveMinimum",
                    "exclusiveMaximum",
                    "multipleOf",
                    "propertyNames",
                    "patternProperties",
                    "dependentRequired",
                    "not",
                    "if",
                    "contains",
                ):
                    found.append((key, k))
                found += _constraints(v, names, seen, key)
    elif isinstance(node, list):
        for v in node:
            found += _constraints(v, names, seen, key)
    return found


def test_schemas_constrain_values_only_where_the_shape_cache_keeps_them() -> None:
    from dbt_cio.emulator.validation import _DEVICE_ENUM_KEYS, _TOP_ENUM_KEYS

    names = load_openapi()["components"]["schemas"]
    found = set()
    for name in SCHEMA_NAMES.values():
        found |= set(_constraints(names[name], names, {name}))
    assert {kw for _, kw in found} == {"enum"}
    assert {prop for prop, _ in found} <= _TOP_ENUM_KEYS | _DEVICE_ENUM_KEYS


def test_shape_cache_never_accepts_an_invalid_value(schemas: ItemSchemas) -> None:
    device = {
        "type": "person",
        "identifiers": {"id": "1"},
        "action": "add_device",
        "device": {"token": "t", "platform": "ios", "last_used": 1.0, "attributes": {"push_enabled": "true"}},
    }
    assert schemas.check(device) is None
    assert schemas.check({**device, "identifiers": {"id": "2"}}) is None  # same shape
    for bad in ({"platform": "web"}, {"last_used": 1.5}, {"attributes": {"push_enabled": "yes"}}):
        problem = schemas.check({**device, "device": {**device["device"], **bad}})
        assert problem is not None, bad


@pytest.mark.parametrize(
    "value",
    [
        "x",
        "\x1f" * 50,
        "é" * 10,
        "\U0001f600" * 7,
        10**40,
        -(10**40),
        1.2345678901234567e-300,
        None,
        True,
        {"a": [None, True, "é", {"b": '\\"'}]},
        [[], {}, ""],
        "'\"" * 20,
        "\u200b\u00ff\U0010ffff" * 9,
        {"é" * 5: "\U0001f600"},
    ],
)
def test_size_bound_is_an_upper_bound(value: Any) -> None:
    from dbt_cio.emulator.validation import _json_bytes, _size_bound

    assert _size_bound(value) >= _json_bytes(value)
