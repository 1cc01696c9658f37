"""Apache Spark end to end: the real CLI on the integration project built by dbt-spark (session method), the
emulator over HTTP.

Spark's parquet tables have no DELETE, UPDATE or MERGE and Spark has no transactions, so the state moves
append-only (a ledger insert per commit, a fold per run that rebuilds the state table in restartable steps).
These tests run every sync type that removes things (people with deletes, objects, relationships and a
segment in mirror mode), an event sync and keys that SQL literals must get right (quotes, backslashes,
unicode; one refused by Customer.io, so recorded as a rejection) through first syncs, edits and re-runs;
kill a sync mid-way and between each two statements of the fold; and read every statement each run sent
through the adapter (dbt's own log, :mod:`sql_log`): none is row-level DML, and while sending nothing but
one insert per commit (and the lock's heartbeats) writes.

What the next run will take as the state is read straight from the parquet files Spark wrote, with DuckDB
(:func:`_state_as_next_run_sees_it`): opening the Spark metastore from the test process would start a JVM
here and lock the metastore against the next ``dbt-cio`` process.

Each dbt or dbt-cio process starts a JVM (15-20 s): the tests run few of them, one at a time (scripts/test
runs the ``spark`` tests in a pytest run of their own, without workers).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest
from conftest import DBT_CIO, DbtProject, RunningEmulator, run_cli
from run_results import count, read_results, status
from sql_log import READS, creates, logging_env, statements, verb, writes_to
from test_sync_crash import _kill_mid_sync
from test_sync_types import _edit, _events, _relationships, _segment, _unix

from dbt_cio.warehouse.rebuild import CRASH_ENV
from dbt_cio.warehouse.tables import table_suffix

pytestmark = pytest.mark.spark

SYNCS = (
    "cio_people",
    "cio_orders",
    "cio_companies",
    "cio_company_members",
    "cio_pro_customers",
    "hostile_keys",
)
MODELS = ("+cio_people", "+cio_orders", "+cio_companies", "+cio_company_members", "+cio_pro_customers",
          "hostile_keys")  # fmt: skip

# Keys that SQL literals must get exactly right (Spark's string literals take backslash escapes).
HOSTILE_SQL = r"""
select 'it\'s' as person_id, 'a quote' as label
union all select 'back\\slash', 'a backslash'
union all select 'zoë 🚀 עברית', 'unicode'
union all select '100%_sure', 'like wildcards'
union all select 'refuse\'d\\', 'rejected by Customer.io'
"""
HOSTILE_KEYS = {"it's", "back\\slash", "zoë 🚀 עברית", "100%_sure", "refuse'd\\"}
REFUSED = "refuse'd\\"
HOSTILE_SCHEMA = """
version: 2
models:
  - name: hostile_keys
    config:
      meta:
        customerio: {type: person, identifier: person_id}
