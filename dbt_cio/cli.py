"""The ``dbt-cio`` command line: thin commands over the library.

Flags follow dbt's names and meanings. This is the one place where exceptions become exit codes:
0 every row accepted, 1 rows rejected or a sync failed, 2 usage or configuration errors.
Heavy imports (dbt, aiohttp) happen inside the commands so that ``--help`` is instant.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from dbt_cio import __version__
from dbt_cio.errors import DbtCioError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _dbt_flags(func: F) -> F:
    """The dbt flags every command that reads a project takes, defined once."""
    options = [
        click.option(
            "--project-dir",
            envvar="DBT_PROJECT_DIR",
            type=click.Path(file_okay=False),
            help="The dbt project directory (default: the current directory).",
        ),
        click.option(
            "--profiles-dir",
            envvar="DBT_PROFILES_DIR",
            type=click.Path(file_okay=False),
            help="Where profiles.yml lives (default: the project directory if it has one, else ~/.dbt).",
        ),
        click.option("--target", "-t", envvar="DBT_TARGET", help="The profile target to use."),
        click.option(
            "--profile", envvar="DBT_PROFILE", help="Override the profile named in dbt_project.yml."
        ),
        click.option(
            "--vars", help="YAML string of variables, as in dbt (e.g. '{dbt_cio_state_schema: cio}')."
        ),
        click.option(
            "--select",
            "-s",
            multiple=True,
            help="dbt selection of models to sync (default: every model with a meta.customerio block).",
        ),
        click.option("--exclude", multiple=True, help="dbt selection of models to leave out."),
        click.option("--selector", help="A named selector from selectors.yml."),
        click.option(
            "--state-schema",
            envvar="DBT_CIO_STATE_SCHEMA",
            help="Schema for dbt-cio's state tables (default: var dbt_cio_state_schema, else <target schema>_dbt_cio).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _rate_flags(func: F) -> F:
    options = [
        click.option(
            "--rate",
            type=float,
            default=None,
            envvar="DBT_CIO_RATE",
            show_envvar=True,
            help="Sustained ceiling for Track API requests per second (default 150).",
        ),
        click.option(
            "--burst",
            type=int,
            default=None,
            envvar="DBT_CIO_BURST",
            show_envvar=True,
            help="Requests allowed above the ceiling in a burst (default 600 in any one second).",
        ),
        click.option(
            "--max-concurrency",
            type=int,
            default=None,
            envvar="DBT_CIO_MAX_CONCURRENCY",
            help="Requests in flight at once.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _exit_codes(func: F) -> F:
    """Turn dbt-cio errors into messages and exit codes (the only place that does)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            code = func(*args, **kwargs)
        except DbtCioError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo(
                "Interrupted: acknowledged rows are committed; the next run resends the rest.", err=True
            )
            sys.exit(130)
        sys.exit(code or EXIT_OK)

    return wrapper  # type: ignore[return-value]


def _dbt_args(kw: dict[str, Any]) -> Any:
    from dbt_cio.project import DbtArgs

    return DbtArgs(
        project_dir=kw["project_dir"],
        profiles_dir=kw["profiles_dir"],
        target=kw["target"],
        profile=kw["profile"],
        vars=kw["vars"],
        select=tuple(part for value in kw["select"] for part in value.split()),
        exclude=tuple(part for value in kw["exclude"] for part in value.split()),
        selector=kw["selector"],
        state_schema=kw["state_schema"],
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dbt-cio")
def cli() -> None:
    """Keep Customer.io in step with your dbt project."""


@cli.command()
@_dbt_flags
@_rate_flags
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
@_exit_codes
def sync(**kw: Any) -> int:
    """Send what changed in the selected models to Customer.io."""
    from dbt_cio.sync import SyncOptions, run_sync

    options = SyncOptions(
        dbt=_dbt_args(kw),
        full_refresh=kw["full_refresh"],
        dry_run=kw["dry_run"],
        fail_fast=kw["fail_fast"],
        use_emulator=kw["use_emulator"],
        rate=kw["rate"],
        burst=kw["burst"],
        max_concurrency=kw["max_concurrency"],
    )
    return run_sync(options)


@cli.command()
@_dbt_flags
@_exit_codes
def validate(**kw: Any) -> int:
    """Check every meta.customerio block of the project; exit 2 on any error."""
    from dbt_cio.sync import validate_project

    return validate_project(_dbt_args(kw))


def _add_emulator_command() -> None:
    try:
        from dbt_cio.emulator.cli import emulator_command
    except ImportError:  # pragma: no cover - only while the emulator is being built
        return
    cli.add_command(emulator_command, "emulator")


_add_emulator_command()


MULTI_VALUE_FLAGS = frozenset({"--select", "-s", "--exclude"})


def spread_multi_values(argv: list[str]) -> list[str]:
    """Accept dbt's ``--select a b`` form: every word up to the next flag belongs to the flag.

    ``["--select", "a", "b"]`` becomes ``["--select", "a", "--select", "b"]``, which click understands.
    """
    out: list[str] = []
    current: str | None = None
    for arg in argv:
        if arg.startswith("-"):
            current = arg if arg in MULTI_VALUE_FLAGS else None
            out.append(arg)
            continue
        if current is not None and out and out[-1] != current:
            out.append(current)
        out.append(arg)
    return out


def main() -> None:
    # dbt reads some settings from the environment; keep its own log files out of users' way.
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    cli(args=spread_multi_values(sys.argv[1:]), prog_name="dbt-cio")


if __name__ == "__main__":  # pragma: no cover
    main()
