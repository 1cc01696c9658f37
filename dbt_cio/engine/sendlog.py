"""The sync log's rows a sync's sending makes: rejected and failed operations, and accepted ones under ``log: all``.

Acknowledged operations are logged by the fold of the ledger; this class keeps the rows the ledger cannot
know: a rejected or failed operation's row (with its payload, the request that carried it and the status
answered), written beside the rejections, and under ``log: all`` (or ``--log-payloads``) an accepted
operation's row, written right after the ledger rows that acknowledge it. A payload is the operation the
Python mapper builds from the diff row (mapping is pure: the same operation again), whichever path sent it.
"""

from __future__ import annotations

import json

from dbt_cio.contract.actions import actions_for
from dbt_cio.contract.model import LogPolicy, Sync
from dbt_cio.engine.dry_run import describe
from dbt_cio.payloads.mappers import Mapper, RowRejected
from dbt_cio.warehouse.changes import RowChange, readable_key
from dbt_cio.warehouse.synclog import LogEntry

__all__ = ["SendLog"]


class SendLog:
    """The sync log rows of one sync's run, until written; ``policy`` is the sync's ``log`` (or ``all``)."""

    def __init__(self, sync: Sync, policy: LogPolicy):
        self.sync = sync
        self.policy: LogPolicy = policy
        self.failures: list[LogEntry] = []  # rejected and failed operations, written beside the rejections
        self.accepted: list[LogEntry] = []  # under log: all, written after their ledger rows
        self.mapper: Mapper | None = None
        self.segment_id: int | None = None
        self._actions = actions_for(sync)

    def failure(
        self,
        change: RowChange,
        outcome: str,
        reason: str,
        field: str | None,
        *,
        request: int | None = None,
        status: int | None = None,
        with_payload: bool = True,
    ) -> None:
        """Note a rejected or failed operation (unless the sync logs nothing)."""
        if self.policy != "none":
            self.failures.append(self.entry(change, outcome, reason, field, request, status, with_payload))

    def entry(
        self,
        change: RowChange,
        outcome: str,
        reason: str | None = None,
        field: str | None = None,
        request: int | None = None,
        status: int | None = None,
        with_payload: bool = True,
    ) -> LogEntry:
        """The sync log's row of the operation built from ``change``, with the request that carried it."""
        return LogEntry(
            key=change.key,
            display=readable_key(change.key, self.sync.key_columns),
            action=self._actions.get(change.change),
            outcome=outcome,
            status=status,
            reason=reason,
            field=field,
            request=request,
            payload=self.payload(change) if with_payload else None,
            seq=change.seq,
        )

    def payload(self, change: RowChange) -> str | None:
        """The request that carries the operation of ``change``, as a dry run describes it."""
        if self.mapper is None:
            return None
        try:
            ops = self.mapper(change, change)
        except RowRejected:
            return None
        segment: int | str = self.segment_id if self.segment_id is not None else "<segment>"
        return json.dumps(describe(ops[0], segment), ensure_ascii=False, default=str) if ops else None

    def take_failures(self) -> list[LogEntry]:
        taken, self.failures = self.failures, []
        return taken

    def take_accepted(self) -> list[LogEntry]:
        taken, self.accepted = self.accepted, []
        return taken
