"""Every meta.customerio block of the integration project resolves as intended, on DuckDB and Postgres.

The manifest comes from a real dbt build; columns come from the manifest where a model documents them,
else straight from the warehouse. Reading the warehouse directly is a shortcut allowed in tests only: the
product reads columns through the dbt adapter (``dbt_cio.warehouse``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import DbtProject

from dbt_cio.contract.blocks import blocks_of
from dbt_cio.contract.model import DEFAULT_MAX_REMOVED, SYNC_TYPES, Identifier, NamedRef, Sync
from dbt_cio.contract.resolve import load_syncs
from dbt_cio.errors import ConfigError

ColumnsOf = Callable[[Mapping[str, Any]], Sequence[str] | None]


def model_nodes(project: DbtProject) -> list[dict[str, Any]]:
    manifest = json.loads((project.path / "target" / "manifest.json").read_text())
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]


def warehouse_columns(project: DbtProject, calls: list[str]) -> ColumnsOf:
    """Columns of a model's relation, in order, read from the real warehouse (None when it is missing)."""

    def columns_of(node: Mapping[str, Any]) -> Sequence[str] | None:
        calls.append(node["name"])
        sql = (
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
            "order by ordinal_position"
        )
        args = (node["schema"], node["alias"])
        if project.target == "duckdb":
            import duckdb

            con = duckdb.connect(project.env["DBT_CIO_DUCKDB_PATH"], read_only=True)
            try:
                rows = con.execute(sql.replace("%s", "?"), list(args)).fetchall()
            finally:
                con.close()
        else:
            import psycopg2

            conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test")
            try:
                with conn.cursor() as cur:
                    cur.execute(sql, args)
                    rows = cur.fetchall()
            finally:
                conn.close()
        return [r[0] for r in rows] or None

    return columns_of


def expected_syncs(nodes: list[dict[str, Any]]) -> dict[str, Sync]:
    """What each block of integration_tests/models/schema.yml means, written out in full."""
    by_name = {n["name"]: n for n in nodes}

    def sync(model: str, **fields: Any) -> Sync:
        node = by_name[model]
        fields.setdefault("name", model)
        return Sync(model=model, unique_id=node["unique_id"], relation=node["relation_name"], **fields)

    bulk_columns = (
        "person_id",
        "email",
        "first_name",
        "last_name",
        "plan",
        "lifetime_value",
        "is_active",
        "cohort",
    )
    people_columns = (
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "plan",
        "lifetime_value",
        "signed_up_at",
        "is_active",
    )
    return {
        s.name: s
        for s in [
            sync(
                "cio_people",
                type="person",
                columns=people_columns,
                identifier=Identifier("customer_id"),
                attributes={c: c for c in people_columns[1:]},
                mode="upsert",
                on_delete="delete",
                max_removed=DEFAULT_MAX_REMOVED,  # removes rows: the default threshold
            ),
            sync(
                "cio_people_by_email",
                type="person",
                columns=("email", "current_plan", "is_active"),
                identifier=Identifier("email", "email"),
                attributes={"current_plan": "current_plan", "is_active": "is_active"},
                mode="update",
                on_delete="clear",
                max_removed=DEFAULT_MAX_REMOVED,  # removes rows: the default threshold
            ),
            sync(
                "cio_orders",
                type="event",
                columns=("order_id", "customer_id", "anonymous_id", "event_name", "amount", "ordered_at"),
                identifier=Identifier("customer_id"),
                attributes={"amount": "amount"},
                event_type="track",
                name_column="event_name",
                event_id="order_id",
                anonymous_id="anonymous_id",
                timestamp="ordered_at",
            ),
            sync(
                "cio_page_views",
                type="event",
                columns=("view_id", "customer_id", "url", "viewed_at"),
                identifier=Identifier("customer_id"),
                attributes={},
                event_type="page",
                name_column="url",
                event_id="view_id",
                timestamp="viewed_at",
            ),
            sync(
                "cio_companies",
                type="object",
                columns=("company_id", "company_name", "industry", "employees"),
                attributes={"name": "company_name", "industry": "industry", "employees": "employees"},
                on_delete="delete",
                max_removed=DEFAULT_MAX_REMOVED,  # removes rows: the default threshold
                object_type_id="1",
                object_id="company_id",
            ),
            sync(
                "cio_company_members",
                type="relationship",
                columns=("company_id", "customer_id", "role"),
                identifier=Identifier("customer_id"),
                attributes={"role": "role"},
                mode="mirror",
                max_removed=DEFAULT_MAX_REMOVED,  # removes rows: the default threshold
                object_type_id="1",
                object_id="company_id",
            ),
            sync(
                "cio_pro_customers",
                name="pro_customers",
                type="segment",
                columns=("customer_id",),
                identifier=Identifier("customer_id"),
                mode="mirror",
                max_removed=DEFAULT_MAX_REMOVED,  # removes rows: the default threshold
                segment=NamedRef(name="Pro customers"),
            ),
            sync(
                "cio_devices",
                type="device",
                columns=("device_token", "customer_id", "platform", "last_used_at"),
                identifier=Identifier("customer_id"),
                attributes={},
                on_delete="delete",
                max_removed=DEFAULT_MAX_REMOVED,  # removes rows: the default threshold
                token="device_token",
                platform="platform",
                last_used="last_used_at",
            ),
            sync(
                "cio_products",
                type="collection",
                columns=("sku", "product_name", "price", "in_stock"),
                attributes={
                    "sku": "sku",
                    "product_name": "product_name",
                    "price": "price",
                    "in_stock": "in_stock",
                },
                mode="replace",
                max_removed=DEFAULT_MAX_REMOVED,  # removes rows: the default threshold
                collection=NamedRef(name="products"),
            ),
            sync(
                "cio_bulk_people",
                type="person",
                columns=bulk_columns,
                identifier=Identifier("person_id"),
                attributes={c: c for c in bulk_columns[1:]},
                mode="upsert",
                on_delete="delete",
                max_removed=DEFAULT_MAX_REMOVED,  # removes rows: the default threshold
            ),
            sync(
                "cio_bulk_events",
                type="event",
                columns=("event_key", "person_id", "event_name", "quantity"),
                identifier=Identifier("person_id"),
                attributes={"quantity": "quantity"},
                event_type="track",
                name_column="event_name",
                event_id="event_key",
            ),
        ]
    }


