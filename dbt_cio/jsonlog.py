"""``--log-format json``: every line dbt-cio writes to stdout is one JSON object, shaped as dbt's own.

dbt's structured log lines are ``{"data": {...}, "info": {"category", "code", "extra", "invocation_id",
"level", "msg", "name", "pid", "thread", "ts"}}``; dbt-cio's are too, with event names and codes of its
own (:data:`EVENTS`, codes ``CIOnnn`` so they never collide with dbt's). ``msg`` is the line a person would
have read; ``data`` holds the same facts as fields. A sync's result carries the entry it has in
``target/dbt_cio_run_results.json`` (dbt's ``node_info``, ``status``, ``execution_time``,
``adapter_response``...). docs/observability.md lists every event. Nothing here ever sees a secret.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from dbt_cio.engine.artifacts import result_entry, utc_z
from dbt_cio.engine.observer import LOG_EVERY_SECONDS
from dbt_cio.engine.results import SyncResult

__all__ = ["EVENTS", "JsonReporter"]

EVENTS: Mapping[str, str] = {
    "Info": "CIO001",
    "Note": "CIO002",
    "Error": "CIO003",
    "PhaseStart": "CIO010",
    "PhaseEnd": "CIO011",
    "SendStart": "CIO020",
    "SendProgress": "CIO021",
    "SendEnd": "CIO022",
    "SyncResult": "CIO030",
    "RunSummary": "CIO031",
    "RunListed": "CIO040",
    "DebugCheck": "CIO041",
    "ServeStarted": "CIO050",
    "WebhookRefused": "CIO051",
    "WebhookIgnored": "CIO052",
    "SyncQueued": "CIO053",
    "QueueFull": "CIO054",
    "TriggeredSyncStart": "CIO055",
    "TriggeredSyncEnd": "CIO056",
    "ServeStopping": "CIO057",
    "ServeStopped": "CIO058",
}
"""Every event name -> its code."""


class _Progress:
    def __init__(self, reporter: JsonReporter, name: str, total: int) -> None:
        self._reporter, self.name, self.total = reporter, name, total
        self.done = self.rejected = 0
        self._started = self._last = time.monotonic()

    def _data(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        return {"sync": self.name, "done": self.done, "total": self.total, "rejected": self.rejected,
                "rows_per_second": round(rate, 1)}  # fmt: skip

    def advance(self, accepted: int = 0, rejected: int = 0) -> None:
        self.done += accepted + rejected
        self.rejected += rejected
        now = time.monotonic()
        if now - self._last >= LOG_EVERY_SECONDS:
            self._last = now
            msg = f"{self.name}: {self.done}/{self.total} rows acknowledged, {self.rejected} rejected"
            self._reporter.event("SendProgress", msg, **self._data())

    def finish(self) -> None:
        msg = f"{self.name}: done, {self.done}/{self.total} rows acknowledged, {self.rejected} rejected"
        self._reporter.event("SendEnd", msg, **self._data())


class JsonReporter:
    """The :class:`~dbt_cio.engine.observer.Observer` (and end-of-run reporter) of ``--log-format json``.

    ``quiet`` keeps only error events.
    """

    interactive = False
    log_format = "json"

    def __init__(self, stream: TextIO | None = None, *, invocation_id: str, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.invocation_id = invocation_id
        self.quiet = quiet
        self._lock = threading.Lock()

    def event(self, name: str, msg: str, level: str = "info", /, **data: Any) -> None:
        """Write one event line: ``name`` from :data:`EVENTS`, the human ``msg``, and ``data``."""
        if self.quiet and level != "error":
            return
        line = {
            "data": data,
            "info": {
                "category": "",
                "code": EVENTS[name],
                "extra": {},
                "invocation_id": self.invocation_id,
                "level": level,
                "msg": msg,
                "name": name,
                "pid": os.getpid(),
                "thread": threading.current_thread().name,
                "ts": utc_z(datetime.now(UTC)),
            },
        }
        text = json.dumps(line, default=str, ensure_ascii=False)
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    # -- the observer ------------------------------------------------------------------------------------
    def info(self, message: str) -> None:
        self.event("Info", message, msg=message)

    def note(self, message: str) -> None:
        self.event("Note", message, "warn", msg=message)

    def error(self, message: str) -> None:
        self.event("Error", message, "error", msg=message)

    @contextmanager
    def progress(self) -> Iterator[None]:
        yield

    @contextmanager
    def phase(self, name: str, sync: str | None = None) -> Iterator[None]:
        label = f"{sync}: {name}" if sync else name
        self.event("PhaseStart", label, phase=name, sync=sync)
        started = time.monotonic()
        try:
            yield
        finally:
            elapsed = round(time.monotonic() - started, 6)
            self.event("PhaseEnd", f"{label}: done in {elapsed:.1f}s", phase=name, sync=sync,
                       execution_time=elapsed)  # fmt: skip

    def start_sync(self, name: str, total: int) -> _Progress:
        self.event("SendStart", f"{name}: sending {total} row(s)", sync=name, total=total)
        return _Progress(self, name, total)

    # -- tables and the end of a run ---------------------------------------------------------------------
    def records(self, kind: str, title: str, rows: Sequence[Mapping[str, Any]], *, styles: str = "") -> None:
        """One ``kind`` event (``RunListed``, ``DebugCheck``) per row."""
        for row in rows:
            level = "error" if styles and str(row.get(styles)) in ("failed", "error") else "info"
            self.event(kind, f"{title}: " + ", ".join(f"{k}={v}" for k, v in row.items()), level, **row)

    def summary(self, outcomes: Sequence[SyncResult], *, dry_run: bool = False) -> None:
        stats = {"success": 0, "warn": 0, "fail": 0, "error": 0, "skipped": 0}
        for index, o in enumerate(outcomes, 1):
            entry = result_entry(o)
            status = entry["status"]
            stats[status] = stats.get(status, 0) + 1
            level = "info" if o.ok else "error" if status == "error" else "warn"
            msg = (f"{index} of {len(outcomes)} {o.name} ({o.type}): {o.status}, {o.added} added, "
                   f"{o.changed} changed, {o.removed} removed, {o.accepted} accepted, {o.rejected} rejected "
                   f"in {o.elapsed_seconds:.1f}s" + (f": {o.message}" if o.message else ""))  # fmt: skip
            node_info = {"unique_id": entry["unique_id"], "node_name": o.name, "node_status": status,
                         "resource_type": "sync", "node_relation": {"relation_name": o.relation_name}}  # fmt: skip
            samples = {"samples": o.samples} if dry_run and o.samples else {}
            self.event("SyncResult", msg, level, index=index, total=len(outcomes), node_info=node_info,
                       **entry, **samples)  # fmt: skip
        ok = all(o.ok for o in outcomes)
        line = " ".join(f"{k.upper()}={v}" for k, v in stats.items())
        self.event("RunSummary", f"Done. {line} TOTAL={len(outcomes)}", "info" if ok else "error",
                   stats={**stats, "total": len(outcomes)}, success=ok, dry_run=dry_run)  # fmt: skip
