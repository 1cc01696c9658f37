"""One dbt adapter as dbt-cio uses it: connection, transactions, queries, error translation, SQL dialect.

This is the only module that calls the adapter. Everything else in the warehouse layer (state, records,
locks) is built on the public surface of :class:`WarehouseSession`, never on the adapter itself.

dbt adapter connections belong to the thread that opened them. A session therefore owns one
:class:`~dbt_cio.warehouse.thread.WarehouseThread`: code on the event loop hands warehouse work over with
:meth:`WarehouseSession.call`, synchronous code with :meth:`WarehouseSession.run`. The methods that touch the
warehouse must be called from one thread only (the session's thread, or the caller's own in a script or test);
a connection is opened for that thread on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from dbt_cio.errors import WarehouseError, gist
from dbt_cio.warehouse.dialect import CAPABILITIES, Dialect
from dbt_cio.warehouse.thread import WarehouseThread

if TYPE_CHECKING:  # heavy imports stay out of `--help`
    from dbt.adapters.base.impl import BaseAdapter

__all__ = ["CONNECTION_NAME", "Rows", "WarehouseSession"]

CONNECTION_NAME = "dbt_cio"
T = TypeVar("T")
Rows = tuple[list[str], list[tuple[Any, ...]]]
"""A query's answer: its column names, and its rows as tuples straight from the driver."""


