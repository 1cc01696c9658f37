"""What a run shows on the command line: phases, progress while sending, and a summary table at the end.

On a terminal, one live display: a spinner naming the phase under way (loading the project, computing the
diff of a sync, committing) and rich progress bars (rows sent, rows/s, rejections) per sync; elsewhere (CI
logs, dbt Cloud, Airflow) a line when each phase starts and progress lines every few seconds.
:class:`Reporter` is the engine's :class:`~dbt_cio.engine.observer.Observer` for the CLI; ``quiet`` keeps
only errors, ``use_colors=False`` (or ``NO_COLOR``) plain text. ``--log-format json`` uses
:class:`dbt_cio.jsonlog.JsonReporter` instead. Nothing here ever sees a secret.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from dbt_cio.engine.observer import LOG_EVERY_SECONDS
from dbt_cio.engine.results import SyncResult

__all__ = ["Reporter", "SyncProgress"]

LOG_WIDTH = 140
_STYLES = {
    "ok": "green",
    "failed": "red",
    "running": "cyan",
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
    """Shows a run to a person or to a log."""

    log_format = "text"

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        force_terminal: bool | None = None,
        quiet: bool = False,
        use_colors: bool = True,
        invocation_id: str = "",
    ):
        stream = stream or sys.stdout
        self.invocation_id = invocation_id
        self.console = Console(
            file=stream,
            force_terminal=force_terminal,
            highlight=False,
            soft_wrap=True,
            no_color=None if use_colors else True,  # None: rich honours NO_COLOR
        )
        if not self.console.is_terminal:  # logs are not 80 columns wide: do not squeeze the summary
            self.console.width = max(self.console.width, LOG_WIDTH)
        self.interactive = self.console.is_terminal and not quiet
        self.quiet = quiet
        self._bars: Progress | None = None  # the sync bars, while progress() lasts
        self._phases: Progress | None = None  # the spinners of the phases under way
        self._live: Live | None = None
        self._live_users = 0
        self._sending = False

    # -- lines -------------------------------------------------------------------------------------------
    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, markup=False)

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(Text(f"note: {message}", style="yellow"))

    def error(self, message: str) -> None:
        """A line that even ``--quiet`` shows (the CLI's own error goes to stderr besides)."""
        self.console.print(Text(message, style="red"))

    # -- the live display: phases and bars ------------------------------------------------------------
    @contextmanager
    def _live_display(self) -> Iterator[None]:
        """One rich Live for everything that moves (rich allows one at a time), started by its first user."""
        if self._live is None:
            self._phases = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                    console=self.console)  # fmt: skip
            self._live = Live(self._renderable(), console=self.console, refresh_per_second=8)
            self._live.start()
        self._live_users += 1
        try:
            yield
        finally:
            self._live_users -= 1
            if self._live_users == 0 and self._live is not None:
                self._live.transient = self._bars is None  # bars stay on screen; a lone spinner goes
                self._live.update(self._renderable(), refresh=True)
                self._live.stop()
                self._live = self._phases = self._bars = None

    def _renderable(self) -> Group:
        parts = [part for part in (self._bars, self._phases) if part is not None]
        return Group(*parts)

    @contextmanager
    def phase(self, name: str, sync: str | None = None) -> Iterator[None]:
        label = f"{sync}: {name}" if sync else name
        if not self.interactive:
            self.info(label)
            yield
            return
        with self._live_display():
            assert self._phases is not None
            task = self._phases.add_task(label, total=None)
            if self._live is not None:
                self._live.refresh()  # shown at once, not at the next tick
            try:
                yield
            finally:
                if self._phases is not None:
                    self._phases.remove_task(task)

    @contextmanager
    def progress(self) -> Iterator[None]:
        if not self.interactive:
            yield
            return
        with self._live_display():
            self._sending = True
            self._bars = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>9} rows/s"),
                TextColumn("[red]{task.fields[rejected]} rejected"),
                TimeElapsedColumn(),
                console=self.console,
            )
            assert self._live is not None
            self._live.update(self._renderable())
            try:
                yield
            finally:
                self._sending = False  # the bars stay on screen as they are until the live display ends

    def start_sync(self, name: str, total: int) -> SyncProgress:
        task = None
        if self._bars is not None and self._sending:
            task = self._bars.add_task(name, total=max(total, 1), rate="0", rejected=0)
        else:
            self.info(f"{name}: sending {total} row(s)")
        return SyncProgress(self, name, total, task)

    def _update(self, p: SyncProgress) -> None:
        if self._bars is not None and p._task is not None:
            self._bars.update(p._task, completed=p.done, rate=f"{p.rate():,.0f}", rejected=p.rejected)
            return
        now = time.monotonic()
        if now - p._last_log >= LOG_EVERY_SECONDS:
            p._last_log = now
            self.info(
                f"{p.name}: {p.done}/{p.total} rows acknowledged, {p.rate():,.0f} rows/s, {p.rejected} rejected"
            )

    def _finish(self, p: SyncProgress) -> None:
        if self._bars is not None and p._task is not None:
            self._bars.update(p._task, completed=max(p.done, min(p.total, p.done)))
        else:
            self.info(f"{p.name}: done, {p.done}/{p.total} rows acknowledged, {p.rejected} rejected")

    # -- tables ------------------------------------------------------------------------------------------
    def records(self, kind: str, title: str, rows: Sequence[Mapping[str, Any]], *, styles: str = "") -> None:
        """Rows of one kind (runs, checks...) as a table with their keys as columns; ``styles`` names the
        column whose value picks a row's colour."""
        if self.quiet or not rows:
            return
        table = Table(title=title)
        columns = list(rows[0])
        for index, column in enumerate(columns):
            numeric = all(isinstance(row.get(column), int | float) for row in rows)
            last = index == len(columns) - 1  # the free text (message, detail) may wrap; ids and names not
            table.add_column(
                column, justify="right" if numeric else "left", no_wrap=not last, overflow="fold"
            )
        for row in rows:
            style = _STYLES.get(str(row.get(styles)), "red") if styles else None
            table.add_row(*(_cell(row.get(c)) for c in columns), style=style if style != "green" else None)
        if self.console.is_terminal:
            self.console.print(table)
            return
        width = self.console.width  # a log has no width: keep every cell whole
        self.console.width = self.console.measure(
            table, options=self.console.options.update(width=10_000)
        ).maximum
        try:
            self.console.print(table)
        finally:
            self.console.width = width

    # -- end of run --------------------------------------------------------------------------------------
    def summary(self, outcomes: Sequence[SyncResult], *, dry_run: bool = False) -> None:
        if self.quiet:  # only what went wrong
            for o in outcomes:
                if not o.ok:
                    self.error(f"{o.name}: {o.status}{': ' + o.message if o.message else ''}")
            return
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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
