"""The warehouse sessions of the golden SQL (see :mod:`golden`): one that keeps DuckDB's answers on a tape,
one that records what dbt-cio sends through another adapter and answers from that tape; and how what was sent
becomes a golden file (determinism, masking, layout).
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbt_cio.errors import WarehouseError
from dbt_cio.warehouse.session import WarehouseSession

# -- what a run sent ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One line of a golden file: a statement dbt-cio sent (``sql``), or a note (``sql`` is None)."""

    note: str
    sql: str | None = None


@dataclass
class Call:
    """One warehouse call of the DuckDB run: its kind, the step it was part of, and its outcome."""

    kind: str
    step: str | None
    value: Any = None
    error: BaseException | None = None


@dataclass
class Tape:
    """The calls of one DuckDB run, replayed in order by the runs of the other adapters."""

    calls: list[Call] = field(default_factory=list)


class TapeSession(WarehouseSession):
    """A real DuckDB session that keeps the outcome of every call on ``tape``."""

    def __init__(self, adapter: Any, *, target: str = "the target", tape: Tape) -> None:
        super().__init__(adapter, target=target)
        self.tape = tape
        self._steps: list[str] = []

    @contextlib.contextmanager
    def transaction(self, step: str, sync: str | None = None) -> Iterator[None]:
        self._steps.append(step)
        try:
            with super().transaction(step, sync):
                yield
        finally:
            self._steps.pop()

    def _keep(self, kind: str, run: Callable[[], Any]) -> Any:
        step = self._steps[-1] if self._steps else None
        try:
            value = run()
        except Exception as exc:
            self.tape.calls.append(Call(kind, step, error=exc))
            raise
        self.tape.calls.append(Call(kind, step, value))
        return value

    def execute(self, statement: str) -> None:
        self._keep("execute", lambda: super(TapeSession, self).execute(statement))

    def fetch(self, statement: str) -> Any:
        return self._keep("fetch", lambda: super(TapeSession, self).fetch(statement))

    def create_schema(self, database: str | None, schema: str) -> None:
        self._keep("create_schema", lambda: super(TapeSession, self).create_schema(database, schema))

    def table_names(self, database: str | None, schema: str) -> set[str] | None:
        return self._keep("table_names", lambda: super(TapeSession, self).table_names(database, schema))  # type: ignore[no-any-return]

    def columns_of(self, database: str | None, schema: str, identifier: str, model: str) -> list[str] | None:
        return self._keep(  # type: ignore[no-any-return]
            "columns_of", lambda: super(TapeSession, self).columns_of(database, schema, identifier, model)
        )


class ReplayError(AssertionError):
    """The replayed run asked something else than the DuckDB run at the same position."""


class ReplaySession(WarehouseSession):
    """A session over an adapter that is never connected: records what dbt-cio sends, answers from ``tape``."""

    def __init__(self, adapter: Any, *, target: str = "the target", tape: Tape, sent: list[Sent]) -> None:
        super().__init__(adapter, target=target)
        self.tape = tape
        self.sent = sent
        self._position = 0
        self._steps: list[tuple[str, str | None]] = []
        if hasattr(adapter, "has_dbr_capability"):
            # dbt-databricks asks the connected cluster's runtime version in some macros (dateadd uses
            # timestampadd from DBR 10.4 on); with no connection, render for a current runtime.
            adapter.has_dbr_capability = lambda _name: True

    def connect(self) -> None:
        """Never connects: dbt renders this adapter's macros without a connection."""

    def disconnect(self) -> None:
        pass

    @contextlib.contextmanager
    def transaction(self, step: str, sync: str | None = None) -> Iterator[None]:
        self._steps.append((step, sync))
        atomic = self.transactional
        if atomic:
            self.sent.append(Sent(f"begin ({step})"))
        try:
            yield
        except (WarehouseError, KeyboardInterrupt, GeneratorExit, ReplayError):
            if atomic:
                self.sent.append(Sent("rollback"))
            raise
        except Exception as exc:
            if atomic:
                self.sent.append(Sent("rollback"))
            raise self._error(step, sync, exc) from exc
        finally:
            self._steps.pop()
        if atomic:
            self.sent.append(Sent("commit"))

    def _label(self) -> str:
        if not self._steps:
            return ""
        step, sync = self._steps[-1]
        return f"{sync}: {step}" if sync else step

    def _answer(self, kind: str) -> Any:
        """DuckDB's outcome of the call at this position (its error raised again)."""
        step = self._steps[-1][0] if self._steps else None
        if self._position >= len(self.tape.calls):
            raise ReplayError(
                f"the replay made call {self._position + 1} ({kind}, {step}); DuckDB made no more"
            )
        call = self.tape.calls[self._position]
        if (call.kind, call.step) != (kind, step):
            raise ReplayError(
                f"the replay diverged at call {self._position + 1}: DuckDB did {call.kind} ({call.step}), "
                f"{self.adapter_type} did {kind} ({step})"
            )
        self._position += 1
        if call.error is not None:
            raise call.error
        return call.value

    def finished(self) -> None:
        """Check the replay made every call the DuckDB run made."""
        if self._position != len(self.tape.calls):
            call = self.tape.calls[self._position]
            raise ReplayError(
                f"the replay stopped after {self._position} calls; DuckDB went on with {call.kind} ({call.step})"
            )

    def execute(self, statement: str) -> None:
        self.sent.append(Sent(self._label(), statement))
        self._answer("execute")

    def fetch(self, statement: str) -> Any:
        self.sent.append(Sent(self._label(), statement))
        return self._answer("fetch")

    def create_schema(self, database: str | None, schema: str) -> None:
        relation = self.adapter.Relation.create(database=database, schema=schema)
        for note, statement in _adapter_statements(
            self.adapter, lambda: self.adapter.create_schema(relation)
        ):
            self.sent.append(Sent(f"creating the state schema{note}", statement))
        self._answer("create_schema")

    def table_names(self, database: str | None, schema: str) -> set[str] | None:
        where = self.relation(database, schema)
        self.sent.append(Sent(f"adapter: list the relations in {where} (the adapter's own introspection)"))
        return self._answer("table_names")  # type: ignore[no-any-return]

    def columns_of(self, database: str | None, schema: str, identifier: str, model: str) -> list[str] | None:
        where = self.relation(database, schema, identifier)
        self.sent.append(Sent(f"adapter: read the columns of {where} (the adapter's own introspection)"))
        return self._answer("columns_of")  # type: ignore[no-any-return]


