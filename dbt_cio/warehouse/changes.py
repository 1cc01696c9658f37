"""What a diff holds: one :class:`RowChange` per new, changed or removed row, and the :class:`DiffSummary`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from dbt_cio.warehouse.casts import PageCasts
from dbt_cio.warehouse.sql import KEY_SEPARATOR, NULL_MARKER

__all__ = ["ChangeKind", "DiffSummary", "RowChange", "readable_key", "row_changes"]

ChangeKind = Literal["added", "changed", "removed"]


class RowChange(NamedTuple):
    """A row that is new, changed or gone since the last successful sync.

    ``key`` is the sync key as text (composite keys joined, see :mod:`dbt_cio.warehouse.sql`). ``values``
    maps column name to value as the database returned it: the key columns always; for added and changed
    rows also the sync's value columns. Removed rows carry only the key columns, as text (from state).
    ``seq`` numbers the row in its diff: acknowledging a row to the state store means naming its ``seq``.
    (A named tuple: a million of them are made per million rows synced, and tuples are cheap.)
    """

    key: str
    change: ChangeKind
    values: Mapping[str, Any]
    seq: int = 0


def row_changes(
    rows: Sequence[Sequence[Any]], keys: Sequence[str], values: Sequence[str], casts: PageCasts
) -> list[RowChange]:
    """A page of a diff as fetched: ``_cio_seq``, ``_cio_key``, ``_cio_change``, the key texts ``_cio_k0..``, the
    ``keys`` then the ``values`` columns (as selected through ``casts``), then the casts' extra columns."""
    out: list[RowChange] = []
    append, names, first_value = out.append, (*keys, *values), 3 + len(keys)
    last, apply = first_value + len(names), casts.apply if casts else None
    for row in rows:
        change = str(row[2])
        if change == "removed":
            append(RowChange(str(row[1]), "removed", dict(zip(keys, row[3:first_value])), row[0]))
        else:
            found = dict(zip(names, row[first_value:last]))
            append(RowChange(str(row[1]), "added" if change == "added" else "changed",
                             found if apply is None else apply(found, row[last:]), row[0]))  # fmt: skip
    return out


@dataclass(frozen=True)
class DiffSummary:
    """What computing a diff found: counts, the diff table, and rows left out for a null key.

    ``null_key_sample`` holds up to 5 such rows (key and value columns); the engine records them as
    rejections ("key column X is null"). ``synced`` is how many keys the state held before this run.
    """

    sync: str
    table: str
    added: int
    changed: int
    removed: int
    synced: int = 0
    null_keys: int = 0
    null_key_sample: tuple[Mapping[str, Any], ...] = ()

    @property
    def total(self) -> int:
        return self.added + self.changed + self.removed


def readable_key(key: str, columns: Sequence[str]) -> str:
    """A key text as a person reads it: a single key as it is, a composite key as ``col=value, col=value``
    (the texts are joined by a control character in state, see :mod:`dbt_cio.warehouse.sql`)."""
    parts = key.split(KEY_SEPARATOR)
    if len(columns) <= 1 or len(parts) != len(columns):
        return ", ".join("null" if part == NULL_MARKER else part for part in parts)
    return ", ".join(
        f"{column}={'null' if part == NULL_MARKER else part}" for column, part in zip(columns, parts)
    )
