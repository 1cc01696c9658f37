"""Sync locks: two runs of the same sync never run at once, on any warehouse and across hosts.

A lock is a row in the state schema's ``locks`` table (sync, token, run id, host, pid, acquired and
heartbeat times in epoch milliseconds). Taking one is optimistic, because not every warehouse enforces
unique constraints: drop abandoned rows, refuse if a live row remains, insert ours, then read back; if a
live row older than ours is there (another process raced us), withdraw ours and refuse.

A row is *abandoned* when its heartbeat is older than ``lock_ttl``, or when it was written
on this host by a process that is gone (so a run killed with SIGKILL can be re-run at once), or by this
very process without being held any more.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dbt_cio.errors import SyncLockedError
from dbt_cio.warehouse import sql
from dbt_cio.warehouse.tables import StateTables

__all__ = ["DEFAULT_LOCK_TTL", "HEARTBEAT_EVERY", "SyncLocks"]

DEFAULT_LOCK_TTL = 30 * 60.0
"""Seconds without a heartbeat after which another host's lock is considered abandoned."""
HEARTBEAT_EVERY = 10.0
"""Seconds between the heartbeats a running sync writes while it reads its diff and commits."""

# Locks held by this process, by (schema, sync name) -> token; lets a run recognise its own process's
# leftovers (taken over) apart from a lock this process really holds (refused).
_HELD: dict[tuple[str, str], str] = {}
_HELD_GUARD = threading.Lock()


class SyncLocks:
    """The ``locks`` table of one state schema.

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

    @contextmanager
    def hold(self, name: str, run_id: str | None = None) -> Iterator[str]:
        """Hold the lock of a sync for the duration of the block; yields the lock token.

        Portable and optimistic: drop abandoned locks (owner dead on this host, or no heartbeat for
        ``lock_ttl`` seconds), refuse if a live one remains, insert ours, then read back: if a live lock
        older than ours is there (another process raced us), withdraw ours and refuse.
        """
        self.tables.ensure()
        token = uuid.uuid4().hex
        held_key = (self.tables.schema, name)
        self._clear_abandoned(name)
        live = self._live_locks(name)
        if live:
            raise SyncLockedError(self._locked_message(name, live[0]))
        now_ms = int(self.clock() * 1000)
        d, table = self.session.dialect, self.tables.relation("locks")
        with self.session.transaction("taking the lock", name):
            self.session.execute(sql.insert_values(d, table, [c for c, _ in sql.locks_columns(d)],
                                        [(name, token, run_id, socket.gethostname(), os.getpid(), now_ms, now_ms)]))  # fmt: skip
        with _HELD_GUARD:
            _HELD[held_key] = token
        try:
            first = self._live_locks(name)
            if first and first[0]["token"] != token:
                raise SyncLockedError(self._locked_message(name, first[0]))
            yield token
        finally:
            with _HELD_GUARD:
                if _HELD.get(held_key) == token:
                    del _HELD[held_key]
            with self.session.transaction("releasing the lock", name):
                self.session.execute(f"delete from {table} where token = {d.literal(token)}")

    def heartbeat(self, name: str) -> None:
        """Tell other processes this process still runs sync ``name``."""
        token = _HELD.get((self.tables.schema, name))
        if token is None:
            return
        d = self.session.dialect
        with self.session.transaction("refreshing the lock", name):
            self.session.execute(sql.update(self.tables.relation("locks"), {"heartbeat_ms": d.literal(int(self.clock() * 1000))},
                                 f"token = {d.literal(token)}"))  # fmt: skip

    def holds(self, name: str) -> bool:
        """Whether this process holds the lock of sync ``name``."""
        return (self.tables.schema, name) in _HELD

    def heartbeat_if_due(self, name: str) -> None:
        """Heartbeat while a sync reads and commits, at most every HEARTBEAT_EVERY seconds."""
        now = time.monotonic()
        if self.holds(name) and now - self._heartbeats.get(name, float("-inf")) >= HEARTBEAT_EVERY:
            self.heartbeat(name)
            self._heartbeats[name] = now

    def _locks(self, name: str) -> list[dict[str, Any]]:
        d = self.session.dialect
        cols, rows = self.session.query(
            f"select token, run_id, host, pid, acquired_ms, heartbeat_ms from {self.tables.relation('locks')} "
            f"where sync_name = {d.literal(name)} order by acquired_ms, token", "reading the lock", name,
        )  # fmt: skip
        return [dict(zip([c.lower() for c in cols], row)) for row in rows]

    def _abandoned(self, name: str, lock: Mapping[str, Any]) -> bool:
        if self.clock() * 1000 - int(lock["heartbeat_ms"]) > self.lock_ttl * 1000:
            return True
        if lock["host"] != socket.gethostname():
            return False
        pid = int(lock["pid"])
        if pid == os.getpid():
            return bool(_HELD.get((self.tables.schema, name)) != lock["token"])
        return not _pid_alive(pid)

    def _live_locks(self, name: str) -> list[dict[str, Any]]:
        return [lock for lock in self._locks(name) if not self._abandoned(name, lock)]

    def _clear_abandoned(self, name: str) -> None:
        stale = [lock["token"] for lock in self._locks(name) if self._abandoned(name, lock)]
        if stale:
            d = self.session.dialect
            tokens = ", ".join(d.literal(t) for t in stale)
            with self.session.transaction("clearing an abandoned lock", name):
                self.session.execute(f"delete from {self.tables.relation('locks')} where token in ({tokens})")

    def _locked_message(self, name: str, lock: Mapping[str, Any]) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(lock["acquired_ms"]) / 1000))
        return (
            f"sync '{name}' is already running (since {since}, host {lock['host']}, pid {lock['pid']}). "
            f"Wait for it to finish. If that process is gone, its lock expires {int(self.lock_ttl)}s after its "
            f"last heartbeat, or clear it now with: delete from {self.tables.relation('locks')} "
            f"where sync_name = '{name}'"
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
