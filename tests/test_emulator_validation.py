"""Item validation: structural checks and data limits, and Customer.io's OpenAPI schemas (table tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dbt_cio.emulator.validation import (
    SCHEMA_NAMES,
    ItemSchemas,
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
    return [pytest.param(names[n]["example"], id=n) for n in sorted(set(SCHEMA_NAMES.values())) if "example" in names[n]
            and "type" in names[n]["example"]]


@pytest.mark.parametrize("example", _examples())
def test_customerios_own_examples_pass(example: dict[str, Any], schemas: ItemSchemas) -> None:
    assert check_item(example) is None
    assert schemas.check(example) is None


VALID = [
    {"type": "person", "identifiers": {"email": "a@b.c"}, "action": "identify", "attributes": {"a": [1, 2], "_update": True}},
    {"type": "person", "identifiers": {"cio_id": "a3000001"}, "action": "delete"},
    {"type": "person", "anonymous_id": "anon", "action": "page", "name": "/"},
    {"type": "person", "identifiers": {"id": "1"}, "action": "event", "name": "n", "id": "01HZ", "timestamp": 1},
    {"type": "person", "identifiers": {"id": "1"}, "action": "add_device",
     "device": {"token": "t", "platform": "android", "last_used": 5, "attributes": {"app_version": "1"}}},
    {"type": "person", "action": "merge", "primary": {"id": "1"}, "secondary": {"email": "x@y.z"}},
    {"type": "object", "identifiers": {"object_type_id": "2", "object_id": "c"}, "action": "delete_relationships",
     "cio_relationships": [{"identifiers": {"email": "a@b.c"}}]},
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
    ({"type": "object", "identifiers": {"object_type_id": "1", "object_id": "o"}, "action": "event"},
     "invalid", "action"),
    ({"type": "person", "identifiers": {"id": "1"}, "action": "identify", "attributes": []}, "invalid", "attributes"),
    ({"type": "person", "identifiers": {"id": "1"}, "action": "screen", "name": ""}, "required", "name"),
    ({"type": "person", "identifiers": {"id": "1"}, "action": "add_device", "device": {}}, "required", "device.token"),
    ({"type": "person", "identifiers": {"id": "1"}, "action": "add_relationships",
      "cio_relationships": [{"identifiers": {"object_type_id": "1"}}]}, "invalid",
     "cio_relationships[0].identifiers.object_id"),
    ({"type": "object", "identifiers": {"object_type_id": "1", "object_id": "o"}, "action": "add_relationships",
      "cio_relationships": [{"identifiers": {"id": "1"}, "relationship_attributes": {"r": "v" * 1001}}]},
     "too_long", "cio_relationships[0].relationship_attributes.r"),
    ({"type": "person", "action": "merge", "primary": {"id": "1"}}, "required", "secondary"),
]


@pytest.mark.parametrize("item, reason, field", INVALID_STRUCTURE)
def test_structural_checks(item: Any, reason: str, field: str) -> None:
    problem = check_item(item)
    assert problem is not None
    assert (problem.reason, problem.field) == (reason, field)


@pytest.mark.parametrize("item, field", [
    ({"type": "person", "identifiers": {"id": "1"}, "action": "identify", "timestamp": "yesterday"}, "timestamp"),
    ({"type": "person", "identifiers": {"id": "1"}, "action": "event", "name": "n", "timestamp": 1.5}, "timestamp"),
    ({"type": "person", "identifiers": {"id": "1"}, "action": "add_device",
      "device": {"token": "t", "platform": "ios", "attributes": {"custom": 3}}}, "device.attributes.custom"),
    ({"type": "delivery", "identifiers": {"id": "d"}, "action": "event", "name": "clicked",
      "attributes": {"device_token": "t"}}, "name"),
])
def test_schema_catches_what_structure_does_not(item: dict[str, Any], field: str, schemas: ItemSchemas) -> None:
    assert check_item(item) is None
    problem = schemas.check(item)
    assert problem is not None and problem.field == field and problem.message


def test_item_size_is_measured_unless_the_caller_already_knows(schemas: ItemSchemas) -> None:
    big = {"type": "person", "identifiers": {"id": "1"}, "action": "identify",
           "attributes": {f"a{i}": "x" * 999 for i in range(33)}}
    problem = check_item(big)
    assert problem is not None and problem.reason == "too_large"
    assert check_item(big, size_checked=True) is None


def test_collection_limits() -> None:
    assert check_collection([{"a": 1}]) is None
    assert check_collection({"a": 1}) == "collection data must be an array of objects"
    assert "row 1" in (check_collection([{"a": 1}, 5]) or "")
    assert "row 0" in (check_collection([{"a": "x" * 10_000}]) or "")
    assert "per collection" in (check_collection([{"a": "x" * 9_000}] * 1112) or "")