def test_every_block_of_the_integration_project_resolves_as_intended(built_project: DbtProject) -> None:
    nodes = model_nodes(built_project)
    calls: list[str] = []
    syncs = load_syncs(nodes, warehouse_columns(built_project, calls))
    assert {s.name: s for s in syncs} == expected_syncs(nodes)
    # Columns come from the built tables (schema.yml may have drifted); models without a block are not asked.
    assert "not_synced" not in calls
    assert sorted(calls) == sorted(n["name"] for n in nodes if blocks_of(n))
    assert {s.type for s in syncs} == set(SYNC_TYPES)


def test_models_not_built_yet_are_reported_with_the_fix(dbt_project: DbtProject) -> None:
    dbt_project.dbt("seed")  # the warehouse exists, the models do not
    nodes = model_nodes(dbt_project)
    with pytest.raises(ConfigError) as info:
        load_syncs(nodes, warehouse_columns(dbt_project, []))
    problems = info.value.problems
    # cio_people documents its columns, so it needs no relation to be checked.
    assert sorted(p.model for p in problems) == sorted(
        n["name"] for n in nodes if blocks_of(n) and n["name"] != "cio_people"
    )
    devices = next(p for p in problems if p.model == "cio_devices")
    relation = next(n["relation_name"] for n in nodes if n["name"] == "cio_devices")
    assert str(devices) == (
        f"cio_devices: meta.customerio: relation {relation} does not exist: "
        "run `dbt run --select cio_devices` first"
    )


def test_cli_validate_exits_0_then_2_listing_every_error(built_project: DbtProject) -> None:
    cli = str(Path(sys.executable).parent / "dbt-cio")

    def validate() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [cli, "validate", *built_project.flags],
            check=False,
            cwd=built_project.path,
            capture_output=True,
            text=True,
            env={**os.environ, **built_project.env},
        )

    ok = validate()
    assert ok.returncode == 0, ok.stderr
    schema_yml = built_project.path / "models" / "schema.yml"
    text = schema_yml.read_text()
    text = text.replace("          token: device_token", "          token: device_tok")
    text = text.replace(
        'object_type_id: "1"\n          object_id: company_id\n          on_delete: delete',
        "object_type_id: 1\n          object_id: company_id\n          on_delete: delete",
    )
    schema_yml.write_text(text)
    bad = validate()
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "2 configuration errors in meta.customerio:" in bad.stderr
    assert (
        "cio_devices: meta.customerio.token: column 'device_tok' does not exist in model cio_devices; "
        "available columns: device_token, customer_id, platform, last_used_at"
    ) in bad.stderr
    assert (
        "cio_companies: meta.customerio.object_type_id: found 1 (a number); object_type_id must be a "
        'string of digits in quotes, e.g. object_type_id: "1"'
    ) in bad.stderr
