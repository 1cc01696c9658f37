"""dbt_cio.payloads (mappers and collections): every sync type, change kind and mode mapped to Customer.io operations.

Every batch item built here is also validated against Customer.io's OpenAPI document (tests/openapi.py),
and segment changes are checked as the v1 request bodies they become.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
from openapi import validate_batch_item, validate_request

from dbt_cio.contract.model import SYNC_TYPES, Identifier, NamedRef, Sync, SyncType
from dbt_cio.customerio.limits import MAX_COLLECTION_BYTES, MAX_COLLECTION_ROW_BYTES
from dbt_cio.customerio.operations import BatchItem, Operation, SegmentChange
from dbt_cio.customerio.ulid import event_ulid
from dbt_cio.errors import CollectionError, CollectionTooLarge, DbtCioError
from dbt_cio.payloads.collections import collection_data
from dbt_cio.payloads.mappers import RowRejected, mapper_for, to_operations
from dbt_cio.warehouse.changes import RowChange

NOW = 1_750_000_000
T0 = 1719828000  # 2024-07-01T10:00:00Z
REF = ("key", "op")


def _sync(type_: SyncType, name: str, columns: tuple[str, ...], **fields: Any) -> Sync:
    return Sync(
        name=name,
        model=f"cio_{name}",
        unique_id=f"model.it.cio_{name}",
        relation=f'"main"."cio_{name}"',
        type=type_,
        columns=columns,
        **fields,
    )


PEOPLE = _sync(
    "person",
    "people",
    ("customer_id", "email", "plan", "lifetime_value", "signed_up_at", "is_active"),
    identifier=Identifier("customer_id"),
    attributes={
        "email": "email",
        "plan": "plan",
        "ltv": "lifetime_value",
        "signed_up_at": "signed_up_at",
        "is_active": "is_active",
    },
    mode="upsert",
    on_delete="nothing",
)
ORDERS = _sync(
    "event",
    "orders",
    ("order_id", "customer_id", "anonymous_id", "event_name", "amount", "ordered_at"),
    identifier=Identifier("customer_id"),
    attributes={"amount": "amount"},
    event_type="track",
    name_column="event_name",
    event_id="order_id",
    anonymous_id="anonymous_id",
    timestamp="ordered_at",
)
PAGE_VIEWS = _sync(
    "event",
    "page_views",
    ("view_id", "customer_id", "url", "viewed_at"),
    identifier=Identifier("customer_id"),
    attributes={},
    event_type="page",
    name_column="url",
    event_id="view_id",
    timestamp="viewed_at",
)
SCREENS = _sync(
    "event",
    "screens",
    ("screen_id", "email", "app_version"),
    identifier=Identifier("email", "email"),
    attributes={"app_version": "app_version"},
    event_type="screen",
    event_name="Home",
    event_id="screen_id",
)
COMPANIES = _sync(
    "object",
    "companies",
    ("company_id", "company_name", "employees"),
    object_type_id="1",
    object_id="company_id",
    attributes={"name": "company_name", "employees": "employees"},
    on_delete="delete",
)
MEMBERS = _sync(
    "relationship",
    "members",
    ("company_id", "customer_id", "role"),
    object_type_id="1",
    object_id="company_id",
    identifier=Identifier("customer_id"),
    attributes={"role": "role"},
    mode="mirror",
)
PRO = _sync(
    "segment",
    "pro",
    ("customer_id",),
    identifier=Identifier("customer_id"),
    mode="mirror",
    segment=NamedRef(name="Pro customers"),
)
DEVICES = _sync(
    "device",
    "devices",
    ("device_token", "customer_id", "platform", "last_used_at", "app_version", "push"),
    identifier=Identifier("customer_id"),
    token="device_token",
    platform="platform",
    last_used="last_used_at",
    attributes={"app_version": "app_version", "push_enabled": "push"},
    on_delete="delete",
)
PRODUCTS = _sync(
    "collection",
    "products",
    ("sku", "name", "price", "in_stock"),
    attributes={"sku": "sku", "name": "name", "price": "price", "in_stock": "in_stock"},
    collection=NamedRef(name="products"),
    mode="replace",
)

PERSON_ROW = {
    "customer_id": 42,
    "email": "ada@example.com",
    "plan": "pro",
    "lifetime_value": Decimal("1200.50"),
    "signed_up_at": dt.datetime(2024, 7, 1, 10),
    "is_active": True,
}
PERSON_ATTRS = {
    "email": "ada@example.com",
    "plan": "pro",
    "ltv": 1200.5,
    "signed_up_at": T0,
    "is_active": True,
}
CLEARED = {"email": "", "plan": "", "ltv": "", "signed_up_at": "", "is_active": "", "_update": True}


def added(values: Mapping[str, Any], key: str = "k") -> RowChange:
    return RowChange(key=key, change="added", values=values)


def changed(values: Mapping[str, Any], key: str = "k") -> RowChange:
    return RowChange(key=key, change="changed", values=values)


def removed(values: Mapping[str, Any], key: str = "k") -> RowChange:
    return RowChange(key=key, change="removed", values=values)


def operations(sync: Sync, change: RowChange, **kwargs: Any) -> list[Operation]:
    """to_operations, with every batch item checked against the OpenAPI document."""
    result = to_operations(sync, change, ref=REF, now=NOW, **kwargs)
    assert len(result) <= 1  # one change, at most one operation: its ref is acknowledged once
    for op in result:
        assert op.ref == REF
        if isinstance(op, BatchItem):
            validate_batch_item(op.item)
            json.dumps(op.item, allow_nan=False)
        else:
            validate_request(
                f"/api/v1/segments/{op.segment_id}/{'add' if op.add else 'remove'}_customers",
                "post",
                {"ids": [op.identifier]},
            )
    return result


def items(sync: Sync, change: RowChange, **kwargs: Any) -> list[dict[str, Any]]:
    ops = operations(sync, change, **kwargs)
    assert all(isinstance(op, BatchItem) for op in ops)
    return [dict(op.item) for op in ops if isinstance(op, BatchItem)]


# --- person -----------------------------------------------------------------------------------------

PERSON_CASES = [
    (
        "upsert added",
        {},
        added(PERSON_ROW),
        [{"type": "person", "identifiers": {"id": "42"}, "action": "identify", "attributes": PERSON_ATTRS}],
    ),
    (
        "upsert changed",
        {},
        changed(PERSON_ROW),
        [{"type": "person", "identifiers": {"id": "42"}, "action": "identify", "attributes": PERSON_ATTRS}],
    ),
    (
        "update added",
        {"mode": "update"},
        added(PERSON_ROW),
        [
            {
                "type": "person",
                "identifiers": {"id": "42"},
                "action": "identify",
                "attributes": {**PERSON_ATTRS, "_update": True},
            }
        ],
    ),
    (
        "update changed",
        {"mode": "update"},
        changed(PERSON_ROW),
        [
            {
                "type": "person",
                "identifiers": {"id": "42"},
                "action": "identify",
                "attributes": {**PERSON_ATTRS, "_update": True},
            }
        ],
    ),
    ("removed, on_delete nothing", {"on_delete": "nothing"}, removed({"customer_id": "42"}), []),
    ("removed, on_delete default", {"on_delete": None}, removed({"customer_id": "42"}), []),
    (
        "removed, on_delete clear",
        {"on_delete": "clear"},
        removed({"customer_id": "42"}),
        [{"type": "person", "identifiers": {"id": "42"}, "action": "identify", "attributes": CLEARED}],
    ),
    (
        "update removed, on_delete clear",
        {"mode": "update", "on_delete": "clear"},
        removed({"customer_id": "42"}),
        [{"type": "person", "identifiers": {"id": "42"}, "action": "identify", "attributes": CLEARED}],
    ),
    (
        "removed, on_delete delete",
        {"on_delete": "delete"},
        removed({"customer_id": "42"}),
        [{"type": "person", "identifiers": {"id": "42"}, "action": "delete"}],
    ),
    (
        "matched by email",
        {"identifier": Identifier("email", "email"), "attributes": {"plan": "plan"}},
        added(PERSON_ROW),
        [
            {
                "type": "person",
                "identifiers": {"email": "ada@example.com"},
                "action": "identify",
                "attributes": {"plan": "pro"},
            }
        ],
    ),
    (
        "matched by cio_id",
        {"identifier": Identifier("customer_id", "cio_id"), "attributes": {}},
        added({"customer_id": "a3000001"}),
        [{"type": "person", "identifiers": {"cio_id": "a3000001"}, "action": "identify", "attributes": {}}],
    ),
    (
        "removed by email",
        {"identifier": Identifier("email", "email"), "on_delete": "delete"},
        removed({"email": "ada@example.com"}),
        [{"type": "person", "identifiers": {"email": "ada@example.com"}, "action": "delete"}],
    ),
    (
        "nulls, NaN and decimals",
        {"attributes": {"plan": "plan", "ltv": "lifetime_value", "score": "score"}},
        added(
            {
                "customer_id": Decimal(7),
                "plan": None,
                "lifetime_value": float("nan"),
                "score": Decimal("0.1"),
            }
        ),
        [
            {
                "type": "person",
                "identifiers": {"id": "7"},
                "action": "identify",
                "attributes": {"plan": None, "ltv": None, "score": 0.1},
            }
        ],
    ),
    (
        "json and lists",
        {"attributes": {"tags": "tags", "address": "address"}},
        added(
            {
                "customer_id": "c-1",
                "tags": ["a", "b"],
                "address": {"city": "Paris", "since": dt.date(1970, 1, 2)},
            }
        ),
        [
            {
                "type": "person",
                "identifiers": {"id": "c-1"},
                "action": "identify",
                "attributes": {"tags": ["a", "b"], "address": {"city": "Paris", "since": 86400}},
            }
        ],
    ),
]


@pytest.mark.parametrize(
    ("fields", "change", "expected"), [c[1:] for c in PERSON_CASES], ids=[c[0] for c in PERSON_CASES]
)
def test_person(fields: dict[str, Any], change: RowChange, expected: list[dict[str, Any]]) -> None:
    assert items(dataclasses.replace(PEOPLE, **fields), change) == expected


# --- events -----------------------------------------------------------------------------------------

ORDER_ROW = {
    "order_id": "o-1001",
    "customer_id": "1",
    "anonymous_id": None,
    "event_name": "order_completed",
    "amount": Decimal("120.00"),
    "ordered_at": dt.datetime(2024, 7, 1, 10),
}


def test_track_event() -> None:
    assert items(ORDERS, added(ORDER_ROW)) == [
        {
            "type": "person",
            "identifiers": {"id": "1"},
            "action": "event",
            "id": event_ulid("orders", "o-1001", T0 * 1000),
            "name": "order_completed",
            "timestamp": T0,
            "attributes": {"amount": 120},
        }
    ]


@pytest.mark.parametrize(
    "change", [changed(ORDER_ROW), removed({"order_id": "o-1001"})], ids=["changed", "removed"]
)
def test_events_are_append_only(change: RowChange) -> None:
    assert operations(ORDERS, change) == []


def test_anonymous_event() -> None:
    row = {**ORDER_ROW, "customer_id": None, "anonymous_id": "anon-77"}
    [item] = items(ORDERS, added(row))
    assert "identifiers" not in item
    assert item["anonymous_id"] == "anon-77"
    assert item["action"] == "event"


def test_identified_event_ignores_anonymous_id() -> None:
    [item] = items(ORDERS, added({**ORDER_ROW, "anonymous_id": "anon-77"}))
    assert item["identifiers"] == {"id": "1"}
    assert "anonymous_id" not in item


def test_page_view_named_by_url_without_attributes() -> None:
    row = {
        "view_id": 17,
        "customer_id": "3",
        "url": "https://example.com/docs",
        "viewed_at": dt.datetime(2024, 7, 2, 10, tzinfo=dt.UTC),
    }
    assert items(PAGE_VIEWS, added(row)) == [
        {
            "type": "person",
            "identifiers": {"id": "3"},
            "action": "page",
            "id": event_ulid("page_views", "17", (T0 + 86400) * 1000),
            "name": "https://example.com/docs",
            "timestamp": T0 + 86400,
        }
    ]


def test_screen_with_static_name_and_no_timestamp_column_uses_now() -> None:
    row = {"screen_id": "s-1", "email": "ada@example.com", "app_version": "1.2"}
    [item] = items(SCREENS, added(row))
    assert item == {
        "type": "person",
        "identifiers": {"email": "ada@example.com"},
        "action": "screen",
        "id": event_ulid("screens", "s-1", 0),
        "name": "Home",
        "timestamp": NOW,
        "attributes": {"app_version": "1.2"},
    }


@pytest.mark.parametrize(
    ("ordered_at", "timestamp"),
    [
        (None, NOW),  # missing means now
        ("2024-07-01T10:00:00Z", T0),  # ISO text
        (dt.date(2024, 7, 1), T0 - 36000),
        (T0 * 1000, T0),  # epoch milliseconds
        (dt.datetime(2001, 1, 1), 978307200),  # the past is kept
    ],
    ids=repr,
)
def test_event_timestamps(ordered_at: Any, timestamp: int) -> None:
    [item] = items(ORDERS, added({**ORDER_ROW, "ordered_at": ordered_at}))
    assert item["timestamp"] == timestamp


def test_event_id_is_stable_across_runs_and_value_types() -> None:
    """A resend after a crash (another run, another ``now``, the id as int or decimal) keeps the same ULID."""
    first = to_operations(
        PAGE_VIEWS,
        added({"view_id": 17, "customer_id": "3", "url": "u", "viewed_at": None}),
        ref=REF,
        now=NOW,
    )
    again = to_operations(
        PAGE_VIEWS,
        added({"view_id": Decimal(17), "customer_id": "3", "url": "u", "viewed_at": None}),
        ref=REF,
        now=NOW + 3600,
    )
    assert isinstance(first[0], BatchItem) and isinstance(again[0], BatchItem)
    assert first[0].item["id"] == again[0].item["id"] == event_ulid("page_views", "17", 0)
    assert first[0].item["timestamp"] != again[0].item["timestamp"]


# --- objects ----------------------------------------------------------------------------------------

OBJECT_ID = {"object_type_id": "1", "object_id": "acme"}
COMPANY_ROW = {"company_id": "acme", "company_name": "Acme Corp", "employees": 1200}

OBJECT_CASES = [
    (
        "added",
        {},
        added(COMPANY_ROW),
        [
            {
                "type": "object",
                "identifiers": OBJECT_ID,
                "action": "identify",
                "attributes": {"name": "Acme Corp", "employees": 1200},
            }
        ],
    ),
    (
        "changed",
        {},
        changed(COMPANY_ROW),
        [
            {
                "type": "object",
                "identifiers": OBJECT_ID,
                "action": "identify",
                "attributes": {"name": "Acme Corp", "employees": 1200},
            }
        ],
    ),
    (
        "removed, delete",
        {},
        removed({"company_id": "acme"}),
        [{"type": "object", "identifiers": OBJECT_ID, "action": "delete"}],
    ),
    ("removed, nothing", {"on_delete": "nothing"}, removed({"company_id": "acme"}), []),
    ("removed, default", {"on_delete": None}, removed({"company_id": "acme"}), []),
    (
        "integer object id",
        {},
        added({**COMPANY_ROW, "company_id": 99}),
        [
            {
                "type": "object",
                "identifiers": {"object_type_id": "1", "object_id": "99"},
                "action": "identify",
                "attributes": {"name": "Acme Corp", "employees": 1200},
            }
        ],
    ),
]


@pytest.mark.parametrize(
    ("fields", "change", "expected"), [c[1:] for c in OBJECT_CASES], ids=[c[0] for c in OBJECT_CASES]
)
def test_object(fields: dict[str, Any], change: RowChange, expected: list[dict[str, Any]]) -> None:
    assert items(dataclasses.replace(COMPANIES, **fields), change) == expected


# --- relationships ----------------------------------------------------------------------------------

MEMBER_ROW = {"company_id": "acme", "customer_id": "1", "role": "admin"}

RELATIONSHIP_CASES = [
    (
        "added",
        {},
        added(MEMBER_ROW),
        [
            {
                "type": "person",
                "identifiers": {"id": "1"},
                "action": "add_relationships",
                "cio_relationships": [
                    {"identifiers": OBJECT_ID, "relationship_attributes": {"role": "admin"}}
                ],
            }
        ],
    ),
    (
        "changed",
        {},
        changed({**MEMBER_ROW, "role": "owner"}),
        [
            {
                "type": "person",
                "identifiers": {"id": "1"},
                "action": "add_relationships",
                "cio_relationships": [
                    {"identifiers": OBJECT_ID, "relationship_attributes": {"role": "owner"}}
                ],
            }
        ],
    ),
    (
        "removed, mirror",
        {},
        removed({"company_id": "acme", "customer_id": "1"}),
        [
            {
                "type": "person",
                "identifiers": {"id": "1"},
                "action": "delete_relationships",
                "cio_relationships": [{"identifiers": OBJECT_ID}],
            }
        ],
    ),
    ("removed, upsert", {"mode": "upsert"}, removed({"company_id": "acme", "customer_id": "1"}), []),
    (
        "no attributes",
        {"attributes": {}},
        added(MEMBER_ROW),
        [
            {
                "type": "person",
                "identifiers": {"id": "1"},
                "action": "add_relationships",
                "cio_relationships": [{"identifiers": OBJECT_ID}],
            }
        ],
    ),
    (
        "person by email",
        {"identifier": Identifier("customer_id", "email")},
        added({**MEMBER_ROW, "customer_id": "ada@example.com"}),
        [
            {
                "type": "person",
                "identifiers": {"email": "ada@example.com"},
                "action": "add_relationships",
                "cio_relationships": [
                    {"identifiers": OBJECT_ID, "relationship_attributes": {"role": "admin"}}
                ],
            }
        ],
    ),
]


@pytest.mark.parametrize(
    ("fields", "change", "expected"),
    [c[1:] for c in RELATIONSHIP_CASES],
    ids=[c[0] for c in RELATIONSHIP_CASES],
)
def test_relationship(fields: dict[str, Any], change: RowChange, expected: list[dict[str, Any]]) -> None:
    assert items(dataclasses.replace(MEMBERS, **fields), change) == expected


# --- segments ---------------------------------------------------------------------------------------

SEGMENT_CASES = [
    ("added", {}, added({"customer_id": 1}), [SegmentChange(REF, 7, "id", "1", True)]),
    ("changed", {}, changed({"customer_id": 1}), []),
    ("removed, mirror", {}, removed({"customer_id": "1"}), [SegmentChange(REF, 7, "id", "1", False)]),
    ("removed, add mode", {"mode": "add"}, removed({"customer_id": "1"}), []),
    (
        "by email",
        {"identifier": Identifier("customer_id", "email")},
        added({"customer_id": "ada@example.com"}),
        [SegmentChange(REF, 7, "email", "ada@example.com", True)],
    ),
    (
        "by cio_id",
        {"identifier": Identifier("customer_id", "cio_id")},
        removed({"customer_id": "a3000001"}),
        [SegmentChange(REF, 7, "cio_id", "a3000001", False)],
    ),
]


@pytest.mark.parametrize(
    ("fields", "change", "expected"), [c[1:] for c in SEGMENT_CASES], ids=[c[0] for c in SEGMENT_CASES]
)
def test_segment(fields: dict[str, Any], change: RowChange, expected: list[Operation]) -> None:
    assert operations(dataclasses.replace(PRO, **fields), change, segment_id=7) == expected


def test_segment_needs_its_id() -> None:
    with pytest.raises(ValueError, match="segment_id"):
        mapper_for(PRO, now=NOW)


# --- devices ----------------------------------------------------------------------------------------

DEVICE_ROW = {
    "device_token": "tok-ios-1",
    "customer_id": "1",
    "platform": "ios",
    "last_used_at": dt.datetime(2024, 7, 1, 10),
    "app_version": "3.1",
    "push": True,
}

DEVICE_CASES = [
    (
        "added",
        {},
        added(DEVICE_ROW),
        [
            {
                "type": "person",
                "identifiers": {"id": "1"},
                "action": "add_device",
                "device": {
                    "token": "tok-ios-1",
                    "platform": "ios",
                    "last_used": T0,
                    "attributes": {"app_version": "3.1", "push_enabled": "true"},
                },
            }
        ],
    ),
    (
        "changed, platform spelled iOS, no last use",
        {},
        changed({**DEVICE_ROW, "platform": " iOS ", "last_used_at": None}),
        [
            {
                "type": "person",
                "identifiers": {"id": "1"},
                "action": "add_device",
                "device": {
                    "token": "tok-ios-1",
                    "platform": "ios",
                    "attributes": {"app_version": "3.1", "push_enabled": "true"},
                },
            }
        ],
    ),
    (
        "android, attributes as text, nulls left out",
        {"attributes": {"build": "app_version", "push_enabled": "push"}},
        added({**DEVICE_ROW, "platform": "android", "app_version": 31, "push": None}),
        [
            {
                "type": "person",
                "identifiers": {"id": "1"},
                "action": "add_device",
                "device": {
                    "token": "tok-ios-1",
                    "platform": "android",
                    "last_used": T0,
                    "attributes": {"build": "31"},
                },
            }
        ],
    ),
    (
        "no last_used column, no attributes",
        {"last_used": None, "attributes": {}},
        added(DEVICE_ROW),
        [
            {
                "type": "person",
                "identifiers": {"id": "1"},
                "action": "add_device",
                "device": {"token": "tok-ios-1", "platform": "ios"},
            }
        ],
    ),
    (
        "removed, delete",
        {},
        removed({"customer_id": "1", "device_token": "tok-ios-1"}),
        [
            {
                "type": "person",
                "identifiers": {"id": "1"},
                "action": "delete_device",
                "device": {"token": "tok-ios-1"},
            }
        ],
    ),
    (
        "removed, nothing",
        {"on_delete": "nothing"},
        removed({"customer_id": "1", "device_token": "tok-ios-1"}),
        [],
    ),
    ("removed, default", {"on_delete": None}, removed({"customer_id": "1", "device_token": "tok-ios-1"}), []),
]


@pytest.mark.parametrize(
    ("fields", "change", "expected"), [c[1:] for c in DEVICE_CASES], ids=[c[0] for c in DEVICE_CASES]
)
def test_device(fields: dict[str, Any], change: RowChange, expected: list[dict[str, Any]]) -> None:
    assert items(dataclasses.replace(DEVICES, **fields), change) == expected


# --- rejections -------------------------------------------------------------------------------------

REJECTIONS = [
    ("person null id", PEOPLE, added({**PERSON_ROW, "customer_id": None}), "identifiers.id", "customer_id"),
    ("person empty id", PEOPLE, added({**PERSON_ROW, "customer_id": "  "}), "identifiers.id", "customer_id"),
    (
        "person NaN id",
        PEOPLE,
        added({**PERSON_ROW, "customer_id": float("nan")}),
        "identifiers.id",
        "customer_id",
    ),
    (
        "person removed null id",
        dataclasses.replace(PEOPLE, on_delete="delete"),
        removed({"customer_id": None}),
        "identifiers.id",
        "customer_id",
    ),
    ("person binary attribute", PEOPLE, added({**PERSON_ROW, "plan": b"\x00"}), "attributes.plan", "binary"),
    (
        "person unknown object",
        PEOPLE,
        added({**PERSON_ROW, "signed_up_at": object()}),
        "attributes.signed_up_at",
        "signed_up_at",
    ),
    (
        "event names nobody",
        ORDERS,
        added({**ORDER_ROW, "customer_id": None}),
        "identifiers.id",
        "anonymous_id",
    ),
    ("event without id", ORDERS, added({**ORDER_ROW, "order_id": None}), "id", "order_id"),
    ("event without name", ORDERS, added({**ORDER_ROW, "event_name": ""}), "name", "event_name"),
    ("event name a list", ORDERS, added({**ORDER_ROW, "event_name": ["x"]}), "name", "event_name"),
    (
        "event bad timestamp",
        ORDERS,
        added({**ORDER_ROW, "ordered_at": "last tuesday"}),
        "timestamp",
        "ordered_at",
    ),
    ("event bad attribute", ORDERS, added({**ORDER_ROW, "amount": b"1"}), "attributes.amount", "amount"),
    (
        "object null id",
        COMPANIES,
        added({**COMPANY_ROW, "company_id": None}),
        "identifiers.object_id",
        "company_id",
    ),
    (
        "relationship null person",
        MEMBERS,
        added({**MEMBER_ROW, "customer_id": None}),
        "identifiers.id",
        "customer_id",
    ),
    (
        "relationship null object",
        MEMBERS,
        added({**MEMBER_ROW, "company_id": None}),
        "cio_relationships.identifiers.object_id",
        "company_id",
    ),
    ("segment null person", PRO, added({"customer_id": None}), "identifiers.id", "customer_id"),
    (
        "device web platform",
        DEVICES,
        added({**DEVICE_ROW, "platform": "web"}),
        "device.platform",
        "ios or android",
    ),
    ("device null platform", DEVICES, added({**DEVICE_ROW, "platform": None}), "device.platform", "platform"),
    (
        "device null token",
        DEVICES,
        added({**DEVICE_ROW, "device_token": None}),
        "device.token",
        "device_token",
    ),
    (
        "device bad last_used",
        DEVICES,
        added({**DEVICE_ROW, "last_used_at": "soon"}),
        "device.last_used",
        "last_used_at",
    ),
]


@pytest.mark.parametrize(
    ("sync", "change", "field", "words"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_rejections_name_the_field_and_column(sync: Sync, change: RowChange, field: str, words: str) -> None:
    with pytest.raises(RowRejected) as info:
        to_operations(sync, change, ref=REF, now=NOW, segment_id=7)
    assert info.value.field == field
    assert words in info.value.reason
    assert str(info.value) == info.value.reason


def test_rejection_is_not_a_dbt_cio_error() -> None:
    """A rejected row is an expected outcome recorded per row, not a failure of the run."""
    assert not issubclass(RowRejected, DbtCioError)


def test_mapper_is_reusable_and_keeps_refs() -> None:
    mapper = mapper_for(PEOPLE, now=NOW)
    first = mapper(added({**PERSON_ROW, "customer_id": 1}), "a")
    second = mapper(added({**PERSON_ROW, "customer_id": 2}), "b")
    assert [op.ref for op in first + second] == ["a", "b"]
    identifiers = [op.item["identifiers"] for op in first + second if isinstance(op, BatchItem)]
    assert identifiers == [{"id": "1"}, {"id": "2"}]


def test_clear_items_are_not_shared_between_rows() -> None:
    mapper = mapper_for(dataclasses.replace(PEOPLE, on_delete="clear"), now=NOW)
    [one] = mapper(removed({"customer_id": "1"}), None)
    [two] = mapper(removed({"customer_id": "2"}), None)
    assert isinstance(one, BatchItem) and isinstance(two, BatchItem)
    assert one.item["attributes"] is not two.item["attributes"]


def test_collection_sync_has_no_row_mapper() -> None:
    with pytest.raises(ValueError, match="collection_data"):
        mapper_for(PRODUCTS, now=NOW)


# --- collections ------------------------------------------------------------------------------------


def test_collection_data() -> None:
    rows = [
        {"sku": "sku-1", "name": "Widget", "price": Decimal("9.99"), "in_stock": True},
        {"sku": "sku-2", "name": "Gadget", "price": float("nan"), "in_stock": None},
    ]
    assert collection_data(PRODUCTS, rows) == [
        {"sku": "sku-1", "name": "Widget", "price": 9.99, "in_stock": True},
        {"sku": "sku-2", "name": "Gadget", "price": None, "in_stock": None},
    ]


def test_collection_data_renames_and_defaults_to_every_column() -> None:
    rows = [{"sku": "a", "name": "n", "price": 1, "in_stock": False}]
    assert collection_data(dataclasses.replace(PRODUCTS, attributes={"id": "sku"}), rows) == [{"id": "a"}]
    assert collection_data(dataclasses.replace(PRODUCTS, attributes={}), rows) == rows
    assert collection_data(PRODUCTS, []) == []


def test_collection_row_over_10kb() -> None:
    rows = [
        {"sku": "ok", "name": "x", "price": 1, "in_stock": True},
        {"sku": "big", "name": "é" * (MAX_COLLECTION_ROW_BYTES // 2), "price": 1, "in_stock": True},
    ]
    with pytest.raises(CollectionTooLarge) as info:
        collection_data(PRODUCTS, rows)
    message = str(info.value)
    assert "sync 'products'" in message and "row 1" in message and f"{MAX_COLLECTION_ROW_BYTES:,}" in message
    assert isinstance(info.value, DbtCioError)


def test_collection_row_just_under_the_limit_passes() -> None:
    overhead = len(json.dumps({"sku": "", "name": "", "price": 1, "in_stock": True}, separators=(",", ":")))
    row = {"sku": "", "name": "x" * (MAX_COLLECTION_ROW_BYTES - overhead), "price": 1, "in_stock": True}
    assert collection_data(PRODUCTS, [row]) == [row]
    with pytest.raises(CollectionTooLarge):
        collection_data(PRODUCTS, [{**row, "sku": "y"}])


def test_collection_over_10mb() -> None:
    row = {"sku": "s", "name": "x" * 9000, "price": 1, "in_stock": True}
    rows = [row] * (MAX_COLLECTION_BYTES // 9000 + 5)
    with pytest.raises(CollectionTooLarge) as info:
        collection_data(PRODUCTS, rows)
    message = str(info.value)
    assert "sync 'products'" in message and "collection 'products'" in message
    assert f"{MAX_COLLECTION_BYTES:,}" in message


def test_collection_value_that_cannot_be_sent() -> None:
    rows = [
        {"sku": "a", "name": "n", "price": 1, "in_stock": True},
        {"sku": "b", "name": b"\x00", "price": 1, "in_stock": True},
    ]
    with pytest.raises(CollectionError, match=r"row 1 .*column 'name'.*binary"):
        collection_data(PRODUCTS, rows)


# --- the OpenAPI helper itself (other tests rely on it failing when it should) ---------------------------

BAD_ITEMS = [
    (
        "id not a string",
        {"type": "person", "identifiers": {"id": 42}, "action": "identify"},
        "identifiers/id",
    ),
    (
        "web platform",
        {
            "type": "person",
            "identifiers": {"id": "1"},
            "action": "add_device",
            "device": {"token": "t", "platform": "web"},
        },
        "platform",
    ),
    ("event without name", {"type": "person", "identifiers": {"id": "1"}, "action": "event"}, "name"),
    ("unknown action", {"type": "person", "identifiers": {"id": "1"}, "action": "upsert"}, "action"),
    (
        "anonymous, empty id",
        {"type": "person", "anonymous_id": "", "action": "event", "name": "x"},
        "anonymous_id",
    ),
    ("no identifiers", {"type": "person", "action": "identify"}, "identifiers"),
    (
        "object without type id",
        {"type": "object", "identifiers": {"object_id": "a"}, "action": "delete"},
        "identifiers",
    ),
]


@pytest.mark.parametrize(("item", "words"), [b[1:] for b in BAD_ITEMS], ids=[b[0] for b in BAD_ITEMS])
def test_openapi_helper_rejects_bad_items(item: dict[str, Any], words: str) -> None:
    with pytest.raises(AssertionError, match=words):
        validate_batch_item(item)


def test_openapi_helper_checks_request_bodies() -> None:
    validate_request("/api/v1/segments/7/remove_customers?id_type=email", "POST", {"ids": ["a@example.com"]})
    validate_request("/api/v2/batch", "post", {"batch": [{"type": "person", "identifiers": {"id": "1"},
                                                          "action": "delete"}]})  # fmt: skip
    with pytest.raises(AssertionError, match="ids"):
        validate_request("/api/v1/segments/7/add_customers", "post", {"ids": []})
    with pytest.raises(AssertionError, match="no path"):
        validate_request("/api/v9/nothing", "post", {})


# --- every sync of the integration project, on rows from a real warehouse -----------------------------


def _warehouse_rows(project: Any, relations: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every row of each relation, as the target's driver returns them (what the diff hands over)."""
    if project.target == "duckdb":
        import duckdb

        conn: Any = duckdb.connect(project.env["DBT_CIO_DUCKDB_PATH"], read_only=True)
    else:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test")
    try:
        out = {}
        for relation in relations:
            cursor = conn.cursor()
            cursor.execute(f"select * from {relation}")
            names = [d[0] for d in cursor.description]
            out[relation] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return out
    finally:
        conn.close()


