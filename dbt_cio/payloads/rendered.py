"""Customer.io operations rendered by the warehouse: a sync's page query, and its rows decoded into bytes.

The Python mapper (:mod:`dbt_cio.payloads.mappers`) fetches every value of every diff row into Python objects,
builds a dict per row and encodes it as JSON. Here the warehouse writes each row's JSON text itself
(:mod:`dbt_cio.payloads.shapes`, through dbt-cio's dispatched macros) and Python only decodes bytes:

1. :func:`render_plan` builds, once per sync, the SQL that renders one diff row (its item and its *flag*);
2. :meth:`RenderPlan.page_sql` selects one page of the diff table by ``_cio_seq`` with it (any number of pages,
   on the warehouse's thread);
3. :meth:`RenderPlan.decode` splits the fetched rows of a page into items ready to pack (bytes), rows that
   need nothing sent, and rows that go through the Python mapper (:class:`~dbt_cio.warehouse.changes.RowChange`
   values, as :meth:`~dbt_cio.warehouse.state.StateStore.iter_changes` makes them).

A page row is, in this order: ``_cio_seq``, ``_cio_key``, ``_cio_item`` (the item's UTF-8 JSON: ``bytes`` or
``str`` as the driver returns it; NULL when nothing is to be sent or when flagged), ``_cio_python`` (the
flag), ``_cio_change`` (only when flagged, and always for segments), for events ``_cio_event_id`` and
``_cio_event_seconds``, then — NULL unless flagged — the key texts ``_cio_k0..`` and the model's key and
value columns.

A row is flagged when any condition of its shape holds (see :mod:`dbt_cio.payloads.shapes`), or when its
rendered item is longer than :attr:`RenderPlan.item_limit` bytes: Customer.io's 32 KB item limit, less a
margin on warehouses whose number texts may be shorter than Python's (none on DuckDB and PostgreSQL, where a
rendered item is never shorter than Python's: an item within the limit as rendered is within it as Python
writes it). A flagged row's item is then built, checked and, if need be, rejected by the Python path, with
the reason it has always had.

Events: a ULID id cannot be computed portably in SQL (BLAKE2b), so the item is rendered without it, and
:meth:`RenderPlan.decode` writes ``{"id":"<ULID>",`` in front of the rest, with the ULID of
:func:`dbt_cio.customerio.ulid.event_ulid` from the event id's text and the row's timestamp, exactly as the
mapper makes it (by :func:`~dbt_cio.customerio.ulid.event_ulids`: the same ids, cheaper): a resend keeps its
id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dbt_cio.contract.model import Sync
from dbt_cio.customerio.limits import MAX_COLLECTION_BYTES, MAX_COLLECTION_ROW_BYTES, MAX_ITEM_BYTES
from dbt_cio.customerio.ulid import event_ulids
from dbt_cio.payloads.fields import Column
from dbt_cio.payloads.shapes import Branch, Shape, shape_of
from dbt_cio.warehouse.changes import ChangeKind, RowChange
from dbt_cio.warehouse.jsonsql import JsonSql, column_kind

__all__ = ["NUMBER_SLACK", "RenderPlan", "RenderedPage", "render_plan"]

NUMBER_SLACK = 24
"""Bytes a number's text may be shorter than Python's (``-1.2345678901234567e-308`` is 24 characters), on
warehouses where the rendered length is not exact: kept as a margin under size limits."""


@dataclass
class RenderedPage:
    """One page of a sync's diff, decoded (see the module docstring).

    ``items``: ``(seq, key, bytes)`` of each operation ready to pack, in diff order; for a segment sync the
    bytes are the identifier as a JSON string (an element of the v1 ``ids`` list) of a person to add, and
    ``removals`` holds those to remove. ``done``: the seqs of rows that need nothing sent (acknowledge
    them at once). ``python``: the rows the Python mapper must map (and the sender check).
    """

    items: list[tuple[int, str, bytes]] = field(default_factory=list)
    removals: list[tuple[int, str, bytes]] = field(default_factory=list)
    done: list[int] = field(default_factory=list)
    python: list[RowChange] = field(default_factory=list)


@dataclass(frozen=True)
class RenderPlan:
    """How one sync's diff rows are rendered in the warehouse: built by :func:`render_plan`."""

    sync: Sync
    columns: tuple[Column, ...]  # the model columns the sync reads, keys first, as in the diff table
    key_count: int
    item: str  # SQL of the item's JSON text (NULL: nothing to send)
    flags: str  # SQL condition: the row goes through Python
    item_limit: int  # rendered items longer than this (bytes) go through Python
    output: str  # how the item is fetched (a template over `_cio_item`)
    too_long: str  # SQL: whether `_cio_item` is longer than item_limit UTF-8 bytes
    fence: str  # what ends a subquery that must not be inlined (`` offset 0`` on PostgreSQL)
    event_id: str | None = None
    event_seconds: str | None = None

    @property
    def is_event(self) -> bool:
        return self.event_id is not None

    def page_sql(self, table: str, after: int, size: int) -> str:
        """The rows ``after < _cio_seq <= after + size`` of the diff ``table`` (for a collection: of the model's
        snapshot, :meth:`~dbt_cio.warehouse.state.StateStore.iter_row_pages`), rendered, in order."""
        collection = self.sync.type == "collection"
        event = (
            f", {self.event_id} as _cio_event_id, {self.event_seconds} as _cio_event_seconds"
            if self.is_event
            else ""
        )
        event_out = ", _cio_event_id, _cio_event_seconds" if self.is_event else ""
        raw = [*(f"_cio_k{i}" for i in range(self.key_count)), *(c.sql for c in self.columns)]
        raw_out = "".join(f", case when _cio_python then {name} end as {name}" for name in raw)
        if collection:  # a snapshot has no key text nor change: every row is one of the collection
            key, change = "'' as _cio_key", "'added'"
        else:
            key = "_cio_key"
            change = (
                "_cio_change" if self.sync.type == "segment" else "case when _cio_python then _cio_change end"
            )
        return (
            f"select _cio_seq, {key}, case when _cio_python then null else {self.output} end as _cio_item, "
            f"_cio_python, {change} as _cio_change{event_out}{raw_out}\n"
            f"from (\n"
            f"    select rendered.*, coalesce(({self.flags}) or (_cio_item is not null and {self.too_long}), "
            f"{_TRUE}) as _cio_python\n"
            f"    from (\n"
            f"        select diff.*, {self.item} as _cio_item{event}\n"
            f"        from {table} diff\n"
            f"        where diff._cio_seq > {int(after)} and diff._cio_seq <= {int(after) + int(size)}{self.fence}\n"
            f"    ) rendered{self.fence}\n"
            f") flagged\n"
            f"order by _cio_seq"
        )

    def lookup_sql(self, table: str, seqs: Sequence[int]) -> str:
        """The rows of the diff ``table`` numbered ``seqs``, shaped as :meth:`page_sql`'s but every one flagged,
        so that :meth:`decode` gives them back as :class:`RowChange` values, as ``iter_changes`` reads them (for
        the few rows Customer.io refused: their keys and payloads for the rejections and the sync log)."""
        event = ", null as _cio_event_id, null as _cio_event_seconds" if self.is_event else ""
        raw = [*(f"_cio_k{i}" for i in range(self.key_count)), *(c.sql for c in self.columns)]
        wanted = ", ".join(str(int(seq)) for seq in seqs)
        return (
            f"select _cio_seq, _cio_key, null as _cio_item, {_TRUE} as _cio_python, _cio_change{event}, "
            f"{', '.join(raw)}\nfrom {table}\nwhere _cio_seq in ({wanted})\norder by _cio_seq"
        )

    def decode(self, rows: Sequence[Sequence[Any]]) -> RenderedPage:
        """Split a page's fetched rows (see the module docstring); event items get their ULID here."""
        page = RenderedPage()
        items, removals, done, python = page.items, page.removals, page.done, page.python
        segment = self.sync.type == "segment"
        ulid = event_ulids(self.sync.name) if self.is_event else None
        first_raw = 7 if self.is_event else 5
        first_value = first_raw + self.key_count
        keys = tuple(c.name for c in self.columns[: self.key_count])
        names = tuple(c.name for c in self.columns)
        for row in rows:
            item = row[2]
            if item is not None:
                data = item if type(item) is bytes else _utf8(item)
                if ulid is not None:
                    seconds = row[6]
                    event_id = ulid(str(row[5]), 0 if seconds is None else int(seconds) * 1000)
                    data = b'{"id":"' + event_id.encode() + b'",' + data[1:]
                if segment and row[4] == "removed":
                    removals.append((int(row[0]), str(row[1]), data))
                else:
                    items.append((int(row[0]), str(row[1]), data))
            elif row[3]:
                change = str(row[4])
                if change == "removed":
                    python.append(
                        RowChange(
                            str(row[1]), "removed", dict(zip(keys, row[first_raw:first_value])), int(row[0])
                        )
                    )
                else:
                    kind: ChangeKind = "added" if change == "added" else "changed"
                    python.append(
                        RowChange(str(row[1]), kind, dict(zip(names, row[first_value:])), int(row[0]))
                    )
            else:
                done.append(int(row[0]))
        return page

    def collection_json(self, pages: Sequence[RenderedPage]) -> list[bytes] | None:
        """A collection's rows as rendered, in model order, when every row was rendered and together they fit
        in a collection (:data:`~dbt_cio.customerio.limits.MAX_COLLECTION_BYTES` as a JSON array, less the
        plan's margin per row); else None, and the caller builds the collection with
        :func:`dbt_cio.payloads.collections.collection_data`, which checks and explains exactly."""
        slack = MAX_COLLECTION_ROW_BYTES - self.item_limit
        rows: list[bytes] = []
        total = 2  # the enclosing "[]"
        for page in pages:
            if page.python:
                return None
            for _seq, _key, data in page.items:
                total += len(data) + slack + (1 if rows else 0)
                rows.append(data)
        return rows if total <= MAX_COLLECTION_BYTES else None


