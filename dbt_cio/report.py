"""What a run shows on the command line: progress while sending, and a summary table at the end.

On a terminal, rich progress bars (rows sent, rows/s, rejections) per sync; elsewhere (CI logs, dbt Cloud,
Airflow) plain log lines every few seconds. :class:`Reporter` is the engine's
:class:`~dbt_cio.engine.observer.Observer` for the CLI. Nothing here ever sees a secret.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from dbt_cio.engine.observer import LOG_EVERY_SECONDS
from dbt_cio.engine.results import SyncResult

__all__ = ["Reporter", "SyncProgress"]

LOG_WIDTH = 140
_STYLES = {
    "success": "green",
    "warn": "yellow",
    "dry-run": "cyan",
    "skipped": "magenta",
    "rejected": "yellow",
    "aborted": "red",
}


class SyncProgress:
    """Progress of one sync; cheap to call per acknowledged operation."""

    def __init__(self, reporter: Reporter, name: str, total: int, task: TaskID | None):
        self._reporter = reporter
        self.name = name
        self.total = total
        self.done = 0
        self.rejected = 0
        self._task = task
        self._started = time.monotonic()
        self._last_log = self._started

    def advance(self, accepted: int = 0, rejected: int = 0) -> None:
        self.done += accepted + rejected
        self.rejected += rejected
        self._reporter._update(self)

    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def finish(self) -> None:
        self._reporter._finish(self)


class Reporter:
    """Shows a run to a person or to a log, and writes the run-results file."""

    def __init__(self, stream: TextIO | None = None, *, force_terminal: bool | None = None):
        stream = stream or sys.stdout
        self.console = Console(file=stream, force_terminal=force_terminal, highlight=False, soft_wrap=True)
        if not self.console.is_terminal:  # logs are not 80 columns wide: do not squeeze the summary
            self.console.width = max(self.console.width, LOG_WIDTH)
        self.interactive = self.console.is_terminal
        self._progress: Progress | None = None

    # -- lines -------------------------------------------------------------------------------------------
    def info(self, message: str) -> None:
        self.console.print(message, markup=False)

    def note(self, message: str) -> None:
        self.console.print(f"note: {message}", style="yellow", markup=False)

    # -- progress ----------------------------------------------------------------------------------------
    @contextmanager
    def progress(self) -> Iterator[None]:
        if not self.interactive:
            yield
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>9} rows/s"),
            TextColumn("[red]{task.fields[rejected]} rejected"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        with self._progress:
            yield
        self._progress = None

    def start_sync(self, name: str, total: int) -> SyncProgress:
        task = None
        if self._progress is not None:
            task = self._progress.add_task(name, total=max(total, 1), rate="0", rejected=0)
        else:
            self.info(f"{name}: sending {total} row(s)")
        return SyncProgress(self, name, total, task)

    def _update(self, p: SyncProgress) -> None:
        if self._progress is not None and p._task is not None:
            self._progress.update(p._task, completed=p.done, rate=f"{p.rate():,.0f}", rejected=p.rejected)
            return
        now = time.monotonic()
        if now - p._last_log >= LOG_EVERY_SECONDS:
            p._last_log = now
            self.info(
                f"{p.name}: {p.done}/{p.total} rows acknowledged, {p.rate():,.0f} rows/s, {p.rejected} rejected"
            )

    def _finish(self, p: SyncProgress) -> None:
        if self._progress is not None and p._task is not None:
            self._progress.update(p._task, completed=max(p.done, min(p.total, p.done)))
        else:
            self.info(f"{p.name}: done, {p.done}/{p.total} rows acknowledged, {p.rejected} rejected")

    # -- end of run --------------------------------------------------------------------------------------
    def summary(self, outcomes: Sequence[SyncResult], *, dry_run: bool = False) -> None:
        table = Table(title="dbt-cio dry run (nothing sent)" if dry_run else "dbt-cio sync summary")
        for column in ("sync", "type", "status", "added", "changed", "removed"):
            table.add_column(column, justify="right" if column in ("added", "changed", "removed") else "left")
        if not dry_run:
            for column in ("accepted", "rejected", "requests", "seconds"):
                table.add_column(column, justify="right")
        for o in outcomes:
            style = _STYLES.get(o.status, "red")
            row = [
                o.name,
                o.type,
                f"[{style}]{o.status}[/{style}]",
                str(o.added),
                str(o.changed),
                str(o.removed),
            ]
            if not dry_run:
                row += [str(o.accepted), str(o.rejected), str(o.requests), f"{o.elapsed_seconds:.1f}"]
            table.add_row(*row)
        self.console.print(table)
        for o in outcomes:
            if o.message:
                self.console.print(f"{o.name}: {o.message}", markup=False)
            for reason in o.reasons:
                self.console.print(
                    f"  {reason.count:>7} × {reason.reason} (e.g. key {reason.sample_key})", markup=False
                )
            if o.rejections_sql:
                self.console.print(f"  every rejection of this run: {o.rejections_sql}", markup=False)
            if dry_run and o.samples:
                self.console.print(f"{o.name}: first payloads it would send:", markup=False)
                for sample in o.samples:
                    self.console.print(
                        "  " + json.dumps(sample, default=str, ensure_ascii=False), markup=False
                    )