def test_every_integration_sync_maps_real_rows(built_project: Any) -> None:
    from dbt_cio.contract.resolve import load_syncs

    manifest = json.loads((built_project.path / "target" / "manifest.json").read_text())
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    rows = _warehouse_rows(built_project, [n["relation_name"] for n in nodes])
    syncs = load_syncs(nodes, lambda node: list(rows[node["relation_name"]][0]))
    assert {s.type for s in syncs} == set(SYNC_TYPES)

    sent: dict[str, list[Operation]] = {}
    for sync in syncs:
        model_rows = rows[sync.relation]
        assert model_rows, sync.name
        if sync.type == "collection":
            data = collection_data(sync, model_rows)
            assert len(data) == len(model_rows)
            json.dumps(data, allow_nan=False)
            continue
        mapper = mapper_for(sync, now=NOW, segment_id=7)
        sent[sync.name] = []
        for index, row in enumerate(model_rows):
            key_text = {c: str(row[c]) for c in sync.key_columns}
            values = {c: row[c] for c in (*sync.key_columns, *sync.value_columns)}
            for change in (added(values), changed(values), removed(key_text)):
                for op in mapper(change, (sync.name, index, change.change)):
                    if isinstance(op, BatchItem):
                        validate_batch_item(op.item)
                        json.dumps(op.item, allow_nan=False)
                    sent[sync.name].append(op)

    def items_of(name: str, action: str) -> list[dict[str, Any]]:
        return [
            dict(op.item) for op in sent[name] if isinstance(op, BatchItem) and op.item["action"] == action
        ]

    people = items_of("cio_people", "identify")
    assert people and all(isinstance(p["attributes"]["signed_up_at"], int) for p in people)
    assert {type(p["attributes"]["lifetime_value"]) for p in people} <= {int, float, type(None)}
    assert 1200.5 in [p["attributes"]["lifetime_value"] for p in people]
    assert len(items_of("cio_people", "delete")) == len(people) // 2  # on_delete: delete, once per row
    assert all(p["attributes"]["_update"] is True for p in items_of("cio_people_by_email", "identify"))
    orders = items_of("cio_orders", "event")
    assert len(orders) == len(rows[next(s.relation for s in syncs if s.name == "cio_orders")])  # added only
    assert [o["anonymous_id"] for o in orders if "identifiers" not in o] == ["anon-77"]
    assert all(o["name"].startswith("https://") for o in items_of("cio_page_views", "page"))
    assert items_of("cio_companies", "delete")
    assert items_of("cio_company_members", "delete_relationships")
    assert {d["device"]["platform"] for d in items_of("cio_devices", "add_device")} == {"ios", "android"}
    segment = [op for op in sent["pro_customers"] if isinstance(op, SegmentChange)]
    assert {op.add for op in segment} == {True, False}


