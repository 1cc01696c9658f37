"""``dbt-cio serve``: the webhook server, with the dbt, rate and output flags of ``sync``.

The library does the work (:mod:`dbt_cio.serve`); this command builds its settings from the flags, makes the
reporter a log (no live display: several syncs go by, from a worker thread) and starts it.
"""

from __future__ import annotations

from typing import Any

import click

from dbt_cio.cli.exits import exit_codes
from dbt_cio.cli.params import dbt_args, dbt_flags, notify_flag, output_flags, rate_flags, rate_settings
from dbt_cio.errors import UsageError

__all__ = ["serve"]


class _EventLog:
    """The server's events through the command's reporter: JSON events under ``--log-format json``, else lines."""

    def __init__(self, reporter: Any) -> None:
        self.reporter = reporter

    def event(self, name: str, msg: str, level: str = "info", /, **data: Any) -> None:
        if self.reporter.log_format == "json":
            self.reporter.event(name, msg, level, **data)
        elif level == "error":
            self.reporter.error(msg)
        elif level == "warn":
            self.reporter.note(msg)
        else:
            self.reporter.info(msg)

    def summary(self, outcomes: Any, *, dry_run: bool = False) -> None:
        self.reporter.summary(outcomes, dry_run=dry_run)


@click.command()
@dbt_flags
@rate_flags
@output_flags
@notify_flag
@click.option(
    "--job",
    "jobs",
    multiple=True,
    metavar="JOB_ID=SELECTION",
    help='Sync SELECTION (dbt --select syntax) when a run of this dbt Cloud job finishes, e.g. --job 123="tag:cio" '
    "(repeatable). Without --job, every job of the account syncs --select.",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 in a container)."
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8580, show_default=True, help="Port to listen on."
)
@click.option(
    "--max-queue",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Syncs that may wait while one runs (one per selection); further webhooks get 503 and are delivered again.",
)
@click.option(
    "--fail-fast", is_flag=True, help="In each sync, stop at the first sync that fails or has rejected rows."
)
@click.option(
    "--dry-run", is_flag=True, help="On each webhook, show what would be sent; send and change nothing."
)
@exit_codes
def serve(**kw: Any) -> int:
    """Sync when a dbt Cloud job finishes: a server for dbt Cloud's job.run.completed webhook.

    Needs DBT_CIO_WEBHOOK_SECRET (the webhook's secret token in dbt Cloud), DBT_CLOUD_API_TOKEN,
    DBT_CLOUD_ACCOUNT_ID (and DBT_CLOUD_HOST unless cloud.getdbt.com), the Customer.io variables and a profile
    for the warehouse. Stops on SIGTERM once the sync under way has committed what Customer.io acknowledged.
    """
    from dbt_cio.engine.options import SyncOptions
    from dbt_cio.serve import JobRoutes, ServeSettings
    from dbt_cio.serve import serve as run_server

    reporter = kw["reporter"]
    reporter.interactive = False  # a server's output is a log
    dbt = dbt_args(kw)
    if kw["jobs"] and (dbt.select or dbt.selector):
        raise UsageError("--job names what each job syncs: leave out --select and --selector (or drop --job to "
                         "sync --select after every job)")  # fmt: skip
    options = SyncOptions(
        dbt=dbt,
        rate=rate_settings(kw),
        dry_run=kw["dry_run"],
        fail_fast=kw["fail_fast"],
        notify=tuple(kw["notify"]),
    )
    routes = JobRoutes.parse(kw["jobs"], dbt.select)
    settings = ServeSettings.build(
        options, routes, host=kw["host"], port=kw["port"], max_waiting=kw["max_queue"]
    )
    return run_server(settings, reporter, _EventLog(reporter))
