"""Every flag of the command line, defined once with its help text and environment variable.

Flags follow dbt's names and meanings. ``--select`` and ``--exclude`` take dbt's multi-value form
(``--select a b``) through :class:`MultiValueOption`. Values are turned into the library's frozen,
checked configuration objects here (:func:`dbt_args`, :func:`rate_settings`), so a bad value is a usage
error before anything is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dbt_cio.errors import SettingError, UsageError

if TYPE_CHECKING:
    from click.parser import _OptionParser, _ParsingState

    from dbt_cio.customerio.ratelimit import RateSettings
    from dbt_cio.dbt_cloud.settings import DbtCloudRun
    from dbt_cio.jsonlog import JsonReporter
    from dbt_cio.project import DbtArgs
    from dbt_cio.report import Reporter

__all__ = [
    "OUTPUT_FLAGS",
    "MultiValueOption",
    "dbt_args",
    "dbt_cloud_flags",
    "dbt_cloud_run",
    "dbt_flags",
    "notify_flag",
    "output_flags",
    "rate_flags",
    "rate_settings",
    "reporter",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The library's name of each rate setting -> the flag that sets it.
RATE_FLAGS: Mapping[str, str] = {"rate": "--rate", "burst": "--burst", "max_concurrency": "--max-concurrency"}


class MultiValueOption(click.Option):
    """A repeatable option that also takes every following word up to the next option, as dbt's
    ``--select`` does: ``--select a b --exclude c`` is ``--select a --select b --exclude c``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("multiple", True)
        super().__init__(*args, **kwargs)

    def add_to_parser(self, parser: _OptionParser, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        prefixes = parser._opt_prefixes
        for name in self.opts:
            entry = parser._long_opt.get(name) or parser._short_opt.get(name)
            if entry is None:  # pragma: no cover - click registers every name of the option
                continue
            take_one = entry.process

            def take_all(value: Any, state: _ParsingState, take_one: Any = take_one) -> None:
                take_one(value, state)
                while state.rargs and not _is_option(state.rargs[0], prefixes):
                    take_one(state.rargs.pop(0), state)

            entry.process = take_all  # type: ignore[method-assign]


def _is_option(word: str, prefixes: set[str]) -> bool:
    return len(word) > 1 and word[0] in prefixes


def _apply(func: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def dbt_flags(func: F) -> F:
    """The dbt flags every command that reads a project takes."""
    return _apply(
        func,
        [
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
                cls=MultiValueOption,
                help="dbt selection of models to sync (default: every model with a meta.customerio block).",
            ),
            click.option("--exclude", cls=MultiValueOption, help="dbt selection of models to leave out."),
            click.option("--selector", help="A named selector from selectors.yml."),
            click.option(
                "--state-schema",
                envvar="DBT_CIO_STATE_SCHEMA",
                help="Schema for dbt-cio's state tables (default: var dbt_cio_state_schema, else <target schema>_dbt_cio).",
            ),
        ],
    )


def dbt_cloud_flags(func: F) -> F:
    """Read the project's state from a dbt Cloud run's artifacts instead of target/."""
    return _apply(
        func,
        [
            click.option(
                "--dbt-cloud-run",
                type=click.IntRange(min=1),
                metavar="RUN_ID",
                help="Use this dbt Cloud run's manifest.json and run_results.json instead of target/ (it must "
                "have finished). Needs DBT_CLOUD_API_TOKEN, DBT_CLOUD_ACCOUNT_ID and, unless cloud.getdbt.com, "
                "DBT_CLOUD_HOST.",
            ),
            click.option(
                "--dbt-cloud-job",
                type=click.IntRange(min=1),
                metavar="JOB_ID",
                help="As --dbt-cloud-run, with the most recent successful run of this dbt Cloud job.",
            ),
        ],
    )


def dbt_cloud_run(kw: Mapping[str, Any]) -> DbtCloudRun | None:
    """The dbt Cloud flags as :class:`~dbt_cio.dbt_cloud.settings.DbtCloudRun`, or None when neither is given."""
    from dbt_cio.dbt_cloud.settings import DbtCloudRun

    run_id, job_id = kw.get("dbt_cloud_run"), kw.get("dbt_cloud_job")
    if run_id is not None and job_id is not None:
        raise UsageError("--dbt-cloud-run and --dbt-cloud-job name the run two ways: give one of them")
    if run_id is None and job_id is None:
        return None
    return DbtCloudRun(run_id=run_id, job_id=job_id)


def notify_flag(func: F) -> F:
    """Where alerts go."""
    return click.option(
        "--notify",
        multiple=True,
        metavar="URL",
        help="Alert this URL when a sync fails, is aborted or held back, or has rejections, and when it recovers "
        "(repeatable; also DBT_CIO_NOTIFY, comma separated). A Slack incoming webhook gets a Slack message; any "
        "other URL a JSON body, signed when DBT_CIO_NOTIFY_SECRET is set.",
    )(func)


def rate_flags(func: F) -> F:
    """How fast to talk to Customer.io."""
    return _apply(
        func,
        [
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
                help="Requests allowed in any one second (default 600, or the rate when it is higher).",
            ),
            click.option(
                "--max-concurrency",
                type=int,
                default=None,
                envvar="DBT_CIO_MAX_CONCURRENCY",
                help="Requests in flight at once (default 32).",
            ),
        ],
    )


