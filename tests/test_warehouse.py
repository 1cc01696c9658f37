"""dbt_cio.warehouse: diffs, state, commits, rejections, runs and locks, on real DuckDB and Postgres.

Each test has its own copy of the integration project (its own DuckDB file or Postgres schema, and so its
own state schema ``<schema>_dbt_cio``). The project is opened in-process through dbt's adapter; it is
closed before dbt runs again in a subprocess (DuckDB lets one process at a time hold the file).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from conftest import DbtProject, open_state

from dbt_cio.contract.model import Identifier, NamedRef, Sync
from dbt_cio.errors import DuplicateKeyError, SyncLockedError, WarehouseError
from dbt_cio.project import DbtArgs, Project
from dbt_cio.warehouse import sql
from dbt_cio.warehouse.changes import RowChange
from dbt_cio.warehouse.records import Rejection
from dbt_cio.warehouse.schema import StateSchema
from dbt_cio.warehouse.session import _table_names
from dbt_cio.warehouse.sql import BUCKET_ROWS, Dialect, bucketed_ranges, key_text, seq_ranges, value_hash
from dbt_cio.warehouse.state import StateMode, StateStore
from dbt_cio.warehouse.tables import table_suffix

PEOPLE_COLUMNS = ("customer_id", "email", "first_name", "last_name", "plan", "lifetime_value", "signed_up_at",
                  "is_active")  # fmt: skip
CUSTOMERS = """customer_id,email,first_name,last_name,plan,lifetime_value,signed_up_at,is_active
1,ada@example.com,Ada,Lovelace,pro,1200.50,2024-01-15 10:00:00,true
2,grace@example.com,Grace,Hopper,free,0,2024-02-01 08:30:00,true
3,alan@example.com,Alan,Turing,pro,860.00,2024-03-10 12:00:00,false
4,edsger@example.com,Edsger,Dijkstra,team,4300.25,2024-04-22 09:15:00,true
5,barbara@example.com,Barbara,Liskov,free,,2024-05-05 17:45:00,true
6,donald@example.com,Donald,Knuth,team,999.99,2024-06-30 23:59:59,true
"""


@pytest.fixture(params=["transactional", "append_only"])
def mode(request: pytest.FixtureRequest) -> StateMode:
    """Both ways of writing state: in place with transactions and DELETE, and append-only (as on Spark)."""
    return request.param  # type: ignore[no-any-return]


@contextmanager
def opened(project: DbtProject, mode: StateMode = "auto") -> Iterator[tuple[Project, StateSchema]]:
    with Project.load(
        DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target)
    ) as p:
        yield p, open_state(p, mode=mode)


def relation(p: Project, model: str) -> str:
    return str(p.manifest.nodes[f"model.dbt_cio_integration_tests.{model}"].relation_name)


def people(p: Project, **overrides: object) -> Sync:
    fields: dict[str, object] = {
        "name": "cio_people", "model": "cio_people", "unique_id": "model.dbt_cio_integration_tests.cio_people",
        "relation": relation(p, "cio_people"), "type": "person", "columns": PEOPLE_COLUMNS,
        "identifier": Identifier("customer_id"), "attributes": {c: c for c in PEOPLE_COLUMNS[1:]},
    }  # fmt: skip
    fields.update(overrides)
    return Sync(**fields)  # type: ignore[arg-type]


def members(p: Project) -> Sync:
    return Sync(
        name="cio_company_members", model="cio_company_members",
        unique_id="model.dbt_cio_integration_tests.cio_company_members", relation=relation(p, "cio_company_members"),
        type="relationship", columns=("company_id", "customer_id", "role"), identifier=Identifier("customer_id"),
        object_type_id="1", object_id="company_id", attributes={"role": "role"},
    )  # fmt: skip


def products(p: Project) -> Sync:
    return Sync(
        name="cio_products", model="cio_products", unique_id="model.dbt_cio_integration_tests.cio_products",
        relation=relation(p, "cio_products"), type="collection", columns=("sku", "product_name", "price", "in_stock"),
        collection=NamedRef(name="products"),
    )  # fmt: skip


def all_changes(store: StateStore, sync: Sync, page_size: int = 10_000) -> list[RowChange]:
    return [change for page in store.iter_changes(sync, page_size=page_size) for change in page]


def by_change(changes: list[RowChange]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"added": set(), "changed": set(), "removed": set()}
    for c in changes:
        out[c.change].add(c.key)
    return out


def commit_all(store: StateStore, sync: Sync) -> None:
    """Acknowledge every row of the diff and fold it into the state, as a run that sent it all does."""
    store.commit(sync, [c.seq for c in all_changes(store, sync)])
    store.fold(sync)


def test_first_run_adds_every_row_and_an_unchanged_rerun_is_empty(
    built_project: DbtProject, mode: StateMode
) -> None:
    with opened(built_project, mode) as (p, st):
        sync = people(p)
        summary = st.store.compute_diff(sync)
        assert (summary.added, summary.changed, summary.removed, summary.null_keys) == (6, 0, 0, 0)
        assert summary.table.endswith(f'"diff__{table_suffix("cio_people")}"')
        changes = all_changes(st.store, sync)
        assert [c.key for c in changes] == ["1", "2", "3", "4", "5", "6"]  # key order
        ada = changes[0]
        assert ada.change == "added" and set(ada.values) == set(PEOPLE_COLUMNS)
        assert ada.values["email"] == "ada@example.com" and ada.values["is_active"] is True
        assert changes[4].values["lifetime_value"] is None
        assert st.store.state_keys(sync.name) == {}  # computing a diff changes no state (dry run)

        commit_all(st.store, sync)
        assert set(st.store.state_keys(sync.name)) == {"1", "2", "3", "4", "5", "6"}
        again = st.store.compute_diff(sync)
        assert again.total == 0 and all_changes(st.store, sync) == []
        # hashes are deterministic: a third diff with no commit in between is still empty
        assert st.store.compute_diff(sync).total == 0


def test_edited_inserted_and_deleted_rows_are_exactly_the_diff(
    built_project: DbtProject, mode: StateMode
) -> None:
    with opened(built_project, mode) as (p, st):
        sync = people(p)
        st.store.compute_diff(sync)
        commit_all(st.store, sync)
    lines = CUSTOMERS.splitlines()
    lines[2] = lines[2].replace(",free,", ",pro,")  # customer 2 changes plan
    lines[5] = lines[5].replace(",Liskov,free,,", ",Liskov,free,10,")  # 5: null -> 10
    del lines[3]  # customer 3 is deleted
    lines.append("7,new@example.com,New,Person,free,1,2024-08-01 00:00:00,true")
    built_project.write_seed("customers", "\n".join(lines) + "\n")
    built_project.dbt("seed", "--full-refresh", "--select", "customers")
    built_project.dbt("run", "--select", "cio_people")
    with opened(built_project, mode) as (p, st):
        sync = people(p)
        summary = st.store.compute_diff(sync)
        assert (summary.added, summary.changed, summary.removed) == (1, 2, 1)
        changes = all_changes(st.store, sync)
        assert by_change(changes) == {"added": {"7"}, "changed": {"2", "5"}, "removed": {"3"}}
        removed = next(c for c in changes if c.change == "removed")
        assert removed.values == {"customer_id": "3"}
        changed = next(c for c in changes if c.key == "2")
        assert changed.values["plan"] == "pro"
        commit_all(st.store, sync)
        assert set(st.store.state_keys(sync.name)) == {"1", "2", "4", "5", "6", "7"}
        assert st.store.compute_diff(sync).total == 0


def test_partial_commit_resumes_and_rejected_keys_come_back(
    built_project: DbtProject, mode: StateMode
) -> None:
    with opened(built_project, mode) as (p, st):
        sync = people(p)
        st.store.compute_diff(sync)
        pages = list(st.store.iter_changes(sync, page_size=4))
        assert [len(page) for page in pages] == [4, 2]  # paged by _cio_seq ranges
        run_id = st.records.start_run(sync.name)
        first = pages[0]
        # 1 and 2 acknowledged (one commit each), 3 rejected, 4 never answered (run stopped)
        assert [c.seq for c in first] == [1, 2, 3, 4]
        st.store.commit(sync, [first[0].seq], run_id=run_id)
        st.store.commit(sync, [first[1].seq], run_id=run_id)
        st.records.record_rejections(sync.name, run_id, [Rejection("3", "3", "email is invalid", "email")])
        st.records.finish_run(
            run_id, status="rejected", counts={"added": 6, "accepted": 2, "rejected": 1, "requests": 1}
        )
        # an acknowledgement of a row the diff does not hold is ignored
        st.store.commit(sync, [0, 7, 10_000])
        # not folded yet (the run stopped), but already the state the next run starts from
        assert set(st.store.state_keys(sync.name)) == {"1", "2"}

        summary = st.store.compute_diff(sync)
        assert (summary.added, summary.changed, summary.removed) == (4, 0, 0)
        assert {c.key for c in all_changes(st.store, sync)} == {"3", "4", "5", "6"}
        assert set(st.store.state_keys(sync.name)) == {"1", "2"}

        [rejection] = st.records.rejections(sync.name)
        assert (rejection["run_id"], rejection["sync_key"], rejection["reason"], rejection["field"]) == (
            run_id, "3", "email is invalid", "email")  # fmt: skip
        assert (rejection["key_display"], rejection["consecutive_runs"]) == ("3", 1)
        [run] = st.records.runs(sync.name)
        assert (run["outcome"], run["added"], run["accepted"], run["rejected"]) == ("rejected", 6, 2, 1)
        assert run["other_counts"] == '{"requests": 1}' and run["finished_at"] is not None

        # the next run that rejects the key again counts a second run in a row; a key new to it starts at 1
        later = st.records.start_run(sync.name)
        assert st.records.previous_run(sync.name, later) == run_id
        st.records.record_rejections(
            sync.name,
            later,
            [Rejection("3", "3", "email is invalid", "email"), Rejection("4", "4", "too long", "email")],
            previous_run=run_id,
        )
        again = {r["sync_key"]: r["consecutive_runs"] for r in st.records.rejections(sync.name, later)}
        assert again == {"3": 2, "4": 1}


def test_composite_keys_and_collections(built_project: DbtProject, mode: StateMode) -> None:
    with opened(built_project, mode) as (p, st):
        rel = members(p)
        assert st.store.compute_diff(rel).added == 5
        changes = all_changes(st.store, rel)
        acme1 = next(c for c in changes if c.values["customer_id"] == "1")
        assert acme1.key == "acme\x1f1" and acme1.values == {
            "company_id": "acme",
            "customer_id": "1",
            "role": "admin",
        }
        commit_all(st.store, rel)

        coll = products(p)
        assert st.store.compute_diff(coll).added == 3
        commit_all(st.store, coll)
        rows = [row for page in st.store.iter_rows(coll, page_size=2) for row in page]
        assert [r["sku"] for r in rows] == ["sku-1", "sku-2", "sku-3"] and set(rows[0]) == set(coll.columns)
    built_project.write_seed("memberships", "company_id,customer_id,role\nacme,1,owner\nacme,2,member\n"
                                            "globex,3,admin\ninitech,4,owner\n")  # fmt: skip
    built_project.write_seed("products", "sku,product_name,price,in_stock\nsku-1,Widget,9.99,true\n"
                                         "sku-2,Gadget,29.50,false\nsku-3,Gizmo,,true\n")  # fmt: skip
    built_project.dbt("seed", "--full-refresh", "--select", "memberships", "products")
    built_project.dbt("run", "--select", "cio_company_members", "cio_products")
    with opened(built_project, mode) as (p, st):
        rel = members(p)
        st.store.compute_diff(rel)
        changes = all_changes(st.store, rel)
        assert by_change(changes) == {"added": set(), "changed": {"acme\x1f1"}, "removed": {"initech\x1f6"}}
        gone = next(c for c in changes if c.change == "removed")
        assert gone.values == {"company_id": "initech", "customer_id": "6"}
        coll = products(p)
        # a collection row that changed is removed + added (its key is the whole row)
        summary = st.store.compute_diff(coll)  # a null is a value here, not a missing key
        assert (summary.added, summary.removed, summary.null_keys) == (2, 2, 0)
        assert {c.change for c in all_changes(st.store, coll)} == {"added", "removed"}
        gizmo = next(
            c for c in all_changes(st.store, coll) if c.change == "added" and c.values["sku"] == "sku-3"
        )
        assert gizmo.values["price"] is None


def test_duplicate_keys_fail_the_sync_before_anything_is_written(built_project: DbtProject) -> None:
    with opened(built_project) as (p, st):
        # keyed by company alone, cio_company_members holds acme twice and initech twice
        sync = Sync(
            name="companies_by_member", model="cio_company_members", unique_id="model.x.cio_company_members",
            relation=relation(p, "cio_company_members"), type="object", columns=("company_id", "customer_id", "role"),
            object_type_id="1", object_id="company_id", attributes={"role": "role"},
        )  # fmt: skip
        with pytest.raises(DuplicateKeyError) as info:
            st.store.compute_diff(sync)
        assert info.value.count == 2 and info.value.sample == ["acme", "initech"]
        assert "companies_by_member" in str(info.value) and "deduplicate" in str(info.value)
        assert st.store.state_keys(sync.name) == {}
        assert (
            p.adapter.get_relation(st.tables.database, st.tables.schema, "diff__companies_by_member") is None
        )


def test_null_keys_are_left_out_and_reported(built_project: DbtProject) -> None:
    with opened(built_project) as (p, st):
        # cio_orders keyed by anonymous_id: only order o-1004 has one; the four others have a null key
        sync = Sync(
            name="anonymous_orders", model="cio_orders", unique_id="model.x.cio_orders",
            relation=relation(p, "cio_orders"), type="object",
            columns=("order_id", "customer_id", "anonymous_id", "event_name", "amount", "ordered_at"),
            object_type_id="2", object_id="anonymous_id", attributes={"order": "order_id"},
        )  # fmt: skip
        summary = st.store.compute_diff(sync)
        assert (summary.added, summary.null_keys) == (1, 4)
        assert len(summary.null_key_sample) == 4
        assert {row["order_id"] for row in summary.null_key_sample} == {
            "o-1001", "o-1002", "o-1003", "o-1005"}  # fmt: skip
        assert all(row["anonymous_id"] is None for row in summary.null_key_sample)
        assert [c.key for c in all_changes(st.store, sync)] == ["anon-77"]


def test_a_missing_column_names_sync_relation_column_and_fix(built_project: DbtProject) -> None:
    with opened(built_project) as (p, st):
        sync = people(p, attributes={"email": "email", "tier": "loyalty_tier"})
        with pytest.raises(WarehouseError) as info:
            st.store.compute_diff(sync)
        message = str(info.value)
        assert "cio_people" in message and "loyalty_tier" in message and sync.relation in message
        assert "run dbt again" in message
        unbuilt = people(p, relation=relation(p, "cio_people").replace("cio_people", "cio_people_unbuilt"))
        with pytest.raises(WarehouseError, match="dbt run --select cio_people"):
            st.store.compute_diff(unbuilt)


def test_full_refresh_forgets_state_and_keeps_meta(built_project: DbtProject, mode: StateMode) -> None:
    with opened(built_project, mode) as (p, st):
        sync = people(p)
        assert st.store.forget("cio_people") is False  # nothing to forget yet
        st.store.compute_diff(sync)
        commit_all(st.store, sync)
        st.records.set_meta(sync.name, "segment_id", "42")
        assert st.store.forget("cio_people") is True
        assert st.store.state_keys(sync.name) == {}
        assert st.store.compute_diff(sync).added == 6
        assert st.records.get_meta(sync.name, "segment_id") == "42"
        st.records.set_meta(sync.name, "segment_id", None)
        assert st.records.get_meta(sync.name, "segment_id") is None


def test_a_second_run_of_the_same_sync_is_refused(built_project: DbtProject) -> None:
    with opened(built_project) as (p, st):
        with st.locks.hold("cio_people"):
            with pytest.raises(SyncLockedError) as info, open_state(p).locks.hold("cio_people"):
                pass  # pragma: no cover
            message = str(info.value)
            assert "cio_people" in message and "pid" in message and "drop table" in message
            assert "lock__cio_people" in message
            with open_state(p).locks.hold("cio_orders"):  # other syncs are not blocked
                pass
        with st.locks.hold("cio_people"):  # released on exit
            pass


def test_locks_of_dead_processes_and_expired_heartbeats_are_taken_over(built_project: DbtProject) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    now = [1_000_000.0]
    with opened(built_project) as (p, st):
        st = open_state(p, lock_ttl=60, clock=lambda: now[0])
        st.tables.ensure()
        table = st.locks.table("s")

        def insert(token: str, host: str, pid: int, at: float, event: str = "acquire") -> None:
            with st.tables.session.transaction("writing a lock row"):
                st.tables.session.execute(
                    sql.create_table(
                        st.tables.session.dialect, table, sql.lock_columns(st.tables.session.dialect)
                    )
                )
                st.tables.session.execute(
                    f"insert into {table} (token, run_id, host, pid, event, at_ms) "
                    f"values ('{token}', null, '{host}', {pid}, '{event}', {int(at * 1000)})"
                )

        import socket

        insert("crashed", socket.gethostname(), dead.pid, now[0])  # SIGKILLed a moment ago on this host
        with st.locks.hold("s"):
            pass
        assert not st.tables.exists("lock__s")  # the holder leaves no row behind, the dead one's included
        insert("elsewhere", "another-host", 1, now[0] - 90)  # another host, acquired 90s ago...
        insert("elsewhere", "another-host", 1, now[0] - 30, "heartbeat")  # ...heartbeat 30s ago: live
        with pytest.raises(SyncLockedError) as info, st.locks.hold("s"):
            pass  # pragma: no cover
        assert "another-host" in str(info.value)
        now[0] += 31  # 61s without a heartbeat: past the 60s TTL
        with st.locks.hold("s"):
            st.locks.heartbeat("s")
        insert("gone", "another-host", 2, now[0])
        insert("gone", "another-host", 2, now[0], "release")  # released: not in the way
        with st.locks.hold("s"):
            pass


def test_of_two_racing_lock_takers_exactly_one_wins(built_project: DbtProject) -> None:
    """Two processes that both found the lock free append their rows: whoever reads them picks the same winner
    (the earliest acquire), and the loser's withdrawal does not free the lock."""
    with opened(built_project) as (p, st):
        st.tables.ensure()
        d, session = st.tables.session.dialect, st.tables.session
        table = st.locks.table("s")
        with session.transaction("racing"):
            session.execute(sql.create_table(d, table, sql.lock_columns(d)))
            session.execute(
                f"insert into {table} (token, run_id, host, pid, event, at_ms) values "
                f"('late', null, 'host-b', 8, 'acquire', 2000), ('early', null, 'host-a', 7, 'acquire', 1000)"
            )
        clocked = open_state(p, clock=lambda: 3.0)
        winner = clocked.locks.winner("s")
        assert winner is not None and (winner.token, winner.host) == ("early", "host-a")
        with session.transaction("the loser withdraws"):
            session.execute(
                f"insert into {table} (token, run_id, host, pid, event, at_ms) "
                f"values ('late', null, 'host-b', 8, 'release', 2100)"
            )
        assert clocked.locks.winner("s") == winner
        with pytest.raises(SyncLockedError) as info, clocked.locks.hold("s"):
            pass  # pragma: no cover
        assert "host-a" in str(info.value) and "pid 7" in str(info.value)