_TRUE = "1 = 1"


def _utf8(value: Any) -> bytes:
    """An item as the driver returned it (text, or a buffer such as psycopg2's memoryview) as UTF-8 bytes."""
    if isinstance(value, str):
        return value.encode()
    return bytes(value)


def render_plan(
    sync: Sync, j: JsonSql, columns: Sequence[tuple[str, str, str]], *, now: int, key_count: int | None = None
) -> RenderPlan:
    """The rendering of ``sync``'s diff on this warehouse.

    ``columns`` holds ``(name as the block names it, SQL name as selected from the diff table, data type as
    the adapter reports it)`` for every column the sync reads (:meth:`~dbt_cio.warehouse.state.StateStore.
    column_types`), key columns first; ``now`` (Unix seconds) stamps events without a timestamp, as the
    mapper's ``now`` does. Raises ``KeyError`` when a column the block needs is missing.
    """
    adapter = j.dialect.adapter_type
    cols = tuple(Column(name, quoted, column_kind(adapter, dtype)) for name, quoted, dtype in columns)
    shape = shape_of(sync, j, {c.name: c for c in cols}, now=now)
    slack = 0 if j.exact else NUMBER_SLACK * shape.numeric_fields
    limit = (MAX_COLLECTION_ROW_BYTES if sync.type == "collection" else MAX_ITEM_BYTES) - slack
    item, flags = _by_change(shape, j)
    return RenderPlan(
        sync=sync,
        columns=cols,
        key_count=0
        if sync.type == "collection"
        else len(sync.key_columns)
        if key_count is None
        else key_count,
        item=item,
        flags=flags,
        item_limit=limit,
        output=j.fill("item_output", "_cio_item"),
        too_long=j.utf8_longer("_cio_item", limit),
        fence=f" {j.templates['subquery_fence']}" if j.templates.get("subquery_fence") else "",
        event_id=shape.event_id,
        event_seconds=shape.event_seconds or f"cast(null as {j.dialect.bigint_type})",
    )


def _by_change(shape: Shape, j: JsonSql) -> tuple[str, str]:
    """The item's SQL and the flags' SQL over the three kinds of change of a diff row."""

    def item(branch: Branch) -> str:
        return "null" if branch.item is None else branch.item.render(j)

    def flags(branch: Branch) -> str:
        return " or ".join(f"({f})" for f in branch.flags) if branch.flags else "1 = 0"

    if shape.added is shape.changed is shape.removed:
        return item(shape.added), flags(shape.added)
    cases = (("added", shape.added), ("removed", shape.removed), ("changed", shape.changed))
    items = " ".join(f"when '{kind}' then {item(branch)}" for kind, branch in cases)
    conditions = " ".join(f"when '{kind}' then {flags(branch)}" for kind, branch in cases)
    return f"case _cio_change {items} end", f"case _cio_change {conditions} end"
