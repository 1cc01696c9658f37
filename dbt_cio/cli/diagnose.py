"""``dbt-cio runs``, ``show`` and ``debug``: commands that read and check, and never send or write state.

They take the dbt flags of ``sync`` and the output flags; ``--output json`` prints one JSON object per line
on stdout (as ``dbt ls --output json`` does), the rest going to stderr.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from dbt_cio.cli.exits import exit_codes
from dbt_cio.cli.params import dbt_args, dbt_cloud_flags, dbt_cloud_run, dbt_flags, output_flags

__all__ = ["debug", "runs", "show"]

F = TypeVar("F", bound=Callable[..., Any])

_OUTPUT = click.option(
    "--output",
    "-o",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    help="table (default), or json: one JSON object per line on stdout.",
)


def _limit(what: str) -> Callable[[F], F]:
    return click.option(
        "--limit", type=click.IntRange(min=1), default=20, show_default=True,
        help=f"How many {what} to show, newest first.",
    )  # fmt: skip


def _lines(items: list[dict[str, Any]]) -> None:
    for item in items:
        click.echo(json.dumps(item, default=str, ensure_ascii=False))


@click.command()
@dbt_flags
@output_flags
@_OUTPUT
@_limit("runs")
@exit_codes
def runs(**kw: Any) -> int:
    """Show the recent runs of the selected syncs: status, counts, duration, message."""
    from dbt_cio.engine.history import recent_runs

    reporter = kw["reporter"]
    found = recent_runs(dbt_args(kw), kw["limit"], reporter)
    if kw["output_format"] == "json":
        _lines([run.as_json() for run in found])
        return 0
    rows = []
    for run in found:
        data = run.as_json()
        rows.append({
            "sync": run.sync,
            "started (UTC)": run.started_at.strftime("%Y-%m-%d %H:%M:%S") if run.started_at else "",
            "status": data["status"],
            **{name: run.counts.get(name, 0) for name in ("added", "changed", "removed", "accepted", "rejected")},
            "seconds": run.duration_seconds if run.duration_seconds is not None else "",
            "run id": run.run_id,
            "message": (run.message or "").splitlines()[0][:200] if run.message else "",
        })  # fmt: skip
    reporter.records("RunListed", "dbt-cio runs (newest first)", rows, styles="status")
    return 0


@click.command()
@click.argument("sync_name", metavar="SYNC")
@click.option(
    "--key",
    "key",
    multiple=True,
    required=True,
    help="The key: one value per key column, in order (repeat --key), or 'col=value, col=value'.",
)
@dbt_flags
@output_flags
@_OUTPUT
@_limit("sync log rows")
@exit_codes
def show(**kw: Any) -> int:
    """Show what dbt-cio knows of one key of SYNC: its state, its sync log rows (payloads and answers)
    and its open rejection. Exits 1 when the key is unknown."""
    from dbt_cio.engine.lookup import show_key

    reporter = kw["reporter"]
    report = show_key(dbt_args(kw), kw["sync_name"], kw["key"], limit=kw["limit"], observer=reporter)
    if kw["output_format"] == "json":
        _lines([report.as_json()])
    else:
        data = report.as_json()
        if data["state"] is not None:
            reporter.records("KeyState", f"{report.sync} {report.display}: state", [data["state"]])
        log = [{k: v for k, v in entry.items() if k != "payload"} for entry in data["log"]]
        reporter.records(
            "KeyLog", f"{report.sync} {report.display}: sync log (newest first)", log, styles="outcome"
        )
        for entry in data["log"]:
            if entry.get("payload"):
                reporter.info(f"payload ({entry['outcome']}, {entry['logged_at']}, run {entry['run_id']}): "
                              f"{entry['payload']}")  # fmt: skip
        if data["rejection"] is not None:
            reporter.records(
                "KeyRejection", f"{report.sync} {report.display}: open rejection", [data["rejection"]]
            )
    if not report.known:
        reporter.error(
            f"sync '{report.sync}' has no state, sync log row or rejection for key {report.display}"
        )
        return 1
    return 0


@click.command()
@dbt_flags
@dbt_cloud_flags
@output_flags
@_OUTPUT
@exit_codes
def debug(**kw: Any) -> int:
    """Check the setup before a first sync: profile, warehouse, manifest, blocks, Customer.io keys.

    Sends nothing. Exits 0 when every check passes, 1 when one failed, 2 on usage errors.
    """
    from dbt_cio.engine.checks import check_setup

    reporter = kw["reporter"]
    checks = check_setup(dbt_args(kw), observer=reporter, dbt_cloud=dbt_cloud_run(kw))
    failed = [check for check in checks if not check.ok]
    if kw["output_format"] == "json":
        _lines([check.as_json() for check in checks])
    else:
        rows = [check.as_json() for check in checks]
        reporter.records("DebugCheck", "dbt-cio debug (nothing sent)", rows, styles="status")
        if failed:
            reporter.error(f"{len(failed)} check(s) failed: " + ", ".join(check.name for check in failed))
        else:
            reporter.info(f"All {len(checks)} checks passed.")
    return 1 if failed else 0