class WarehouseSession:
    """The warehouse through one registered dbt adapter (see the module docstring).

    ``target`` describes the connection in messages, e.g. ``target 'dev' (duckdb)``; it never holds a secret.
    """

    def __init__(
        self, adapter: BaseAdapter, *, target: str = "the target", thread: str = "dbt-cio-warehouse"
    ) -> None:
        self.adapter = adapter
        self.target = target
        self._thread_name = thread
        self._thread: WarehouseThread | None = None
        self._dialect: Dialect | None = None

    def __repr__(self) -> str:
        return f"WarehouseSession({self.target})"

    # -- the warehouse thread ------------------------------------------------------------------------------

    @property
    def thread(self) -> WarehouseThread:
        if self._thread is None:
            self._thread = WarehouseThread(self._thread_name)
        return self._thread

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the session's thread and wait for it (from synchronous code)."""
        return self.thread.run(fn, *args, **kwargs)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the session's thread without blocking the event loop."""
        return await self.thread.call(fn, *args, **kwargs)

    def close(self) -> None:
        """Close every connection (of any thread), let go of an embedded database file, stop the thread."""
        try:
            if self._thread is not None:
                self._thread.run(self.disconnect)
            else:
                self.disconnect()
        finally:
            if self._thread is not None:
                self._thread.close()
                self._thread = None

    @contextmanager
    def readers(self, count: int) -> Iterator[list[WarehouseSession]]:
        """This session and ``count - 1`` more on the same adapter, each with a thread and a connection of its own,
        for queries the warehouse may answer at the same time (reads of committed tables only: nothing the
        others write is seen before it commits). The others' connections close when the block ends."""
        others = [
            WarehouseSession(self.adapter, target=self.target, thread=f"dbt-cio-reader-{n}")
            for n in range(1, count)
        ]
        for other in others:
            other._dialect = self._dialect
        try:
            yield [self, *others]
        finally:
            for other in others:
                other._release()

    def _release(self) -> None:
        """Close this session's own connection (not the adapter's others) and stop its thread."""
        if self._thread is None:
            return
        try:
            self._thread.run(self._release_thread_connection)
        finally:
            self._thread.close()
            self._thread = None

    def _release_thread_connection(self) -> None:
        connections = self.adapter.connections
        if connections.get_if_exists() is None:
            return
        try:
            connections.release()
        finally:
            connections.clear_thread_connection()

    # -- connection ----------------------------------------------------------------------------------------

    @property
    def adapter_type(self) -> str:
        return str(self.adapter.type())

    def connect(self) -> None:
        """Open a connection for the calling thread unless it has one."""
        connections = self.adapter.connections
        if connections.get_if_exists() is not None:
            return
        try:
            self.adapter.acquire_connection(CONNECTION_NAME).handle  # noqa: B018 -- opens a lazy handle now
        except Exception as exc:  # any driver's error: translate at the boundary
            connections.clear_thread_connection()
            raise WarehouseError(
                f"could not connect to {self.target}: {gist(exc)}. "
                "Check the profile (dbt debug) and that no other process holds the database."
            ) from exc

    def disconnect(self) -> None:
        """Close every connection the adapter opened (in any thread); the session can connect again."""
        self.adapter.cleanup_connections()
        _release_embedded_database(self.adapter)

    # -- statements ----------------------------------------------------------------------------------------

    @contextmanager
    def transaction(self, step: str, sync: str | None = None) -> Iterator[None]:
        """One warehouse transaction; any failure rolls back and becomes a WarehouseError naming the step.

        On a warehouse without transactions (:attr:`transactional` is False) the statements of the block run
        one by one, each on its own; failures are translated all the same. Code that must work there never
        relies on several statements being atomic (see :mod:`dbt_cio.warehouse.state`).
        """
        self.connect()
        if not self.transactional:
            try:
                yield
            except (WarehouseError, KeyboardInterrupt, GeneratorExit):
                raise
            except Exception as exc:
                raise self._error(step, sync, exc) from exc
            return
        conns = self.adapter.connections
        if conns.get_thread_connection().transaction_open:
            conns.commit()
        try:
            conns.begin()
            yield
            conns.commit()
        except (WarehouseError, KeyboardInterrupt, GeneratorExit):
            conns.rollback_if_open()
            raise
        except Exception as exc:
            conns.rollback_if_open()
            raise self._error(step, sync, exc) from exc

    @staticmethod
    def _error(step: str, sync: str | None, exc: BaseException) -> WarehouseError:
        who = f"sync '{sync}': " if sync else ""
        return WarehouseError(f"{who}{step} failed in the warehouse: {gist(exc)}")

    @property
    def transactional(self) -> bool:
        """Whether several statements can be made atomic here (see :mod:`dbt_cio.warehouse.dialect`)."""
        return self.capabilities[0]

    @property
    def capabilities(self) -> tuple[bool, bool]:
        """``(transactions, row_dml)`` of this warehouse (see :mod:`dbt_cio.warehouse.dialect`)."""
        return CAPABILITIES.get(self.adapter_type, (False, False))

    def execute(self, statement: str) -> None:
        """Run one statement inside the current transaction (see :meth:`transaction`)."""
        conns = self.adapter.connections
        if hasattr(conns, "add_query"):
            conns.add_query(statement, auto_begin=False)
        else:  # adapters without a DB-API cursor (e.g. BigQuery)
            self.adapter.execute(statement)

    def fetch(self, statement: str) -> Rows:
        """Run a query inside the current transaction; rows straight from the DB-API cursor (no agate)."""
        conns = self.adapter.connections
        if hasattr(conns, "add_query"):
            _conn, cursor = conns.add_query(statement, auto_begin=False)
            description = cursor.description or ()
            names = [col[0] for col in description]
            rows = [tuple(row) for row in cursor.fetchall()]
            return names, _decode_json_columns(description, rows)
        _response, table = self.adapter.execute(statement, fetch=True)  # adapters without a DB-API cursor
        return list(table.column_names), [tuple(row) for row in table.rows]

    def query(self, statement: str, step: str, sync: str | None = None) -> Rows:
        """:meth:`fetch` in a transaction of its own; failures name ``step`` (and the sync)."""
        with self.transaction(step, sync):
            return self.fetch(statement)

    # -- relations and dialect -----------------------------------------------------------------------------

    @property
    def dialect(self) -> Dialect:
        """The SQL fragments of this warehouse, rendered once by dbt's cross-database macros."""
        if self._dialect is None:
            self.connect()
            self._dialect = Dialect.render(self.adapter_type, self.render_macro)
        return self._dialect

    def render_macro(self, name: str, **kwargs: Any) -> str:
        """Render one dbt macro (through the project's dispatch, so overrides apply) to text."""
        return str(self.adapter.execute_macro(name, kwargs=kwargs))

    def call_macro(self, name: str, package: str, **kwargs: Any) -> Any:
        """Call one macro of ``package`` (e.g. dbt-cio's own, :mod:`dbt_cio.warehouse.macros`) and return what it
        returns: its text, or the value it passes to ``return()``. Needs no connection."""
        return self.adapter.execute_macro(name, project=package, kwargs=kwargs)

    def relation(self, database: str | None, schema: str, identifier: str | None = None) -> str:
        """The rendered, quoted name of a relation (or of a schema, without ``identifier``)."""
        return str(self.adapter.Relation.create(database=database, schema=schema, identifier=identifier))

    def quote(self, name: str) -> str:
        return str(self.adapter.quote(name))

    def create_schema(self, database: str | None, schema: str) -> None:
        self.connect()
        try:
            self.adapter.create_schema(self.adapter.Relation.create(database=database, schema=schema))
        except Exception as exc:
            raise WarehouseError(f"cannot create the schema {schema}: {gist(exc)}") from exc

    def table_names(self, database: str | None, schema: str) -> set[str] | None:
        """The lower-cased names of the relations in a schema, asked of the warehouse (dbt's cache may be
        stale); None when the schema does not exist or cannot be listed."""
        self.connect()
        relation = self.adapter.Relation.create(database=database, schema=schema).without_identifier()
        listing = self.dialect.list_tables
        try:
            if listing:  # names only, where the adapter's listing reads every table's metadata
                names, rows = self.query(listing.format(schema=relation), "listing the state tables")
                return _table_names(names, rows)
            with self.transaction("listing the state tables"):
                found = self.adapter.list_relations_without_caching(relation)
        except WarehouseError:
            return None
        return {str(r.identifier).lower() for r in found}

    def columns_of(self, database: str | None, schema: str, identifier: str, model: str) -> list[str] | None:
        """A relation's columns as the warehouse reports them, in order; None when it does not exist."""
        self.connect()
        try:
            found = self.adapter.get_relation(database, schema, identifier)
            if found is None:
                return None
            return [column.name for column in self.adapter.get_columns_in_relation(found)]
        except Exception as exc:
            where = self.relation(database, schema, identifier)
            raise WarehouseError(
                f"could not read the columns of {where} for model '{model}': {gist(exc)}"
            ) from exc

    def column_types(
        self, database: str | None, schema: str, identifier: str, step: str, *, sized: bool = False
    ) -> list[tuple[str, str]]:
        """A table's columns as ``(name, data type)`` in order, the type as the adapter names it (dbt's
        ``Column.dtype``: ``VARCHAR``, ``DECIMAL(38,10)``, ``timestamp with time zone``...); ``sized``: with
        the precision where the adapter keeps it apart (``Column.data_type``: PostgreSQL's ``numeric(10,2)``)."""
        self.connect()
        relation = self.adapter.Relation.create(database=database, schema=schema, identifier=identifier)
        try:
            columns = self.adapter.get_columns_in_relation(relation)
        except Exception as exc:
            raise self._error(step, None, exc) from exc
        return [(str(column.name), str(column.data_type if sized else column.dtype)) for column in columns]