"""
NO_ROW_DML = frozenset({"delete", "update", "merge", "truncate"})


def _sync(
    project: DbtProject, emulator: RunningEmulator, log: Path, *args: str, expect: int = 0
) -> list[str]:
    """Run ``dbt-cio sync`` with dbt's log of statements in ``log``; the statements it sent, none of which may
    be row-level DML."""
    run_cli(project, "sync", *args, env={**emulator.env, **logging_env(log)}, expect=expect)
    sent = statements(log)
    assert not [s for s in sent if verb(s) in NO_ROW_DML], "row-level DML sent to Spark"
    return sent


def test_every_type_first_sync_edits_and_reruns(spark_project: DbtProject, emulator: RunningEmulator) -> None:
    project, logs = spark_project, spark_project.path.parent / "logs"
    (project.path / "models" / "hostile_keys.sql").write_text(HOSTILE_SQL)
    (project.path / "models" / "hostile_keys.yml").write_text(HOSTILE_SCHEMA)
    project.dbt("build", "--full-refresh", "--select", *MODELS)
    refused = emulator.emulator.faults.reject_items = {REFUSED}

    # -- first sync: everything arrives, but for the row Customer.io refuses ---------------------------
    _sync(project, emulator, logs / "first", "--select", *SYNCS, expect=1)
    results = read_results(project)
    assert {name: status(r) for name, r in results.items()} == {
        **dict.fromkeys(("cio_companies", "cio_company_members", "cio_orders", "cio_people", "pro_customers"),
                        "success"),
        "hostile_keys": "rejected",
    }  # fmt: skip
    state = emulator.state
    people = {p.id: dict(p.attributes) for p in state.people.values()}
    assert set(people) == {"1", "2", "3", "4", "5", "6"} | (HOSTILE_KEYS - refused)
    assert people["1"] == {
        "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "plan": "pro",
        "lifetime_value": 1200.5, "signed_up_at": _unix("2024-01-15 10:00:00"), "is_active": True,
    }  # fmt: skip
    assert "lifetime_value" not in people["5"]  # a null is not sent
    assert people["it's"] == {"label": "a quote"}
    assert _rejections(project, "hostile_keys") == [(REFUSED, 1)]
    events = _events(emulator)
    assert len(state.events) == 5
    [order] = events[("order_completed", "1")]
    assert order.timestamp == _unix("2024-07-01 10:00:00") and order.attributes == {"amount": 120.0}
    assert {k[1]: o.attributes for k, o in state.objects.items()} == {
        "acme": {"name": "Acme Corp", "industry": "manufacturing", "employees": 1200},
        "globex": {"name": "Globex", "industry": "energy", "employees": 300},
        "initech": {"name": "Initech", "industry": "software", "employees": 80},
    }
    assert _relationships(emulator) == {
        ("acme", "1"): {"role": "admin"}, ("acme", "2"): {"role": "member"}, ("globex", "3"): {"role": "admin"},
        ("initech", "4"): {"role": "owner"}, ("initech", "6"): {"role": "member"},
    }  # fmt: skip
    assert _segment(emulator, "Pro customers") == {"1", "3"}

    # -- edits, inserts and deletes in the seeds ------------------------------------------------------
    _edit(project, "customers", drop=("6,",),
          replace={"Grace,Hopper,free": "Grace,Hopper,pro", "Alan,Turing,pro": "Alan,Turing,free"})  # fmt: skip
    _edit(project, "orders", drop=("o-1002",),
          replace={"o-1001,1,,order_completed,120.00": "o-1001,1,,order_completed,999.50"},
          add=("o-1006,4,,order_completed,5.00,2024-07-06 08:00:00",))  # fmt: skip
    _edit(project, "companies", drop=("initech",), replace={"globex,Globex,energy": "globex,Globex,utilities"},
          add=("hooli,Hooli,software,5000",))  # fmt: skip
    _edit(project, "memberships", drop=("acme,2,",), replace={"acme,1,admin": "acme,1,owner"},
          add=("hooli,5,member",))  # fmt: skip
    project.dbt("build", "--full-refresh", "--select", *MODELS)
    _sync(project, emulator, logs / "edits", "--select", *SYNCS, expect=1)
    results = read_results(project)
    changes = {
        name: tuple(count(r, c) for c in ("added", "changed", "removed")) for name, r in results.items()
    }
    assert changes == {
        "cio_companies": (1, 1, 1), "cio_company_members": (1, 1, 1), "cio_orders": (1, 1, 1),
        "cio_people": (0, 2, 1), "pro_customers": (1, 0, 1),
        "hostile_keys": (1, 0, 0),  # the refused row, alone: the other keys came back from the state exactly
    }  # fmt: skip
    assert _rejections(project, "hostile_keys") == [(REFUSED, 1), (REFUSED, 2)]  # two runs in a row
    people = {p.id: dict(p.attributes) for p in state.people.values()}
    assert set(people) == {"1", "2", "3", "4", "5"} | (HOSTILE_KEYS - refused)  # Donald deleted
    assert (people["2"]["plan"], people["3"]["plan"]) == ("pro", "free")
    events = _events(emulator)
    assert len(state.events) == 6  # append only: the new order; the changed and removed ones send nothing
    assert events[("order_completed", "1")][0].attributes == {"amount": 120.0}
    assert sorted(e.attributes["amount"] for e in events[("order_completed", "4")]) == [5.0, 980.0]
    objects = {k[1]: o.attributes for k, o in state.objects.items()}
    assert set(objects) == {"acme", "globex", "hooli"} and objects["globex"]["industry"] == "utilities"
    assert _relationships(emulator) == {
        ("acme", "1"): {"role": "owner"}, ("globex", "3"): {"role": "admin"}, ("hooli", "5"): {"role": "member"},
    }  # fmt: skip
    assert _segment(emulator, "Pro customers") == {"1", "2"}  # mirror: Alan left, Grace joined
    assert len(state.segments) == 1  # found again by the id remembered in sync_meta

    # -- re-run, nothing changed: only the row refused before is sent ----------------------------------
    sent: list[dict] = []
    emulator.emulator.faults.reject_items = lambda item: sent.append(item["identifiers"]) or False
    track = emulator.track_requests()
    _sync(project, emulator, logs / "rerun", "--select", *SYNCS)
    assert sent == [{"id": REFUSED}]
    assert emulator.track_requests() - track == 2  # the credentials check, and that one batch
    assert {status(r) for r in read_results(project).values()} == {"success"}
    assert {p.id for p in state.people.values()} >= HOSTILE_KEYS


PEOPLE = 30_000
VARS = f"{{bulk_people: {PEOPLE}}}"
BULK = "cio_bulk_people"


def test_a_kill_while_sending_and_between_the_folds_statements_resumes_exactly(
    spark_project: DbtProject, emulator: RunningEmulator
) -> None:
    project, logs = spark_project, spark_project.path.parent / "logs"
    emu = emulator.emulator
    sent: list[str] = []
    emu.faults.reject_items = lambda item: sent.append(item["identifiers"]["id"]) or False
    project.dbt("run", "--select", BULK, "--vars", VARS)

    # 1. SIGKILL while sending: the state (its ledger) never claims a row Customer.io did not acknowledge.
    _kill_mid_sync(project, emulator, BULK, VARS, lambda: len(emu.state.people), PEOPLE)
    committed = _state_as_next_run_sees_it(project, BULK)
    arrived = {p.id for p in emu.state.people.values()}
    assert committed <= arrived and len(arrived) < PEOPLE

    # 2. The next run folds what the killed one committed before anything else. Killed after each statement
    #    of that fold in turn, each run completes or redoes what the one before left, and the state as the
    #    next run sees it never moves.
    for point in ("fold:created", "fold:dropped", "fold:renamed"):
        sent.clear()
        _killed_at(project, emulator, point, VARS, logs / point.replace(":", "-"))
        assert sent == []  # killed before sending
        assert _state_as_next_run_sees_it(project, BULK) == committed

    # 3. The model changes (1% of the people, 10 removed). A plain run finishes the fold, then sends exactly
    #    what the state does not hold, a commit at a time (each one insert into the ledger), and folds it.
    smaller = f"{{bulk_people: {PEOPLE - 10}, bulk_version: 2}}"
    project.dbt("run", "--select", BULK, "--vars", smaller)
    sent.clear()
    emu.faults.slow_seconds = 0.5  # several commits (every 2 s) while sending
    run = _sync(
        project, emulator, logs / "resumed", "--select", BULK, "--vars", smaller, "--max-concurrency", "1"
    )
    emu.faults.slow_seconds = 0
    remaining = {str(n) for n in range(1, PEOPLE - 9)}
    changed = {key for key in committed & remaining if int(key) % 100 == 0}
    assert sorted(sent) == sorted((remaining - committed) | changed | (committed - remaining))
    assert _state_as_next_run_sees_it(project, BULK) == remaining
    # Customer.io has everyone in the model; a person who left it is still there only if the killed run had
    # sent them without committing (dbt-cio never knew of them, so it cannot delete them).
    in_customerio = {p.id for p in emu.state.people.values()}
    assert remaining <= in_customerio and in_customerio - remaining <= arrived - committed
    assert emu.state.person(id="100").attributes["cohort"] == "v2"
    assert _commits_while_sending(run, BULK) >= 2
    assert _rows(project, BULK, "state", "count_if(_cio_run_id is null)") == [(0,)]  # each row names its run
    assert not _table_dir(project, BULK, "ledger").exists() and not _table_dir(project, BULK, "next").exists()


def _killed_at(
    project: DbtProject, emulator: RunningEmulator, point: str, variables: str, log: Path
) -> list[str]:
    """A sync of the bulk people that SIGKILLs itself at ``point`` of a fold; the statements it sent."""
    proc = subprocess.run(
        [DBT_CIO, "sync", "--select", BULK, "--vars", variables, *project.flags],
        cwd=project.path,
        env={**os.environ, **project.env, **emulator.env, **logging_env(log), CRASH_ENV: point},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == -9, proc.stdout + proc.stderr  # killed inside the fold
    sent = statements(log)
    assert not [s for s in sent if verb(s) in NO_ROW_DML], "row-level DML sent to Spark"
    return sent


def _commits_while_sending(sent: Sequence[str], sync: str) -> int:
    """How many commits a run made while sending, checking that each was one insert into the ledger and that
    nothing else was written meanwhile but the lock's heartbeats and the block's fingerprint."""
    suffix = table_suffix(sync)
    ledger, lock = f"ledger__{suffix}", f"lock__{suffix}"
    start = max(i for i, s in enumerate(sent) if creates(s) == ledger)  # the ledger of this run's diff
    # The fold begins: the sync log's insert of the acknowledged operations (read from the ledger), then the
    # rebuild of the state (next__).
    end = next(
        i for i in range(start, len(sent))
        if f"next__{suffix}" in sent[i] or (writes_to(sent[i]) == f"sync_log__{suffix}" and ledger in sent[i])
    )  # fmt: skip
    written = [writes_to(s) or verb(s) for s in sent[start + 1 : end] if verb(s) not in READS]
    assert set(written) <= {ledger, lock, "sync_meta"}, written
    return written.count(ledger)


# -- the state as the next run will see it, read from Spark's parquet files ----------------------------


def _rejections(project: DbtProject, sync: str) -> list[tuple[str, int]]:
    """The rejected keys of a sync, each with how many runs in a row it had been rejected, oldest first."""
    where = (
        Path(project.env["DBT_CIO_SPARK_DIR"]) / "warehouse" / f"{project.schema}_dbt_cio.db" / "rejections"
    )
    files = sorted(str(f) for f in where.glob("*.parquet"))
    query = (f"select sync_key, consecutive_runs from read_parquet({files!r}) where sync_name = ? "
             f"order by rejected_at")  # fmt: skip
    return [(key, int(n)) for key, n in duckdb.execute(query, [sync]).fetchall()]


def _table_dir(project: DbtProject, sync: str, kind: str) -> Path:
    """Where Spark keeps one of a sync's tables: ``<warehouse>/<state schema>.db/<kind>__<sync>``."""
    warehouse = Path(project.env["DBT_CIO_SPARK_DIR"]) / "warehouse"
    return warehouse / f"{project.schema}_dbt_cio.db" / f"{kind}__{table_suffix(sync)}"


def _rows(project: DbtProject, sync: str, kind: str, columns: str) -> list[tuple] | None:
    """The rows of one of a sync's tables (its committed parquet files), None when the table does not exist."""
    where = _table_dir(project, sync, kind)
    if not where.is_dir():
        return None
    files = sorted(str(f) for f in where.glob("*.parquet"))
    return duckdb.sql(f"select {columns} from read_parquet({files!r})").fetchall() if files else []


def _state_as_next_run_sees_it(project: DbtProject, sync: str) -> set[str]:
    """The keys the next run takes as synced: the state table with its ledger applied (a fold cut short
    after the old state was dropped leaves the new one in ``next__``, complete)."""
    state = _rows(project, sync, "state", "_cio_key")
    if state is None:
        return {key for (key,) in _rows(project, sync, "next", "_cio_key") or []}
    keys = {key for (key,) in state}
    ledger = _rows(project, sync, "ledger", "_cio_lo, _cio_hi") or []
    diff = _rows(project, sync, "diff", "_cio_seq, _cio_key, _cio_change") or []
    acked = [(key, change) for seq, key, change in diff if any(lo <= seq <= hi for lo, hi in ledger)]
    return (keys - {key for key, _ in acked}) | {key for key, change in acked if change != "removed"}
