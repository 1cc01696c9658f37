"""``dbt-cio show SYNC --key KEY`` as a library call: what dbt-cio knows of one key of one sync.

Answers "what did we send for customer 42, and what did Customer.io say?": the key's state (the hash of the
values last synced, when, by which run), its latest rows in the sync log (action, outcome, HTTP status,
request, reason, payload), and its open rejection (a rejection newer than its state). It reads and never
writes; a key none of these know is :attr:`KeyReport.known` False (the CLI exits 1).

A key is given as the sync's key values, one per key column in order (``--key 11 --key t2``), or as a person
reads a composite key (``--key "company_id=11, person_id=t2"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbt_cio.contract.model import Sync
from dbt_cio.contract.resolve import resolve_syncs
from dbt_cio.engine.history import utc, z
from dbt_cio.engine.observer import LogObserver, Observer
from dbt_cio.errors import UsageError
from dbt_cio.project import DbtArgs, Project
from dbt_cio.warehouse.changes import readable_key
from dbt_cio.warehouse.schema import StateSchema
from dbt_cio.warehouse.sql import KEY_SEPARATOR

__all__ = ["DEFAULT_LOG_ENTRIES", "KeyReport", "key_text", "show_key"]

DEFAULT_LOG_ENTRIES = 20


@dataclass(frozen=True)
class KeyReport:
    """One key of one sync: its state, latest sync log rows (newest first) and open rejection."""

    sync: str
    key: str
    display: str
    state: Mapping[str, Any] | None = None
    log: Sequence[Mapping[str, Any]] = field(default_factory=list)
    rejection: Mapping[str, Any] | None = None

    @property
    def known(self) -> bool:
        return self.state is not None or bool(self.log) or self.rejection is not None

    def as_json(self) -> dict[str, Any]:
        """The report for ``--output json``: times in UTC ending in ``Z``, payloads parsed."""
        return {
            "sync": self.sync,
            "key": self.display,
            "state": None if self.state is None else _times(self.state),
            "log": [_times(entry) for entry in self.log],
            "rejection": None if self.rejection is None else _times(self.rejection),
        }


def key_text(sync: Sync, values: Sequence[str]) -> str:
    """The key as state holds it, from what the user typed (see the module docstring)."""
    columns = sync.key_columns
    if len(values) == 1 and len(columns) > 1:
        pairs = dict(part.split("=", 1) for part in values[0].split(", ") if "=" in part)
        if sorted(pairs) == sorted(columns):
            values = [pairs[column] for column in columns]
    if len(values) != len(columns):
        raise UsageError(
            f"sync '{sync.name}' is keyed by ({', '.join(columns)}): give --key once per column, in that order, "
            f"or once as '{', '.join(f'{c}=...' for c in columns)}'"
        )
    return KEY_SEPARATOR.join(values)


def show_key(
    dbt: DbtArgs | None,
    sync_name: str,
    key: Sequence[str],
    *,
    limit: int = DEFAULT_LOG_ENTRIES,
    observer: Observer | None = None,
) -> KeyReport:
    """What dbt-cio knows of one key of the selected sync named ``sync_name`` (see the module docstring).

    Raises :class:`~dbt_cio.errors.UsageError` when no selected sync has that name or the key does not fit it.
    """
    observer = observer or LogObserver()
    with observer.phase("loading the project"):
        project = Project.load(dbt or DbtArgs())
    with project:
        nodes, notes = project.selected_nodes()
        for note in notes:
            observer.note(note)
        resolution = project.session.run(lambda: resolve_syncs(nodes, project.columns_of))
        syncs = {s.name: s for s in resolution.syncs}
        sync = syncs.get(sync_name)
        if sync is None:
            known = ", ".join(sorted(syncs)) or "none"
            raise UsageError(f"no selected sync is named '{sync_name}' (selected syncs: {known})")
        text = key_text(sync, key)
        state = StateSchema.open(
            project.session, project.state_schema, project.database, mode=project.state_mode
        )
        with observer.phase("reading the state, the sync log and the rejections", sync.name):
            return project.session.run(_read, state, sync, text, limit)


def _read(state: StateSchema, sync: Sync, key: str, limit: int) -> KeyReport:
    synced = state.store.state_row(sync.name, key, len(sync.key_columns))
    entries = state.log.entries(sync.name, key, limit)
    rejection = state.records.latest_rejection(sync.name, key)
    if rejection is not None and synced is not None:
        rejected_at, synced_at = utc(rejection.get("rejected_at")), utc(synced.get("synced_at"))
        if rejected_at is not None and synced_at is not None and synced_at >= rejected_at:
            rejection = None  # synced since: no longer open
    return KeyReport(sync.name, key, readable_key(key, sync.key_columns), synced, entries, rejection)


def _times(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        moment = utc(value) if name.endswith("_at") else None
        out[name] = z(moment) if moment is not None else value
    return out