def _table_names(names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> set[str]:
    """The lower-cased table names in the answer of ``show tables`` (``namespace``/``database``,
    ``tableName``, ``isTemporary``), temporary views left out."""
    lower = [name.lower() for name in names]
    at = lower.index("tablename") if "tablename" in lower else 1
    temporary = lower.index("istemporary") if "istemporary" in lower else None
    return {str(row[at]).lower() for row in rows if temporary is None or not row[temporary]}


def _decode_json_columns(description: Sequence[Any], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Parse JSON columns that the driver hands back as text (DuckDB does; psycopg2 already parses them).

    A JSON column is sent to Customer.io as the JSON value it holds, not as a string of JSON.
    """
    json_cols = [i for i, col in enumerate(description) if str(col[1]).upper() == "JSON"]
    if not json_cols or not rows:
        return rows
    out = []
    for row in rows:
        values = list(row)
        for i in json_cols:
            if isinstance(values[i], str):
                try:
                    values[i] = json.loads(values[i])
                except ValueError:
                    pass  # not valid JSON after all: send the text as it is
        out.append(tuple(values))
    return out


def _release_embedded_database(adapter: BaseAdapter) -> None:
    """Let go of an embedded database file once every connection is closed.

    dbt-duckdb keeps its database open for the life of the process (``keep_open``); closing it lets
    other processes (``dbt run``, the next sync) open the file. Other adapters need nothing here.
    """
    manager: Any = type(adapter.connections)
    env = getattr(manager, "_ENV", None)
    if adapter.type() == "duckdb" and env is not None and hasattr(env, "close"):
        with manager._LOCK:
            env.close()
            manager._ENV = None