OUTPUT_FLAGS = ("log_format", "quiet", "use_colors")
"""The parameters of :func:`output_flags`: the CLI turns them into the command's reporter."""


def output_flags(func: F) -> F:
    """How a command writes to stdout, with dbt's flag names and environment variables."""
    return _apply(
        func,
        [
            click.option(
                "--log-format",
                type=click.Choice(["text", "json", "default", "debug"]),
                default="text",
                envvar=["DBT_CIO_LOG_FORMAT", "DBT_LOG_FORMAT"],
                help="text (default; debug and default mean text too), or json: one JSON object per line, "
                "in dbt's structured-log shape.",
            ),
            click.option(
                "--quiet",
                "-q",
                is_flag=True,
                envvar=["DBT_CIO_QUIET", "DBT_QUIET"],
                help="Show errors only.",
            ),
            click.option(
                "--use-colors/--no-use-colors",
                default=True,
                envvar=["DBT_CIO_USE_COLORS", "DBT_USE_COLORS"],
                help="Colour the terminal output (default; NO_COLOR in the environment turns it off too).",
            ),
        ],
    )


def reporter(kw: dict[str, Any], *, to_stderr: bool = False) -> Reporter | JsonReporter:
    """The command's reporter, from (and taking out of ``kw``) its output flags; ``to_stderr`` when stdout
    carries the command's own output (``--output json``)."""
    import sys
    import uuid

    log_format, quiet, use_colors = (kw.pop(name) for name in OUTPUT_FLAGS)
    stream = sys.stderr if to_stderr else sys.stdout
    invocation_id = str(uuid.uuid4())
    if log_format == "json":
        from dbt_cio.jsonlog import JsonReporter

        return JsonReporter(stream, invocation_id=invocation_id, quiet=quiet)
    from dbt_cio.report import Reporter

    return Reporter(stream, quiet=quiet, use_colors=use_colors, invocation_id=invocation_id)


def dbt_args(kw: Mapping[str, Any]) -> DbtArgs:
    """The dbt flags of a command as :class:`~dbt_cio.project.DbtArgs`."""
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


def rate_settings(kw: Mapping[str, Any]) -> RateSettings:
    """The rate flags as :class:`~dbt_cio.customerio.ratelimit.RateSettings`; a bad value is a usage error
    that names the flag."""
    from dbt_cio.customerio.ratelimit import RateSettings

    try:
        return RateSettings.from_flags(kw["rate"], kw["burst"], kw["max_concurrency"])
    except SettingError as exc:
        raise UsageError(f"{RATE_FLAGS.get(exc.setting, exc.setting)} {exc.detail}") from None
