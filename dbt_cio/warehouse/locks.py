"""Sync locks: two runs of the same sync never run at once, on any warehouse and across hosts.

A sync's lock lives in a table of its own, ``lock__<sync>``, and is **append-only**: taking, refreshing and
giving up the lock each append one row (``acquire``, ``heartbeat``, ``release``: token, run id, host, pid, time
in epoch milliseconds), so it works where tables have no DELETE or UPDATE and statements no transaction.

Taking the lock, optimistically (not every warehouse enforces unique constraints):

1. read the table: a token is *live* when it has no ``release`` row and is not *abandoned*; refuse if a
   live token is there;
2. append our ``acquire`` row;
3. read again: the live token with the earliest ``acquire`` (ties broken by token) holds the lock. Every
   process reading the same rows picks the same winner, so of two processes that raced past step 1 exactly
   one goes on; the other appends its ``release`` and refuses. A process whose own row is missing (the table
   was dropped under it) refuses too.

The holder drops the whole table when it is done: that releases the lock and clears every row, including
those of runs that were killed (a table never grows beyond one run's heartbeats).

A token is *abandoned* when its last row is older than ``lock_ttl``, or when it was written on this host by
a process that is gone (so a run killed with SIGKILL can be re-run at once), or by this very process without
being held any more.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dbt_cio.errors import SyncLockedError, WarehouseError
from dbt_cio.warehouse import sql
from dbt_cio.warehouse.tables import StateTables

__all__ = ["DEFAULT_LOCK_TTL", "HEARTBEAT_EVERY", "Holder", "SyncLocks"]

DEFAULT_LOCK_TTL = 30 * 60.0
"""Seconds without a heartbeat after which another host's lock is considered abandoned."""
HEARTBEAT_EVERY = 10.0
"""Seconds between the heartbeats a running sync writes while it reads its diff and commits."""

# Locks held by this process, by (schema, sync name) -> token; lets a run recognise its own process's
# leftovers (taken over) apart from a lock this process really holds (refused).
_HELD: dict[tuple[str, str], str] = {}
_HELD_GUARD = threading.Lock()


@dataclass(frozen=True)
class Holder:
    """One token's standing in a lock table, from its rows."""

    token: str
    run_id: str | None
    host: str
    pid: int
    acquired_ms: int
    last_ms: int
    released: bool


