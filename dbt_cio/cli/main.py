"""The ``dbt-cio`` commands: each builds the library's options, calls the library, and shows the result.

Exceptions and results become exit codes in one place, :func:`dbt_cio.cli.exits.exit_codes`: 0 every row
accepted, 1 rows rejected or a sync failed, 2 usage or configuration errors (see
:mod:`dbt_cio.engine.results`). Heavy imports (dbt, aiohttp) happen inside the library calls, so ``--help``
is instant.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

import click

from dbt_cio._version import __version__
from dbt_cio.cli.exits import exit_codes as _exit_codes
from dbt_cio.cli.params import (
    dbt_args,
    dbt_cloud_flags,
    dbt_cloud_run,
    dbt_flags,
    notify_flag,
    output_flags,
    rate_flags,
    rate_settings,
)
from dbt_cio.errors import UsageError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dbt-cio")
def cli() -> None:
    """Keep Customer.io in step with your dbt project."""


@cli.command()
@dbt_flags
@dbt_cloud_flags
@rate_flags
@output_flags
@notify_flag
@click.option("--full-refresh", is_flag=True, help="Forget the selected syncs' state and resend every row.")
@click.option(
    "--dry-run", is_flag=True, help="Show what would be sent (counts and sample payloads); change nothing."
)
@click.option("--fail-fast", is_flag=True, help="Stop at the first sync that fails or has rejected rows.")
@click.option(
    "--emulator",
    "use_emulator",
    is_flag=True,
    help="Send to a local Customer.io emulator started for this run, and show what arrived.",
)
@click.option(
    "--ignore-thresholds",
    is_flag=True,
    help="Let this run through even when a diff is over a row threshold (max_added, max_changed, max_removed).",
)
@click.option(
    "--ignore-dbt-results",
    is_flag=True,
    help="Sync models even when dbt's last results (target/run_results.json) show a failed build or test.",
)
@click.option(
    "--log-payloads",
    is_flag=True,
    help="Write the payload of every operation to the sync log (as log: all in a block does), for this run; "
    "by default only rejected and failed operations keep theirs.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="With --dry-run: write every operation it would send to this file, one JSON object per line.",
)
@_exit_codes
def sync(**kw: Any) -> int:
    """Send what changed in the selected models to Customer.io."""
    from dbt_cio.engine.options import SyncOptions
    from dbt_cio.engine.runner import run_sync

    reporter = kw["reporter"]
    options = SyncOptions(
        dbt=dbt_args(kw),
        rate=rate_settings(kw),
        full_refresh=kw["full_refresh"],
        dry_run=kw["dry_run"],
        fail_fast=kw["fail_fast"],
        use_emulator=kw["use_emulator"],
        ignore_thresholds=kw["ignore_thresholds"],
        ignore_dbt_results=kw["ignore_dbt_results"],
        log_payloads=kw["log_payloads"],
        output=Path(kw["output"]) if kw["output"] else None,
        notify=tuple(kw["notify"]),
        invocation_id=reporter.invocation_id,
        dbt_cloud=dbt_cloud_run(kw),
    )
    if options.output is not None and not options.dry_run:
        raise UsageError("--output writes what a dry run would send: add --dry-run")
    result = run_sync(options, reporter)
    if result.syncs:
        reporter.summary(result.syncs, dry_run=result.dry_run)
    if result.artifact is not None:
        reporter.info(f"Run results written to {result.artifact}")
    return result.exit_code


@cli.command()
@dbt_flags
@dbt_cloud_flags
@output_flags
@_exit_codes
def validate(**kw: Any) -> int:
    """Check every meta.customerio block of the project; exit 2 on any error."""
    from dbt_cio.engine.runner import validate_project

    reporter = kw["reporter"]
    syncs = validate_project(dbt_args(kw), reporter, dbt_cloud=dbt_cloud_run(kw))
    reporter.info(f"OK: {len(syncs)} sync(s) configured correctly: " + ", ".join(s.name for s in syncs))
    return 0


def _add_commands() -> None:
    from dbt_cio.cli.diagnose import debug, runs, show
    from dbt_cio.cli.serve import serve
    from dbt_cio.emulator.cli import emulator_command

    cli.add_command(runs, "runs")
    cli.add_command(show, "show")
    cli.add_command(debug, "debug")
    cli.add_command(serve, "serve")
    cli.add_command(emulator_command, "emulator")


_add_commands()


def main() -> None:
    """The ``dbt-cio`` console command: run it, then end the process without tearing the interpreter down."""
    # dbt reads some settings from the environment; keep its own log files out of users' way.
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    try:
        cli(prog_name="dbt-cio")
    except SystemExit as exc:
        _exit(exc)
    raise AssertionError("click's standalone mode always exits")  # pragma: no cover


def _exit(exc: SystemExit) -> NoReturn:
    """Leave with ``exc``'s code. Freeing every object of dbt's loaded project one by one costs a quarter of a
    second at exit; when the command is over (only the main thread left) the process ends at once instead,
    after what an exit must still do: the atexit hooks, logging's handlers, the output streams."""
    if threading.active_count() > 1:  # something still runs: let the interpreter wait for it as usual
        raise exc
    code = exc.code
    if code is not None and not isinstance(code, int):  # as sys.exit("message") does
        print(code, file=sys.stderr)
        code = 1
    try:
        atexit._run_exitfuncs()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code or 0)


if __name__ == "__main__":  # pragma: no cover
    main()
