"""dbt_cio.contract.actions: the sync log's action names are what the mappers really build, for every sync
type, mode and kind of change (the warehouse writes accepted rows' actions from these names alone)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from test_payloads import (
    COMPANIES,
    DEVICES,
    MEMBERS,
    NOW,
    ORDERS,
    PAGE_VIEWS,
    PEOPLE,
    PRO,
    PRODUCTS,
    SCREENS,
)

from dbt_cio.contract.actions import COLLECTION_REPLACE, actions_for
from dbt_cio.contract.model import Sync
from dbt_cio.customerio.operations import BatchItem
from dbt_cio.payloads.mappers import mapper_for
from dbt_cio.warehouse.changes import RowChange

ROW: dict[str, Any] = {
    "customer_id": "42", "email": "ada@example.com", "plan": "pro", "lifetime_value": 1, "signed_up_at": None,
    "is_active": True, "order_id": "o1", "anonymous_id": None, "event_name": "bought", "amount": 3,
    "ordered_at": None, "view_id": "v1", "url": "/", "viewed_at": None, "screen_id": "s1", "app_version": "1",
    "company_id": "c1", "company_name": "Acme", "employees": 3, "role": "admin", "device_token": "t1",
    "platform": "ios", "last_used_at": None, "push": True,
}  # fmt: skip

SYNCS = [
    PEOPLE,
    dataclasses.replace(PEOPLE, on_delete="clear"),
    dataclasses.replace(PEOPLE, on_delete="delete"),
    dataclasses.replace(PEOPLE, mode="update", on_delete="clear"),
    ORDERS,
    PAGE_VIEWS,
    SCREENS,
    COMPANIES,
    dataclasses.replace(COMPANIES, on_delete="clear"),
    dataclasses.replace(COMPANIES, on_delete="nothing"),
    MEMBERS,
    dataclasses.replace(MEMBERS, mode="upsert"),
    PRO,
    dataclasses.replace(PRO, mode="add"),
    DEVICES,
    dataclasses.replace(DEVICES, on_delete="nothing"),
]


def _built(sync: Sync, kind: str) -> str | None:
    """The action of the operation the mapper builds for one change of ``kind`` (None: it builds none)."""
    mapper = mapper_for(sync, now=NOW, segment_id=7)
    ops = mapper(RowChange("k", kind, ROW, 1), "ref")  # type: ignore[arg-type]
    if not ops:
        return None
    op = ops[0]
    if isinstance(op, BatchItem):
        action = str(op.item["action"])
        is_clear = action == "identify" and kind == "removed"
        return "clear" if is_clear else action
    return "segment add" if op.add else "segment remove"


@pytest.mark.parametrize("sync", SYNCS, ids=lambda s: f"{s.name}-{s.mode}-{s.on_delete}")
@pytest.mark.parametrize("kind", ["added", "changed", "removed"])
def test_every_action_is_the_one_the_mapper_builds(sync: Sync, kind: str) -> None:
    assert actions_for(sync).get(kind) == _built(sync, kind)


def test_a_collection_is_replaced_whatever_changed() -> None:
    assert set(actions_for(PRODUCTS).values()) == {COLLECTION_REPLACE}
