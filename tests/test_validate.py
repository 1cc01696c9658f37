"""The meta.customerio contract: schema checks, project checks and resolution, on hand-built manifest nodes.

``columns_of`` is the seam to the warehouse: here a plain function over a dict of model columns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from dbt_cio.contract.blocks import blocks_of
from dbt_cio.contract.model import Identifier, NamedRef, Sync
from dbt_cio.contract.resolve import MODE_DEFAULTS, load_syncs, resolve_syncs
from dbt_cio.contract.schema import SCHEMA_PATH, load_schema
from dbt_cio.errors import ConfigError

COLUMNS: dict[str, list[str]] = {
    "people": ["customer_id", "email", "first_name", "plan"],
    "orders": ["order_id", "customer_id", "anonymous_id", "event_name", "amount", "ordered_at"],
    "companies": ["company_id", "company_name", "industry"],
    "members": ["company_id", "customer_id", "role"],
    "pros": ["customer_id"],
    "devices": ["device_token", "customer_id", "platform", "last_used_at", "app_version"],
    "products": ["sku", "product_name", "price"],
}


def node(
    name: str,
    block: Any,
    *,
    documented: Sequence[str] = (),
    in_config: bool = True,
    relation: str | None = "default",
) -> dict[str, Any]:
    """A manifest model node as dbt writes it to manifest.json (only the keys dbt-cio reads)."""
    meta = {"customerio": block}
    return {
        "unique_id": f"model.proj.{name}",
        "name": name,
        "resource_type": "model",
        "relation_name": f'"db"."main"."{name}"' if relation == "default" else relation,
        "config": {"meta": meta if in_config else {}},
        "meta": {} if in_config else meta,
        "columns": {c: {"name": c, "description": ""} for c in documented},
    }


def columns_of(n: Mapping[str, Any]) -> list[str] | None:
    return COLUMNS.get(n["name"])


def sync_of(name: str, block: Any, **kwargs: Any) -> Sync:
    (sync,) = load_syncs([node(name, block, **kwargs)], columns_of)
    return sync


def problems(*nodes: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_syncs(list(nodes), columns_of)
    return [str(p) for p in info.value.problems]


# ------------------------------------------------------------------------------------------ happy paths


def test_person_defaults() -> None:
    sync = sync_of("people", {"type": "person", "identifier": "customer_id"})
    assert sync == Sync(
        name="people",
        model="people",
        unique_id="model.proj.people",
        relation='"db"."main"."people"',
        type="person",
        columns=("customer_id", "email", "first_name", "plan"),
        workspace="default",
        identifier=Identifier("customer_id", "id"),
        attributes={"email": "email", "first_name": "first_name", "plan": "plan"},
        mode="upsert",
        on_delete="nothing",
    )
    assert sync.key_columns == ("customer_id",)


def test_person_update_by_email_with_exclude_and_explicit_options() -> None:
    sync = sync_of(
        "people",
        {
            "type": "person",
            "identifier": {"column": "email", "type": "email"},
            "mode": "update",
            "on_delete": "clear",
            "exclude": ["plan"],
            "workspace": "eu",
            "sync_name": "plans",
        },
    )
    assert (sync.name, sync.workspace, sync.mode, sync.on_delete) == ("plans", "eu", "update", "clear")
    assert sync.identifier == Identifier("email", "email")
    assert sync.attributes == {"customer_id": "customer_id", "first_name": "first_name"}


def test_event_defaults_exclude_every_role_column() -> None:
    sync = sync_of(
        "orders",
        {
            "type": "event",
            "identifier": "customer_id",
            "anonymous_id": "anonymous_id",
            "name_column": "event_name",
            "event_id": "order_id",
            "timestamp": "ordered_at",
        },
    )
    assert sync.name == "orders"  # no `name`: the model name
    assert (sync.event_type, sync.event_name, sync.name_column) == ("track", None, "event_name")
    assert (sync.event_id, sync.anonymous_id, sync.timestamp) == ("order_id", "anonymous_id", "ordered_at")
    assert sync.attributes == {"amount": "amount"}
    assert sync.mode is None and sync.on_delete is None
    assert sync.key_columns == ("order_id",)


def test_event_name_is_the_event_name_not_the_sync_name() -> None:
    sync = sync_of(
        "orders",
        {
            "type": "event",
            "event_type": "screen",
            "name": "Order placed",
            "event_id": "order_id",
            "anonymous_id": "anonymous_id",
            "attributes": {},
        },
    )
    assert (sync.name, sync.event_name, sync.event_type) == ("orders", "Order placed", "screen")
    assert sync.identifier is None and sync.attributes == {}


def test_object_defaults() -> None:
    sync = sync_of("companies", {"type": "object", "object_type_id": "1", "object_id": "company_id"})
    assert (sync.object_type_id, sync.object_id, sync.on_delete, sync.mode) == (
        "1",
        "company_id",
        "nothing",
        None,
    )
    assert sync.attributes == {"company_name": "company_name", "industry": "industry"}
    assert sync.identifier is None


def test_relationship_defaults() -> None:
    sync = sync_of(
        "members",
        {
            "type": "relationship",
            "object_type_id": "2",
            "object_id": "company_id",
            "identifier": "customer_id",
        },
    )
    assert (sync.mode, sync.on_delete) == ("upsert", None)
    assert sync.attributes == {"role": "role"}
    assert sync.key_columns == ("company_id", "customer_id")


def test_segment_defaults_to_a_segment_named_after_the_model() -> None:
    sync = sync_of("pros", {"type": "segment", "identifier": "customer_id"})
    assert (sync.mode, sync.segment, sync.attributes) == ("add", NamedRef(name="pros"), {})
    by_id = sync_of(
        "pros",
        [
            {
                "type": "segment",
                "identifier": "customer_id",
                "segment": {"id": 7},
                "mode": "mirror",
                "name": "pro_members",
            }
        ],
    )
    assert (by_id.name, by_id.mode, by_id.segment) == ("pro_members", "mirror", NamedRef(id=7))


def test_device_defaults() -> None:
    sync = sync_of(
        "devices",
        {
            "type": "device",
            "identifier": "customer_id",
            "token": "device_token",
            "platform": "platform",
            "last_used": "last_used_at",
        },
    )
    assert (sync.token, sync.platform, sync.last_used, sync.on_delete) == (
        "device_token",
        "platform",
        "last_used_at",
        "nothing",
    )
    assert sync.attributes == {"app_version": "app_version"}
    assert sync.key_columns == ("customer_id", "device_token")


def test_collection_defaults_to_every_column() -> None:
    sync = sync_of("products", {"type": "collection"})
    assert (sync.mode, sync.collection) == ("replace", NamedRef(name="products"))
    assert sync.attributes == {"sku": "sku", "product_name": "product_name", "price": "price"}
    trimmed = sync_of("products", {"type": "collection", "collection": {"id": 3}, "exclude": ["price"]})
    assert trimmed.collection == NamedRef(id=3)
    assert list(trimmed.attributes) == ["sku", "product_name"]


def test_columns_match_case_insensitively_and_keep_the_warehouse_spelling() -> None:
    COLUMNS["shouty"] = ["CUSTOMER_ID", "EMAIL", "PLAN"]
    try:
        sync = sync_of(
            "shouty",
            {"type": "person", "identifier": "customer_id", "attributes": {"email": "Email", "plan": "plan"}},
        )
    finally:
        del COLUMNS["shouty"]
    assert sync.identifier == Identifier("CUSTOMER_ID")
    assert sync.attributes == {"email": "EMAIL", "plan": "PLAN"}
    assert sync.columns == ("CUSTOMER_ID", "EMAIL", "PLAN")


def test_the_built_table_wins_over_documented_columns() -> None:
    """schema.yml often drifts from the model's SQL: the built table's columns are the truth."""
    block = {"type": "person", "identifier": "customer_id", "attributes": {"plan": "plan"}}
    drifted = node("people", block, documented=["customer_id", "email", "ghost"])
    resolution = resolve_syncs([drifted], lambda n: ["customer_id", "email", "plan"])
    (sync,) = resolution.syncs
    assert sync.columns == ("customer_id", "email", "plan")
    assert sync.attributes == {"plan": "plan"}  # a column missing from schema.yml is fine
    [warning] = resolution.warnings
    assert "ghost" in warning and "people" in warning  # a documented column the table lacks: a warning only

    unbuilt = node(
        "people", {"type": "person", "identifier": "customer_id"}, documented=["customer_id", "email"]
    )
    (sync,) = load_syncs([unbuilt], lambda n: None)  # not built: the documented columns are checked
    assert sync.columns == ("customer_id", "email")
    assert sync.attributes == {"email": "email"}


def test_an_unbuilt_model_without_documented_columns_waits_alone() -> None:
    nodes = [
        node("people", {"type": "person", "identifier": "customer_id"}),
        node(
            "nowhere",
            [
                {"type": "segment", "identifier": "x", "name": "a"},
                {"type": "person", "identifier": "x", "name": "b"},
            ],
        ),
    ]
    resolution = resolve_syncs(nodes, lambda n: None if n["name"] == "nowhere" else ["customer_id", "email"])
    assert [s.name for s in resolution.syncs] == ["people"]
    assert [(u.sync, u.model, u.type) for u in resolution.unbuilt] == [
        ("a", "nowhere", "segment"),
        ("b", "nowhere", "person"),
    ]
    assert "dbt run --select nowhere" in resolution.unbuilt[0].message
    with pytest.raises(ConfigError, match="dbt run --select nowhere"):
        load_syncs(nodes, lambda n: None if n["name"] == "nowhere" else ["customer_id", "email"])


def test_meta_falls_back_from_config_to_node_meta_and_models_without_blocks_are_skipped() -> None:
    block = {"type": "person", "identifier": "customer_id"}
    plain = node("other", None)
    assert blocks_of(node("people", block, in_config=False)) == [block]
    assert blocks_of(node("people", [block, block])) == [block, block]
    assert blocks_of(plain) == []
    syncs = load_syncs([plain, node("people", block, in_config=False)], columns_of)
    assert [s.name for s in syncs] == ["people"]


def test_one_model_feeds_several_syncs() -> None:
    syncs = load_syncs(
        [
            node(
                "people",
                [
                    {"type": "person", "identifier": "customer_id"},
                    {
                        "type": "segment",
                        "sync_name": "pro_people",
                        "identifier": "customer_id",
                        "segment": {"name": "Pro"},
                    },
                    {
                        "type": "event",
                        "sync_name": "plan_events",
                        "name": "Plan seen",
                        "identifier": "customer_id",
                        "event_id": "customer_id",
                    },
                ],
            )
        ],
        columns_of,
    )
    assert [(s.name, s.type) for s in syncs] == [
        ("people", "person"),
        ("pro_people", "segment"),
        ("plan_events", "event"),
    ]


def test_email_attribute_beside_an_id_identifier_is_allowed() -> None:
    sync = sync_of(
        "people", {"type": "person", "identifier": "customer_id", "attributes": {"email": "email"}}
    )
    assert sync.attributes == {"email": "email"}
    by_email = sync_of(
        "people",
        {
            "type": "person",
            "identifier": {"column": "email", "type": "email"},
            "attributes": {"id": "customer_id", "email": "email"},
        },
    )
    assert by_email.attributes == {"id": "customer_id", "email": "email"}


# ------------------------------------------------------------------------------------------ invalid blocks

GUARDRAIL_KEYS = "max_added, max_changed, max_removed, on_rejections, log, log_retention_days"
PERSON_KEYS = (
    f"type, sync_name, name, workspace, identifier, attributes, exclude, mode, on_delete, {GUARDRAIL_KEYS}"
)
EVENT_KEYS = (
    "type, sync_name, workspace, event_type, name, name_column, event_id, identifier, "
    "anonymous_id, timestamp, attributes, exclude"
)
SEGMENT_KEYS = f"type, sync_name, name, workspace, segment, identifier, mode, {GUARDRAIL_KEYS}"
TYPES = "person, event, object, relationship, segment, device, collection"
ORDER = {"type": "event", "identifier": "customer_id", "name_column": "event_name", "event_id": "order_id"}

INVALID: list[tuple[str, str, Any, list[str]]] = [
    (
        "wrong type",
        "people",
        {"type": "user", "identifier": "customer_id"},
        [f"people: meta.customerio.type: found 'user'; allowed: {TYPES}"],
    ),
    (
        "missing type",
        "people",
        {"identifier": "customer_id"},
        [f"people: meta.customerio: missing key 'type'; allowed: {TYPES}"],
    ),
    (
        "not a mapping",
        "people",
        "person",
        ["people: meta.customerio: found 'person'; expected a mapping (one block) or a list of blocks"],
    ),
    (
        "unknown key",
        "people",
        {"type": "person", "identifier": "customer_id", "on_delte": "clear"},
        [
            (
                "people: meta.customerio.on_delte: unknown key 'on_delte' (did you mean 'on_delete'?); "
                f"allowed keys for type: person are: {PERSON_KEYS}"
            )
        ],
    ),
    (
        "missing event_id",
        "orders",
        {k: v for k, v in ORDER.items() if k != "event_id"},
        [
            (
                "orders: meta.customerio: missing key 'event_id'; type: event requires it "
                "(a column whose value is unique per event row; it makes resends harmless)"
            )
        ],
    ),
    (
        "bad identifier type",
        "people",
        {"type": "person", "identifier": {"column": "email", "type": "phone"}},
        ["people: meta.customerio.identifier.type: found 'phone'; allowed: id, email, cio_id"],
    ),
    (
        "identifier not a column",
        "people",
        {"type": "person", "identifier": 42},
        [
            (
                "people: meta.customerio.identifier: found 42 (a number); expected a column name, "
                "or {column: <column>, type: id|email|cio_id}"
            )
        ],
    ),
    (
        "object_type_id integer",
        "companies",
        {"type": "object", "object_type_id": 1, "object_id": "company_id"},
        [
            (
                "companies: meta.customerio.object_type_id: found 1 (a number); object_type_id must be a string "
                'of digits in quotes, e.g. object_type_id: "1"'
            )
        ],
    ),
    (
        "object_type_id not digits",
        "companies",
        {"type": "object", "object_type_id": "company", "object_id": "company_id"},
        [
            (
                "companies: meta.customerio.object_type_id: found 'company'; object_type_id must be a string "
                'of digits in quotes, e.g. object_type_id: "1"'
            )
        ],
    ),
    (
        "update with delete",
        "people",
        {"type": "person", "identifier": "customer_id", "mode": "update", "on_delete": "delete"},
        [
            (
                "people: meta.customerio.on_delete: found 'delete'; with mode: update a person is never created "
                "nor deleted, so on_delete allows: nothing, clear"
            )
        ],
    ),
    (
        "bad on_delete for object",
        "companies",
        {"type": "object", "object_type_id": "1", "object_id": "company_id", "on_delete": "clear"},
        ["companies: meta.customerio.on_delete: found 'clear'; allowed: nothing, delete"],
    ),
    (
        "bad mode for relationship",
        "members",
        {
            "type": "relationship",
            "object_type_id": "1",
            "object_id": "company_id",
            "identifier": "customer_id",
            "mode": "replace",
        },
        ["members: meta.customerio.mode: found 'replace'; allowed: upsert, mirror"],
    ),
    (
        "segment with attributes",
        "pros",
        {"type": "segment", "identifier": "customer_id", "attributes": {"a": "b"}},
        [
            (
                "pros: meta.customerio.attributes: unknown key 'attributes': a segment sync only adds people to "
                f"(or removes them from) a segment and sends no attributes; allowed keys for type: segment are: {SEGMENT_KEYS}"
            )
        ],
    ),
    (
        "collection with id and name",
        "products",
        {"type": "collection", "collection": {"id": 1, "name": "p"}},
        ["products: meta.customerio.collection: found both id and name; set exactly one of them"],
    ),
    (
        "segment id not an integer",
        "pros",
        {"type": "segment", "identifier": "customer_id", "segment": {"id": "7"}},
        ["pros: meta.customerio.segment.id: found '7'; expected an integer"],
    ),
    (
        "event with name and name_column",
        "orders",
        {**ORDER, "name": "Order"},
        [
            (
                "orders: meta.customerio: found both name and name_column; set exactly one of them "
                "(to name the sync, use sync_name)"
            )
        ],
    ),
    (
        "event without a name",
        "orders",
        {k: v for k, v in ORDER.items() if k != "name_column"},
        [
            (
                "orders: meta.customerio: found neither name nor name_column; set name (one event name for every row) "
                "or name_column (a column holding it)"
            )
        ],
    ),
    (
        "event without a person",
        "orders",
        {k: v for k, v in ORDER.items() if k != "identifier"},
        [
            (
                "orders: meta.customerio: found neither identifier nor anonymous_id; an event needs identifier "
                "(the person), anonymous_id, or both"
            )
        ],
    ),
    (
        "device missing token and platform",
        "devices",
        {"type": "device", "identifier": "customer_id"},
        [
            "devices: meta.customerio: missing key 'token'; type: device requires it (the column holding the device token)",
            (
                "devices: meta.customerio: missing key 'platform'; type: device requires it "
                "(the column holding the platform: `ios` or `android`)"
            ),
        ],
    ),
    (
        "attributes and exclude",
        "people",
        {"type": "person", "identifier": "customer_id", "attributes": {"plan": "plan"}, "exclude": ["email"]},
        [
            (
                "people: meta.customerio: found both attributes and exclude; exclude only trims the default "
                "attributes: remove one of them"
            )
        ],
    ),
    (
        "column typed as number",
        "people",
        {"type": "person", "identifier": "customer_id", "attributes": {"plan": 3}},
        ["people: meta.customerio.attributes.plan: found 3 (a number); expected a column name (a string)"],
    ),
    (
        "bad sync name",
        "people",
        {"type": "person", "identifier": "customer_id", "sync_name": "my sync"},
        [
            (
                "people: meta.customerio.sync_name: found 'my sync'; a sync name holds only letters, digits, _, . and - "
                "(at most 128 characters, not starting with . or -)"
            )
        ],
    ),
    (
        "bad workspace",
        "people",
        {"type": "person", "identifier": "customer_id", "workspace": "acme.eu"},
        [
            (
                "people: meta.customerio.workspace: found 'acme.eu'; a workspace name holds only letters, digits, "
                "_ and - (it names environment variables, e.g. workspace: acme-eu reads CUSTOMERIO_ACME_EU_API_KEY)"
            )
        ],
    ),
    (
        "missing column",
        "people",
        {"type": "person", "identifier": "customer_id", "attributes": {"plan": "tier"}},
        [
            (
                "people: meta.customerio.attributes.plan: column 'tier' does not exist in model people; "
                "available columns: customer_id, email, first_name, plan"
            )
        ],
    ),
    (
        "missing identifier column",
        "people",
        {"type": "person", "identifier": {"column": "user_id"}},
        [
            (
                "people: meta.customerio.identifier.column: column 'user_id' does not exist in model people; "
                "available columns: customer_id, email, first_name, plan"
            )
        ],
    ),
    (
        "missing exclude column",
        "people",
        {"type": "person", "identifier": "customer_id", "exclude": ["planz"]},
        [
            (
                "people: meta.customerio.exclude[0]: column 'planz' does not exist in model people; "
                "available columns: customer_id, email, first_name, plan"
            )
        ],
    ),
    (
        "reserved person attribute",
        "people",
        {"type": "person", "identifier": "customer_id", "attributes": {"cio_id": "plan"}},
        [
            (
                "people: meta.customerio.attributes.cio_id: found 'cio_id', which a person sync may not set "
                "(Customer.io assigns it): remove it or use another attribute name"
            )
        ],
    ),
    (
        "attribute fights the identifier",
        "people",
        {
            "type": "person",
            "identifier": {"column": "email", "type": "email"},
            "attributes": {"email": "plan"},
        },
        [
            (
                "people: meta.customerio.attributes.email: found 'email', fed by column 'plan', but the sync sets email "
                "itself from identifier column 'email': remove it or use another attribute name"
            )
        ],
    ),
    (
        "attribute name too long in bytes",
        "people",
        {"type": "person", "identifier": "customer_id", "attributes": {"é" * 100: "plan"}},
        [
            (
                f"people: meta.customerio.attributes.{'é' * 100}: attribute name '{'é' * 57}...' is 200 bytes; "
                "Customer.io allows at most 150: use a shorter name"
            )
        ],
    ),
    (
        "unknown key in a segment reference",
        "pros",
        {"type": "segment", "identifier": "customer_id", "segment": {"id": 1, "title": "Pros"}},
        ["pros: meta.customerio.segment.title: unknown key 'title'; allowed keys are: id, name"],
    ),
    (
        "empty collection reference",
        "products",
        {"type": "collection", "collection": {}},
        ["products: meta.customerio.collection: found neither id nor name; set exactly one of them"],
    ),
    (
        "null identifier",
        "people",
        {"type": "person", "identifier": None},
        [
            (
                "people: meta.customerio.identifier: found null (no value); expected a column name, "
                "or {column: <column>, type: id|email|cio_id}"
            )
        ],
    ),
    (
        "identifier without column",
        "people",
        {"type": "person", "identifier": {"type": "email"}},
        ["people: meta.customerio.identifier: missing key 'column'; it is required"],
    ),
    (
        "unknown key in identifier",
        "people",
        {"type": "person", "identifier": {"column": "email", "kind": "email"}},
        ["people: meta.customerio.identifier.kind: unknown key 'kind'; allowed keys are: column, type"],
    ),
    (
        "event name too long",
        "orders",
        {**{k: v for k, v in ORDER.items() if k != "name_column"}, "name": "x" * 101},
        ["orders: meta.customerio.name: found 101 characters; at most 100 allowed"],
    ),
    (
        "event name too long in bytes",
        "orders",
        {**{k: v for k, v in ORDER.items() if k != "name_column"}, "name": "é" * 60},
        ["orders: meta.customerio.name: found an event name of 120 bytes; Customer.io allows at most 100"],
    ),
    (
        "empty column name",
        "orders",
        {**ORDER, "timestamp": ""},
        ["orders: meta.customerio.timestamp: found ''; expected a non-empty string"],
    ),
    (
        "exclude lists a column twice",
        "people",
        {"type": "person", "identifier": "customer_id", "exclude": ["plan", "plan"]},
        ["people: meta.customerio.exclude: found a column listed more than once; list each column once"],
    ),
    (
        "segment id below one",
        "pros",
        {"type": "segment", "identifier": "customer_id", "segment": {"id": 0}},
        ["pros: meta.customerio.segment.id: found 0 (a number); expected at least 1"],
    ),
    (
        "list item not a mapping",
        "people",
        [{"type": "person", "identifier": "customer_id"}, "segment"],
        ["people: meta.customerio[1]: found 'segment'; expected a mapping (one sync block)"],
    ),
    (
        "empty list",
        "people",
        [],
        ["people: meta.customerio: found an empty list; expected one block or a list of blocks"],
    ),
    (
        "list blocks without distinct names",
        "people",
        [{"type": "person", "identifier": "customer_id"}, {"type": "segment", "identifier": "customer_id"}],
        [
            (
                "people: meta.customerio[1]: sync name 'people' is already used by meta.customerio[0] of this model; "
                "blocks in a list need distinct names: set sync_name on each block"
            )
        ],
    ),
    (
        "relation missing",
        "nowhere",
        {"type": "collection"},
        [
            (
                'nowhere: meta.customerio: relation "db"."main"."nowhere" does not exist: '
                "run `dbt run --select nowhere` first"
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("model", "block", "expected"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_invalid_block_message(model: str, block: Any, expected: list[str]) -> None:
    assert problems(node(model, block)) == expected


def test_default_attribute_that_would_clash_names_the_fix() -> None:
    COLUMNS["clash"] = ["customer_id", "id", "plan"]
    try:
        found = problems(node("clash", {"type": "person", "identifier": "customer_id"}))
    finally:
        del COLUMNS["clash"]
    assert found == [
        (
            "clash: meta.customerio.attributes: column 'id' would become attribute 'id', fed by column 'id', but "
            "the sync sets id itself from identifier column 'customer_id': add the column to exclude or map it "
            "under another name in attributes"
        )
    ]


def test_ephemeral_model_has_no_relation() -> None:
    assert problems(node("people", {"type": "person", "identifier": "customer_id"}, relation=None)) == [
        (
            "people: meta.customerio: model people has no relation (is it ephemeral?); a synced model must be "
            "materialized as a table, view or incremental model"
        )
    ]


def test_duplicate_sync_names_across_models() -> None:
    assert problems(
        node("people", {"type": "person", "identifier": "customer_id"}),
        node("pros", {"type": "segment", "identifier": "customer_id", "name": "People"}),
    ) == [
        (
            "pros: meta.customerio: sync name 'People' is already used by model people (meta.customerio); sync "
            "names must be unique across the project: set sync_name on one of them"
        )
    ]


def test_every_problem_of_every_model_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_syncs(
            [
                node(
                    "people",
                    {"type": "person", "identifier": "customer_id", "mode": "merge", "colour": "red"},
                ),
                node("fine", None),
                node("orders", [ORDER, {"type": "device"}]),
                node("companies", {"type": "object", "object_type_id": "1", "object_id": "id"}),
                node("nowhere", {"type": "segment", "identifier": "x"}),
            ],
            columns_of,
        )
    err = info.value
    assert [(p.model, p.path) for p in err.problems] == [
        ("people", "meta.customerio.colour"),
        ("people", "meta.customerio.mode"),
        ("orders", "meta.customerio[1]"),
        ("orders", "meta.customerio[1]"),
        ("orders", "meta.customerio[1]"),
        ("companies", "meta.customerio.object_id"),
        ("nowhere", "meta.customerio"),
    ]
    assert str(err).startswith(
        "7 configuration errors in meta.customerio:\n  - people: meta.customerio.colour: "
    )
    assert err.exit_code == 2


# ------------------------------------------------------------------------------------------ the schema file


def test_schema_file_is_valid_2020_12_and_shipped_in_the_package() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema == load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_whole_schema_agrees_with_the_per_type_checks() -> None:
    """The top-level schema (what editors use) accepts and rejects the same blocks as load_syncs."""
    validator = Draft202012Validator(load_schema())
    good = [
        {"type": "person", "identifier": "customer_id"},
        [{"type": "segment", "identifier": {"column": "c", "type": "email"}, "segment": {"id": 1}}],
        {"type": "collection", "collection": {"name": "p"}},
        ORDER,
    ]
    for value in good:
        assert not list(validator.iter_errors(value)), value
    for _, _, block, expected in INVALID:
        if (
            "does not exist" in expected[0]
            or "already used" in expected[0]
            or "bytes" in expected[0]
            or "fed by column" in expected[0]
            or "assigns it" in expected[0]
        ):
            continue  # project checks, beyond a schema
        assert list(validator.iter_errors(block)), block


def test_defaults_documented_in_the_schema_are_the_ones_applied() -> None:
    defs = load_schema()["$defs"]
    for sync_type, (mode, on_delete) in MODE_DEFAULTS.items():
        props = defs[sync_type]["properties"]
        assert props.get("mode", {}).get("default") == mode, sync_type
        assert props.get("on_delete", {}).get("default") == on_delete, sync_type
    assert defs["event"]["properties"]["event_type"]["default"] == "track"