def test_state_schema_follows_the_var(built_project: DbtProject) -> None:
    args = DbtArgs(project_dir=built_project.path, profiles_dir=built_project.path, target=built_project.target,
                   vars={"dbt_cio_state_schema": f"{built_project.schema}_custom_state"})  # fmt: skip
    with Project.load(args) as p:
        st = open_state(p)
        assert st.tables.schema == f"{built_project.schema}_custom_state"
        sync = people(p)
        assert st.store.compute_diff(sync).added == 6
        assert p.adapter.get_relation(st.tables.database, st.tables.schema, "diff__cio_people") is not None


def test_a_second_process_is_refused_while_a_sync_runs(dbt_project: DbtProject) -> None:
    """Across processes: on Postgres the lock row refuses the second run; DuckDB's file lock refuses it earlier."""
    child = (
        "import sys\n"
        "from dbt_cio.project import DbtArgs, Project\n"
        "from dbt_cio.warehouse.schema import StateSchema\n"
        "from dbt_cio.errors import DbtCioError\n"
        "try:\n"
        f"    with Project.load(DbtArgs(project_dir={str(dbt_project.path)!r}, profiles_dir={str(dbt_project.path)!r},"
        f" target={dbt_project.target!r})) as p:\n"
        "        with StateSchema.open(p.session, p.state_schema).locks.hold('cio_people'):\n"
        "            print('LOCKED')\n"
        "except DbtCioError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    with opened(dbt_project) as (_p, st), st.locks.hold("cio_people"):
        out = subprocess.run(
            [sys.executable, "-c", child], capture_output=True, text=True, timeout=300, check=False
        ).stdout
    if dbt_project.target == "duckdb":
        assert out.startswith("WarehouseError could not connect"), out
    else:
        assert out.startswith("SyncLockedError sync 'cio_people' is already running"), out
        assert f"pid {os.getpid()}" in out


# -- SQL text (pure) ------------------------------------------------------------------------------------


def _dialect(backslashes: bool = False) -> Dialect:
    return Dialect(
        adapter_type="duckdb", string_type="varchar", bigint_type="bigint", timestamp_type="timestamp", now="now()",
        hash_parts=("md5(", ")"), concat_parts=("", " || ", ""), backslash_escapes=backslashes, indexes=False,
    )  # fmt: skip


def test_show_tables_answers_are_read_by_column_name() -> None:
    # Spark 3.5 answers (namespace, tableName, isTemporary); Databricks names the first column database
    spark = (["namespace", "tableName", "isTemporary"], [("s", "State__A", False), ("", "tmp_view", True)])
    assert _table_names(*spark) == {"state__a"}
    assert _table_names(["database", "tableName", "isTemporary"], [("s", "runs", False)]) == {"runs"}


def test_table_names_are_sanitised_without_collisions() -> None:
    assert table_suffix("cio_people") == "cio_people"
    assert table_suffix("Pro Customers").startswith("pro_customers_") and table_suffix("Pro Customers") != table_suffix(
        "pro customers")  # fmt: skip
    assert len(table_suffix("x" * 100)) == 49


def test_literals_escape_for_the_dialect() -> None:
    assert _dialect().literal("o'brien\\x") == "'o''brien\\x'"
    assert _dialect(backslashes=True).literal("o'brien\\x") == "'o\\'brien\\\\x'"
    assert (_dialect().literal(None), _dialect().literal(7), _dialect().literal(True)) == ("null", "7", "1")


def test_redshift_strings_are_wide_enough_for_keys_reasons_and_hashed_rows() -> None:
    # What dbt-redshift's macros render (tests/golden/ has the real rendering): TEXT is VARCHAR(256) on Redshift.
    rendered = {"hash": "md5(cast(__cio_a__ as TEXT))", "concat": "__cio_a__ || __cio_b__", "type_string": "TEXT",
                "escape_single_quotes": "a''b\\c", "type_bigint": "bigint", "type_timestamp": "timestamp",
                "current_timestamp": "getdate()", "dateadd": "dateadd(day, __cio_a__, getdate())"}  # fmt: skip
    d = Dialect.render("redshift", lambda name, **_kwargs: rendered[name])
    assert d.string_type == "varchar(65535)" and d.as_string('"a"') == 'cast("a" as varchar(65535))'
    assert d.hash("x") == "md5(cast(x as varchar(65535)))"
    assert Dialect.render("postgres", lambda name, **_kwargs: rendered[name]).string_type == "TEXT"


def test_keys_and_hashes_are_null_safe_and_ordered() -> None:
    d = _dialect()
    assert key_text(d, ['"a"']) == 'cast("a" as varchar)'
    assert key_text(d, ['"a"', '"b"']) == 'cast("a" as varchar) || \'\x1f\' || cast("b" as varchar)'
    hashed = value_hash(d, ['"x"', '"y"'])
    assert hashed.startswith("md5(coalesce(cast(\"x\" as varchar), '\x1e')")
    assert hashed.index('"x"') < hashed.index('"y"')
    assert value_hash(d, []) == "md5('-')"


def test_acknowledged_rows_travel_as_a_few_ranges() -> None:
    assert seq_ranges([]) == []
    assert seq_ranges([5, 3, 4, 9, 1, 10, 4]) == [(1, 1), (3, 5), (9, 10)]
    assert seq_ranges(range(1, 1_000_001)) == [(1, 1_000_000)] and seq_ranges(range(3, 3)) == []


def test_ledger_ranges_never_cross_a_bucket() -> None:
    b = BUCKET_ROWS
    assert bucketed_ranges([1, 2, 3]) == [(1, 3, 0)]
    assert bucketed_ranges(range(b - 2, b + 3)) == [(b - 2, b - 1, 0), (b, b + 2, 1)]
    pieces = bucketed_ranges(range(1, 3 * b + 10))
    assert [bucket for _lo, _hi, bucket in pieces] == [0, 1, 2, 3]
    assert all(lo // b == hi // b == bucket for lo, hi, bucket in pieces)
    assert sum(hi - lo + 1 for lo, hi, _ in pieces) == 3 * b + 9


def test_a_commit_is_one_insert_of_ranges_into_the_ledger(built_project: DbtProject, mode: StateMode) -> None:
    with opened(built_project, mode) as (p, st):
        sync = people(p)
        st.store.compute_diff(sync)
        sent: list[str] = []
        session = st.tables.session
        execute = session.execute
        session.execute = lambda statement: sent.append(statement) or execute(statement)  # type: ignore[method-assign]
        st.store.commit(sync, [5, 3, 4, 1, 4])
        session.execute = execute  # type: ignore[method-assign]
        assert len(sent) == 1 and sent[0].startswith("insert into") and "ledger__cio_people" in sent[0]
        _cols, rows = session.query(
            f"select _cio_lo, _cio_hi from {st.tables.of_sync(sync.name).ledger} order by _cio_lo", "reading"
        )
        assert [tuple(int(v) for v in row) for row in rows] == [(1, 1), (3, 5)]
        assert set(st.store.state_keys(sync.name)) == {"1", "3", "4", "5"}


def test_tables_written_by_an_earlier_version_get_the_new_columns(built_project: DbtProject) -> None:
    with opened(built_project) as (_p, st):
        session = st.tables.session
        session.create_schema(st.tables.database, st.tables.schema)
        old = st.tables.relation("rejections")
        with session.transaction("creating an old rejections table"):
            session.execute(
                f"create table {old} (run_id varchar, sync_name varchar, sync_key varchar, reason varchar)"
            )
            session.execute(f"insert into {old} values ('r0', 'cio_people', '3', 'old reason')")
        st.tables.ensure()
        names, rows = session.query(f"select * from {old}", "reading")
        assert {"key_display", "consecutive_runs", "field", "rejected_at"} <= {n.lower() for n in names}
        assert len(rows) == 1  # nothing lost
        st.records.record_rejections("cio_people", "r1", [Rejection("4", "4", "new reason", None)])
        assert {r["sync_key"] for r in st.records.rejections("cio_people")} == {"3", "4"}


@pytest.mark.postgres
@pytest.mark.parametrize("target", ["postgres"])
def test_readers_have_connections_of_their_own_closed_with_the_block(dbt_project: DbtProject) -> None:
    with opened(dbt_project) as (p, _state):
        session = p.session

        def backend(s: object) -> int:
            return int(s.query("select pg_backend_pid()", "asking")[1][0][0])  # type: ignore[attr-defined]

        def alive(pid: int) -> bool:
            rows = session.query(f"select count(*) from pg_stat_activity where pid = {pid}", "asking")[1]
            return bool(rows[0][0])

        with session.readers(2) as (main, reader):
            assert main is session
            mine, theirs = session.run(backend, main), reader.run(backend, reader)
            assert mine != theirs and session.run(alive, theirs)
        assert not session.run(alive, theirs) and session.run(alive, mine)
        with session.readers(1) as only:
            assert only == [session]