def _adapter_statements(adapter: Any, call: Callable[[], Any]) -> list[tuple[str, str | None]]:
    """What ``call`` has the adapter send, caught on its way to the connection: SQL, or an API call noted."""
    import agate
    from dbt.adapters.contracts.connection import AdapterResponse

    caught: list[tuple[str, str | None]] = []
    connections = adapter.connections

    def execute(sql: str, auto_begin: bool = False, fetch: bool = False, limit: int | None = None) -> Any:
        caught.append(("", sql.strip()))
        return AdapterResponse(_message="OK"), agate.Table([], [])

    def create_dataset(database: str, schema: str) -> None:
        caught.append((f": BigQuery API, create dataset {database}.{schema} if it does not exist", None))

    patched = {"execute": execute, "create_dataset": create_dataset}
    saved = {name: connections.__dict__.get(name) for name in patched}
    try:
        for name, fn in patched.items():
            setattr(connections, name, fn)
        call()
    finally:
        for name, before in saved.items():
            if before is None:
                delattr(connections, name)
            else:
                setattr(connections, name, before)
    return caught


# -- determinism ------------------------------------------------------------------------------------------


class Counter:
    """Stands for the ``uuid`` module where dbt-cio names runs and lock tokens: ``uuid4().hex`` counts."""

    def __init__(self) -> None:
        self.n = 0

    def reset(self) -> None:
        self.n = 0

    def uuid4(self) -> Any:
        import uuid

        self.n += 1
        return uuid.UUID(int=self.n)


def mask(text: str) -> str:
    """Host names, process ids and epoch times as placeholders (they differ from run to run)."""
    text = text.replace(f"'{socket.gethostname()}'", "'<host>'")
    text = re.sub(r"'<host>', \d+,", "'<host>', <pid>,", text)
    text = re.sub(r"\b1\d{15}\b", "<epoch-us>", text)
    return re.sub(r"\b1\d{12}\b", "<epoch-ms>", text)


def render_file(title: str, sent: Sequence[Sent]) -> str:
    """A golden file: a header, then each statement after a comment naming its step."""
    lines = [
        f"-- {title}",
        "-- Generated by tests/golden.py (scripts/golden --update); review changes like code.",
        "",
    ]
    for item in sent:
        if item.sql is None:
            lines.append(f"-- {item.note}")
            continue
        lines.append(f"-- {item.note}" if item.note else "--")
        lines.append(mask(item.sql).rstrip() + ";")
    return "\n".join(lines) + "\n"


def statements(sent: Sequence[Sent]) -> list[tuple[str, str]]:
    """The statements of a run as they were sent (notes left out), each with its step."""
    return [(item.note, item.sql) for item in sent if item.sql is not None]