# --- what the emulator (a stand-in for Customer.io) does with the items, over real HTTP ---------------


async def test_items_applied_by_the_emulator_over_http() -> None:
    import aiohttp

    from dbt_cio.emulator import Emulator, serve

    def batch_of(*pairs: tuple[Sync, RowChange]) -> list[dict[str, Any]]:
        out = []
        for sync, change in pairs:
            for op in to_operations(sync, change, ref=None, now=NOW):
                assert isinstance(op, BatchItem)
                out.append(dict(op.item))
        return out

    people_delete = dataclasses.replace(PEOPLE, on_delete="delete")
    by_email = dataclasses.replace(PEOPLE, identifier=Identifier("email", "email"), mode="update",
                                   on_delete="clear",
                                   attributes={"plan": "plan"})  # fmt: skip
    first = batch_of(
        (PEOPLE, added(PERSON_ROW)),
        (PEOPLE, added({**PERSON_ROW, "customer_id": 7, "email": "bob@example.com"})),
        (by_email, added({"email": "nobody@example.com", "plan": "free"})),  # update-only: creates nobody
        (COMPANIES, added(COMPANY_ROW)),
        (MEMBERS, added({**MEMBER_ROW, "customer_id": "42"})),
        (DEVICES, added({**DEVICE_ROW, "customer_id": "42"})),
        (ORDERS, added({**ORDER_ROW, "customer_id": "42"})),
        (ORDERS, added({**ORDER_ROW, "order_id": "o-1004", "customer_id": None, "anonymous_id": "anon-77"})),
        (
            PAGE_VIEWS,
            added({"view_id": 1, "customer_id": "42", "url": "https://example.com/", "viewed_at": None}),
        ),
        (SCREENS, added({"screen_id": "s-1", "email": "ada@example.com", "app_version": "1.2"})),
    )
    second = batch_of(
        (ORDERS, added({**ORDER_ROW, "customer_id": "42"})),  # a resend after a crash: same id, ignored
        (by_email, removed({"email": "ada@example.com"})),  # clear
        (MEMBERS, removed({"company_id": "acme", "customer_id": "42"})),
        (DEVICES, removed({"customer_id": "42", "device_token": "tok-ios-1"})),
        (people_delete, removed({"customer_id": "7"})),
        (COMPANIES, removed({"company_id": "acme"})),
    )
    emulator = Emulator()
    auth = {"Authorization": "Basic " + base64.b64encode(b"site:key").decode()}
    async with serve(emulator) as base, aiohttp.ClientSession(headers=auth) as http:
        for batch, check in ((first, "first"), (second, "second")):
            async with http.post(f"{base}/api/v2/batch", json={"batch": batch}) as response:
                assert response.status == 200, (check, await response.text())
            if check == "first":
                state = emulator.state
                ada = state.person(id="42")
                assert ada is not None and ada.attributes["ltv"] == 1200.5
                assert ada.attributes["signed_up_at"] == T0
                assert state.person(email="nobody@example.com") is None
                assert state.object("1", "acme") is not None
                assert state.relationships_of("42") == {("1", "acme"): {"role": "admin"}}
                assert [d.platform for d in state.devices.values()] == ["ios"]

    state = emulator.state
    ada = state.person(id="42")
    assert ada is not None and ada.attributes.get("plan") in ("", None)
    assert state.person(id="7") is None
    assert state.object("1", "acme") is None
    assert state.relationships_of("42") == {}
    assert not state.devices
    events = state.events_of("42")
    assert sorted(e.action for e in events) == ["event", "page", "screen"]  # the resent order was ignored
    assert [e.anonymous_id for e in state.events if e.person is None] == ["anon-77"]
