"""What stops a sync before it sends anything: row thresholds, and dbt's own results for its model.

dbt-cio writes into the tool that emails a company's customers, so a broken model must not reach it:

- **Row thresholds** (:func:`breaches`): a diff that would add, change or remove more rows than the block
  allows (``max_added``, ``max_changed``, ``max_removed``: a count, or a percentage of the rows synced so
  far) aborts the sync before anything is sent or committed. Syncs that remove, clear or delete get
  ``max_removed: "20%"`` by default, once more than 10 rows would be removed (an emptied model — a bad
  join, an upstream outage — would otherwise delete everyone). ``--ignore-thresholds`` lets one run through.
- **dbt's results** (:func:`dbt_cio.run_results.held_back`): a model whose build errored or was skipped, or
  one of whose tests failed, is held back; ``--ignore-dbt-results`` overrides.

Both are pure functions of what the run already knows; the engine turns their verdicts into statuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbt_cio.contract.model import Limit, Sync
from dbt_cio.warehouse.changes import DiffSummary

__all__ = ["Breach", "abort_message", "breaches"]

_VERBS = {"added": "add", "changed": "change", "removed": "remove"}


@dataclass(frozen=True)
class Breach:
    """One threshold a diff is over: ``rows`` of ``kind`` where ``limit`` allows ``allowed``."""

    kind: str
    rows: int
    limit: Limit
    allowed: int
    synced: int

    def describe(self) -> str:
        share = f", {self.rows / self.synced:.0%} of the {self.synced} rows synced" if self.synced else ""
        which = "the default " if self.limit.default else ""
        floor = f", applied above {self.limit.floor} rows" if self.limit.floor else ""
        return (
            f"it would {_VERBS[self.kind]} {self.rows} row(s){share}, over {which}max_{self.kind} {self.limit} "
            f"(at most {self.allowed} row(s){floor})"
        )


def breaches(sync: Sync, summary: DiffSummary) -> list[Breach]:
    """The thresholds of ``sync`` that its diff is over (empty when it may go ahead)."""
    out = []
    for kind, limit, rows in (
        ("added", sync.max_added, summary.added),
        ("changed", sync.max_changed, summary.changed),
        ("removed", sync.max_removed, summary.removed),
    ):
        if limit is None:
            continue
        allowed = limit.allowed(summary.synced)
        if allowed is not None and rows > allowed:
            out.append(Breach(kind, rows, limit, allowed, summary.synced))
    return out


def abort_message(sync: Sync, found: list[Breach], *, dry_run: bool = False) -> str:
    """Why the sync stopped (or would stop), with the numbers, and both ways forward."""
    keys = " and ".join(sorted({f"max_{b.kind}" for b in found}))
    what = "; ".join(b.describe() for b in found)
    stopped = "would stop before sending anything" if dry_run else "stopped before sending anything"
    return (
        f"{stopped}: {what}. If this change is intended, run once with --ignore-thresholds, or set {keys} in "
        f"the meta.customerio block of model '{sync.model}' (a count such as 1000, or a percentage such as "
        '"50%").'
    )
