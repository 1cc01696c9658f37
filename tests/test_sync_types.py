"""Every sync type end to end: the real CLI over the integration project, the emulator's state after each step."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import DbtProject, RunningEmulator, run_cli
from run_results import count, read_results, status


def _unix(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def _cio(emulator: RunningEmulator, person_id: str) -> str:
    person = emulator.state.person(id=person_id)
    assert person is not None, person_id
    return person.cio_id


def _ids(emulator: RunningEmulator) -> dict[str, str]:
    return {p.cio_id: p.id for p in emulator.state.people.values()}


def _events(emulator: RunningEmulator) -> dict[tuple[str, str | None], list]:
    ids = _ids(emulator)
    out: dict[tuple[str, str | None], list] = {}
    for e in emulator.state.events:
        out.setdefault((e.name, ids.get(e.person) if e.person else e.anonymous_id), []).append(e)
    return out


def _relationships(emulator: RunningEmulator) -> dict[tuple[str, str], dict]:
    ids = _ids(emulator)
    return {(obj, ids[person]): attrs for (person, _type, obj), attrs in emulator.state.relationships.items()}


def _segment(emulator: RunningEmulator, name: str) -> set[str]:
    [segment] = [s for s in emulator.state.segments.values() if s.name == name]
    return emulator.state.segment_member_ids(segment.id, "id")


def _edit(
    project: DbtProject,
    seed: str,
    drop: tuple[str, ...] = (),
    replace: dict[str, str] | None = None,
    add: tuple[str, ...] = (),
) -> None:
    lines = project.read_seed(seed).splitlines()
    header, rows = lines[0], [r for r in lines[1:] if not r.startswith(drop)] if drop else lines[1:]
    for old, new in (replace or {}).items():
        rows = [r.replace(old, new) for r in rows]
    project.write_seed(seed, "\n".join([header, *rows, *add]) + "\n")


def test_every_type_first_sync_rerun_and_edits(built_project: DbtProject, emulator: RunningEmulator) -> None:
    # -- first sync: everything arrives ---------------------------------------------------------------
    run_cli(built_project, "sync", "--select", "tag:cio", env=emulator.env)
    results = read_results(built_project)
    assert all(status(r) == "success" for r in results.values()), results
    # every request a sync makes is counted, App API calls (segment and collection look-ups) included
    assert count(results["cio_people"], "requests") == 1
    assert (
        count(results["pro_customers"], "requests") == 3
    )  # find the segment by name, create it, add the members
    assert count(results["cio_products"], "requests") == 2  # find the collection by name, create it
    state = emulator.state

    events = _events(emulator)
    assert len(state.events) == 8
    [order] = events[("order_completed", "1")]
    assert order.action == "event" and order.timestamp == _unix("2024-07-01 10:00:00")
    assert order.attributes == {"amount": 120.0}
    assert order.id and len(order.id) == 26  # a ULID
    [anonymous] = events[("cart_abandoned", "anon-77")]
    assert anonymous.person is None
    [page] = events[("https://example.com/pricing", "1")]
    assert page.action == "page" and page.timestamp == _unix("2024-07-01 10:00:00")

    assert {k[1]: o.attributes for k, o in state.objects.items()} == {
        "acme": {"name": "Acme Corp", "industry": "manufacturing", "employees": 1200},
        "globex": {"name": "Globex", "industry": "energy", "employees": 300},
        "initech": {"name": "Initech", "industry": "software", "employees": 80},
    }
    assert _relationships(emulator) == {
        ("acme", "1"): {"role": "admin"},
        ("acme", "2"): {"role": "member"},
        ("globex", "3"): {"role": "admin"},
        ("initech", "4"): {"role": "owner"},
        ("initech", "6"): {"role": "member"},
    }
    devices = {t: (d.platform, d.last_used, _ids(emulator)[d.person]) for t, d in state.devices.items()}
    assert devices == {
        "tok-ios-1": ("ios", _unix("2024-07-10 08:00:00"), "1"),
        "tok-and-2": ("android", _unix("2024-07-11 09:00:00"), "2"),
        "tok-ios-4": ("ios", _unix("2024-07-12 10:00:00"), "4"),
    }
    assert _segment(emulator, "Pro customers") == {"1", "3"}
    [collection] = state.collections.values()
    assert collection.name == "products"
    assert sorted(collection.data, key=lambda r: r["sku"]) == [
        {"sku": "sku-1", "product_name": "Widget", "price": 9.99, "in_stock": True},
        {"sku": "sku-2", "product_name": "Gadget", "price": 24.5, "in_stock": False},
        {"sku": "sku-3", "product_name": "Gizmo", "price": 3.75, "in_stock": True},
    ]

    # -- unchanged re-run: nothing is sent ------------------------------------------------------------
    items, track = emulator.emulator.stats.items, emulator.track_requests()
    updated_at = collection.updated_at
    run_cli(built_project, "sync", "--select", "tag:cio", env=emulator.env)
    assert emulator.emulator.stats.items == items
    assert emulator.track_requests() - track == 1  # the credentials check
    assert collection.updated_at == updated_at and len(state.segments) == 1

    # -- edits, inserts and deletes in the seeds ------------------------------------------------------
    _edit(
        built_project,
        "orders",
        drop=("o-1002",),
        replace={"o-1001,1,,order_completed,120.00": "o-1001,1,,order_completed,999.50"},
        add=("o-1006,6,,order_completed,5.00,2024-07-06 08:00:00",),
    )
    _edit(
        built_project,
        "companies",
        drop=("initech",),
        replace={"globex,Globex,energy": "globex,Globex,utilities"},
        add=("hooli,Hooli,software,5000",),
    )
    _edit(
        built_project,
        "memberships",
        drop=("acme,2,",),
        replace={"acme,1,admin": "acme,1,owner"},
        add=("hooli,5,member",),
    )
    _edit(built_project, "devices", drop=("tok-and-2",), add=("tok-and-5,5,android,2024-07-20 10:00:00",))
    _edit(
        built_project,
        "customers",
        replace={"Grace,Hopper,free": "Grace,Hopper,pro", "Alan,Turing,pro": "Alan,Turing,free"},
    )
    _edit(built_project, "products", replace={"sku-2,Gadget,24.50": "sku-2,Gadget,19.00"})
    built_project.build()
    run_cli(built_project, "sync", "--select", "tag:cio", env=emulator.env)
    results = read_results(built_project)
    assert (
        count(results["cio_orders"], "added"),
        count(results["cio_orders"], "changed"),
        count(results["cio_orders"], "removed"),
    ) == (1, 1, 1)

    events = _events(emulator)
    assert len(state.events) == 9  # append only: one new event; the changed and removed orders send nothing
    assert events[("order_completed", "1")][0].attributes == {"amount": 120.0}
    assert events[("order_completed", "6")][0].attributes == {"amount": 5.0}

    objects = {k[1]: o.attributes for k, o in state.objects.items()}
    assert set(objects) == {"acme", "globex", "hooli"}  # initech deleted (on_delete: delete)
    assert objects["globex"]["industry"] == "utilities"
    assert _relationships(emulator) == {
        ("acme", "1"): {"role": "owner"},
        ("globex", "3"): {"role": "admin"},
        ("hooli", "5"): {"role": "member"},
    }
    assert set(state.devices) == {"tok-ios-1", "tok-ios-4", "tok-and-5"}
    assert _ids(emulator)[state.devices["tok-and-5"].person] == "5"
    assert _segment(emulator, "Pro customers") == {"1", "2"}  # mirror: Alan left, Grace joined
    assert len(state.segments) == 1  # found again by the id remembered in state, not created twice
    [collection] = state.collections.values()
    assert {r["sku"]: r["price"] for r in collection.data} == {"sku-1": 9.99, "sku-2": 19.0, "sku-3": 3.75}


def test_segment_by_id_must_be_an_existing_manual_segment(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    dynamic = emulator.state.create_segment("Active last 30 days", type="dynamic")
    manual = emulator.state.create_segment("Hand picked", type="manual")
    schema = built_project.path / "models" / "schema.yml"
    text = schema.read_text()
    schema.write_text(text.replace("segment: {name: Pro customers}", f"segment: {{id: {dynamic.id}}}"))
    built_project.dbt("parse")
    proc = run_cli(built_project, "sync", "--select", "cio_pro_customers", env=emulator.env, expect=1)
    assert "data-driven" in proc.stdout + proc.stderr

    schema.write_text(text.replace("segment: {name: Pro customers}", "segment: {id: 999}"))
    built_project.dbt("parse")
    proc = run_cli(built_project, "sync", "--select", "cio_pro_customers", env=emulator.env, expect=1)
    assert "999 does not exist" in proc.stdout + proc.stderr

    schema.write_text(text.replace("segment: {name: Pro customers}", f"segment: {{id: {manual.id}}}"))
    built_project.dbt("parse")
    run_cli(built_project, "sync", "--select", "cio_people", "cio_pro_customers", env=emulator.env)
    assert emulator.state.segment_member_ids(manual.id, "id") == {"1", "3"}

    # --fail-fast: a failing sync stops the run; the syncs after it are recorded as skipped, not run
    schema.write_text(text.replace("segment: {name: Pro customers}", "segment: {id: 999}"))
    built_project.dbt("parse")
    args = ("sync", "--select", "cio_pro_customers", "cio_products", "--full-refresh", "--fail-fast")
    run_cli(built_project, *args, env=emulator.env, expect=1)
    results = read_results(built_project)
    assert [r["dbt_cio"]["sync"] for r in results.values()] == ["pro_customers", "cio_products"]
    assert status(results["pro_customers"]) == "error"
    assert (status(results["cio_products"]), results["cio_products"]["message"]) == (
        "skipped",
        "not run: --fail-fast",
    )
    assert not emulator.state.collections
    run_cli(built_project, *args[:-1], env=emulator.env, expect=1)  # without it, the next sync runs
    assert status(read_results(built_project)["cio_products"]) == "success" and emulator.state.collections


def test_refused_credentials_stop_the_run_and_are_never_printed(
    built_project: DbtProject, emulator: RunningEmulator
) -> None:
    secret = "not-the-key-7f3a9c"
    env = {**emulator.env, "CUSTOMERIO_API_KEY": secret}
    proc = run_cli(built_project, "sync", "--select", "cio_people", "cio_orders", env=env, expect=1)
    out = proc.stdout + proc.stderr
    assert secret not in out and "credentials" in out.lower(), out
    results = read_results(built_project)
    assert {status(r) for r in results.values()} <= {"error", "skipped"}, results
    assert not emulator.state.people and not emulator.state.events
    assert secret not in (built_project.path / "target" / "dbt_cio_run_results.json").read_text()