class SyncLocks:
    """The lock tables of one state schema.

    ``clock`` returns seconds since the epoch (injectable so lock expiry is testable without sleeping).
    """

    def __init__(
        self,
        tables: StateTables,
        *,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tables = tables
        self.session = tables.session
        self.lock_ttl = lock_ttl
        self.clock = clock
        self._heartbeats: dict[str, float] = {}

    def table(self, name: str) -> str:
        """The rendered name of sync ``name``'s lock table."""
        return self.tables.of_sync(name).lock

    @contextmanager
    def hold(self, name: str, run_id: str | None = None) -> Iterator[str]:
        """Hold the lock of a sync for the duration of the block; yields the lock token.

        Raises :class:`SyncLockedError` when another live run holds it (see the module docstring).
        """
        self.tables.ensure()
        d, table = self.session.dialect, self.table(name)
        with self.session.transaction("creating the lock table", name):
            self.session.execute(sql.create_table(d, table, sql.lock_columns(d)))
        live = self._live(name)
        if live:
            raise SyncLockedError(self._locked_message(name, live[0]))
        token = uuid.uuid4().hex
        held_key = (self.tables.schema, name)
        self._append(name, token, run_id, "acquire", "taking the lock")
        with _HELD_GUARD:
            _HELD[held_key] = token
        won = False
        try:
            winner = self.winner(name)
            if winner is None or winner.token != token:
                raise SyncLockedError(
                    self._locked_message(name, winner)
                    if winner is not None
                    else f"sync '{name}': another run took its lock at the same moment: run again"
                )
            won = True
            yield token
        finally:
            with _HELD_GUARD:
                if _HELD.get(held_key) == token:
                    del _HELD[held_key]
            if won:  # the holder clears the table: the lock is free, and no row of any earlier run is left
                with self.session.transaction("releasing the lock", name):
                    self.session.execute(sql.drop_table(table))
            else:
                try:
                    self._append(name, token, run_id, "release", "withdrawing from the lock")
                except WarehouseError:
                    pass  # the holder dropped the table meanwhile: there is nothing to withdraw from

    def heartbeat(self, name: str) -> None:
        """Tell other processes this process still runs sync ``name``."""
        token = _HELD.get((self.tables.schema, name))
        if token is not None:
            self._append(name, token, None, "heartbeat", "refreshing the lock")

    def holds(self, name: str) -> bool:
        """Whether this process holds the lock of sync ``name``."""
        return (self.tables.schema, name) in _HELD

    def heartbeat_if_due(self, name: str) -> None:
        """Heartbeat while a sync reads and commits, at most every HEARTBEAT_EVERY seconds."""
        now = time.monotonic()
        if self.holds(name) and now - self._heartbeats.get(name, float("-inf")) >= HEARTBEAT_EVERY:
            self.heartbeat(name)
            self._heartbeats[name] = now

    # -- the rows --------------------------------------------------------------------------------------

    def _append(self, name: str, token: str, run_id: str | None, event: str, step: str) -> None:
        d = self.session.dialect
        row = (token, run_id, socket.gethostname(), os.getpid(), event, int(self.clock() * 1000))
        columns = [c for c, _type in sql.lock_columns(d)]
        with self.session.transaction(step, name):
            self.session.execute(sql.insert_values(d, self.table(name), columns, [row]))

    def holders(self, name: str) -> list[Holder]:
        """Every token in the lock table of sync ``name``, earliest ``acquire`` first."""
        _cols, rows = self.session.query(
            f"select token, run_id, host, pid, event, at_ms from {self.table(name)}", "reading the lock", name
        )
        found: dict[str, Holder] = {}
        for token, run_id, host, pid, event, at_ms in rows:
            at, token = int(at_ms), str(token)
            seen = found.get(token)
            acquired = at if event == "acquire" else None
            if seen is None:
                found[token] = Holder(
                    token, run_id, str(host), int(pid), acquired or at, at, event == "release"
                )
            else:
                found[token] = Holder(
                    token, seen.run_id or run_id, seen.host, seen.pid,
                    min(seen.acquired_ms, acquired) if acquired is not None else seen.acquired_ms,
                    max(seen.last_ms, at), seen.released or event == "release",
                )  # fmt: skip
        return sorted(found.values(), key=lambda h: (h.acquired_ms, h.token))

    def winner(self, name: str) -> Holder | None:
        """Who holds the lock of sync ``name`` by the rows as they stand: the live token with the earliest
        ``acquire`` (step 3 of the module docstring); None when no token is live."""
        live = self._live(name)
        return live[0] if live else None

    def _live(self, name: str) -> list[Holder]:
        return [h for h in self.holders(name) if not h.released and not self._abandoned(name, h)]

    def _abandoned(self, name: str, holder: Holder) -> bool:
        if self.clock() * 1000 - holder.last_ms > self.lock_ttl * 1000:
            return True
        if holder.host != socket.gethostname():
            return False
        if holder.pid == os.getpid():
            return bool(_HELD.get((self.tables.schema, name)) != holder.token)
        return not _pid_alive(holder.pid)

    def _locked_message(self, name: str, holder: Holder) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(holder.acquired_ms / 1000))
        return (
            f"sync '{name}' is already running (since {since}, host {holder.host}, pid {holder.pid}). "
            f"Wait for it to finish. If that process is gone, its lock expires {int(self.lock_ttl)}s after its "
            f"last heartbeat, or clear it now with: drop table {self.table(name)}"
        )


def _pid_alive(pid: int) -> bool:
    """Whether a process of this host is running (a zombie, killed but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
