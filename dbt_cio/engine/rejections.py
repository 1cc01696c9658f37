"""The rejected rows of one sync: the ones waiting to be recorded, and a tally per reason for the summary.

A row is rejected when it cannot be sent faithfully (a local check) or when Customer.io refuses it (a 207).
Each rejection is recorded in the state schema's ``rejections`` table with its key as in state and as a person
reads it (a composite key as ``col=value, ...``); the run reports the most common reasons, each with a count
and one key as an example. Reasons can carry row-specific text, so the tally keeps at most
:data:`MAX_REASONS` distinct ones and counts the rest together.
"""

from __future__ import annotations

from collections.abc import Sequence

from dbt_cio.engine.results import RejectionReason
from dbt_cio.warehouse.changes import readable_key
from dbt_cio.warehouse.records import Rejection

__all__ = ["MAX_REASONS", "RejectionTally"]

MAX_REASONS = 50
OTHER_REASONS = "(other reasons)"


class RejectionTally:
    """Rejections of one sync, as they happen."""

    def __init__(self, key_columns: Sequence[str]) -> None:
        self._key_columns = tuple(key_columns)
        self.pending: list[Rejection] = []
        self.total = 0
        self._reasons: dict[str, tuple[int, str]] = {}  # reason -> (count, first key)

    def __len__(self) -> int:
        return len(self.pending)

    def add(self, key: str, reason: str, field: str | None, count: int = 1) -> None:
        """One rejected row (or ``count`` rows standing behind one key, e.g. rows with a null key)."""
        display = readable_key(key, self._key_columns)
        self.pending.append(Rejection(key, display, reason, field))
        self.total += count
        tally = reason if reason in self._reasons or len(self._reasons) < MAX_REASONS else OTHER_REASONS
        seen, sample = self._reasons.get(tally, (0, display))
        self._reasons[tally] = (seen + count, sample)

    def take(self) -> list[Rejection]:
        """The rejections not recorded yet (they are handed over once)."""
        taken, self.pending = self.pending, []
        return taken

    def top(self, n: int = 5) -> list[RejectionReason]:
        """The ``n`` most common reasons, most common first."""
        ranked = sorted(self._reasons.items(), key=lambda item: (-item[1][0], item[0]))
        return [RejectionReason(reason, count, sample) for reason, (count, sample) in ranked[:n]]

    def summary(self) -> str:
        """One line: how many rows, and the most common reason with an example key."""
        ranked = self.top(1)
        if not ranked:
            return "no rows rejected"
        first = ranked[0]
        more = f" ({len(self._reasons)} reasons in all)" if len(self._reasons) > 1 else ""
        return (
            f"{self.total} row(s) rejected; most common: {first.reason} ({first.count} row(s), e.g. key "
            f"{first.sample_key}){more}"
        )
