"""One row of a sync's diff, as the warehouse hands it to payload mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

ChangeKind = Literal["added", "changed", "removed"]


class RowChange(NamedTuple):
    """A row that is new, changed or gone since the last successful sync.

    ``key`` is the sync key as text (composite keys joined, see ``dbt_cio.warehouse``). ``values`` maps
    column name to value as the database returned it: the key columns always; for added and changed rows
    also the sync's value columns. Removed rows carry only the key columns, as text (from state).
    ``seq`` numbers the row in its diff: acknowledging a row to the state store means naming its ``seq``.
    (A named tuple: a million of them are made per million rows synced, and tuples are cheap.)
    """

    key: str
    change: ChangeKind
    values: Mapping[str, Any]
    seq: int = 0
