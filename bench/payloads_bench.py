"""Payload mapping benchmark: rows/s through ``mapper_for`` for people, events and objects (pure CPU).

Run from the repository root::

    python bench/payloads_bench.py                 # 1,000,000 people, 200,000 events and objects
    python bench/payloads_bench.py --rows 200000

Rows look like what a driver returns for a typical people model: text id and email, a text plan, a
numeric lifetime value (``--decimal`` makes it a ``Decimal``, as agate and psycopg2 numeric columns do),
a timestamp and a boolean. The rows are built before the clock starts; only mapping is timed. Best of
``--repeat`` runs, so a busy machine shows its quietest moment; rows per CPU second too, which a
machine shared with other work disturbs less.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from dbt_cio.contract.model import Identifier, Sync
from dbt_cio.payloads.mappers import mapper_for
from dbt_cio.warehouse.changes import RowChange


def _sync(type_: Any, name: str, **fields: Any) -> Sync:
    unique_id = f"model.bench.{name}"
    return Sync(name=name, model=name, unique_id=unique_id, relation=name, type=type_, columns=(), **fields)


PEOPLE = _sync(
    "person", "people", identifier=Identifier("customer_id"), mode="upsert",
    attributes={"email": "email", "plan": "plan", "ltv": "lifetime_value", "signed_up_at": "signed_up_at",
                "is_active": "is_active", "first_name": "first_name"},
)  # fmt: skip
EVENTS = _sync(
    "event", "orders", identifier=Identifier("customer_id"), event_type="track", name_column="event_name",
    event_id="order_id", timestamp="ordered_at", attributes={"amount": "amount", "currency": "currency"},
)  # fmt: skip
OBJECTS = _sync(
    "object", "companies", object_type_id="1", object_id="company_id", on_delete="delete",
    attributes={"name": "name", "employees": "employees", "industry": "industry"},
)  # fmt: skip


def people(n: int, decimal: bool) -> list[RowChange]:
    when = dt.datetime(2024, 7, 1, 10)
    ltv: Any = Decimal("1200.50") if decimal else 1200.5
    return [
        RowChange(str(i), "added", {"customer_id": str(i), "email": f"user{i}@example.com", "plan": "pro",
                                    "lifetime_value": ltv, "signed_up_at": when, "is_active": True,
                                    "first_name": "Ada"})
        for i in range(n)
    ]  # fmt: skip


def events(n: int, decimal: bool) -> list[RowChange]:
    when = dt.datetime(2024, 7, 1, 10)
    amount: Any = Decimal("35.50") if decimal else 35.5
    return [
        RowChange(f"o-{i}", "added", {"order_id": f"o-{i}", "customer_id": str(i % 1000),
                                      "event_name": "ordered", "ordered_at": when, "amount": amount,
                                      "currency": "EUR"})
        for i in range(n)
    ]  # fmt: skip


def objects(n: int, decimal: bool) -> list[RowChange]:
    return [
        RowChange(f"c-{i}", "changed", {"company_id": f"c-{i}", "name": "Acme", "employees": 1200,
                                        "industry": "manufacturing"})
        for i in range(n)
    ]  # fmt: skip


def measure(sync: Sync, rows: list[RowChange], repeat: int) -> tuple[float, float]:
    """Rows per wall-clock second and per CPU second (the latter is fair on a shared, busy machine)."""
    mapper = mapper_for(sync, now=int(time.time()))
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        for change in rows:
            mapper(change, change.key)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return len(rows) / best_wall, len(rows) / best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="people rows (events/objects: a fifth)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--decimal", action="store_true", help="numbers as Decimal, as agate and psycopg2 give them"
    )
    args = parser.parse_args()
    cases: list[tuple[str, Sync, Callable[[int, bool], list[RowChange]], int]] = [
        ("person identify", PEOPLE, people, args.rows),
        ("event (ULID id)", EVENTS, events, args.rows // 5),
        ("object identify", OBJECTS, objects, args.rows // 5),
    ]
    for label, sync, build, n in cases:
        rows = build(n, args.decimal)
        rate, cpu_rate = measure(sync, rows, args.repeat)
        print(f"{label:18} {n:>10,} rows  {rate:>10,.0f} rows/s ({n / rate:.2f} s)", end="  ")
        print(f"{cpu_rate:>10,.0f} rows/CPU-s")


if __name__ == "__main__":
    main()
