"""Where errors and results become exit codes, and where a command's output flags become its reporter.

This is the one place that does either: 0 ok, 1 a sync (or a check) failed, 2 usage or configuration
errors (:mod:`dbt_cio.engine.results`), 130 interrupted. Every command is wrapped in :func:`exit_codes`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from dbt_cio.cli.params import OUTPUT_FLAGS, reporter
from dbt_cio.errors import DbtCioError

__all__ = ["EXIT_INTERRUPTED", "exit_codes"]

EXIT_INTERRUPTED = 130


def exit_codes(func: Callable[..., int]) -> Callable[..., None]:
    """Turn dbt-cio errors into messages and exit codes (the only place that does).

    A command with the output flags gets its ``reporter`` built from them; under ``--log-format json`` an
    error is also a JSON event on stdout (so every stdout line stays JSON), besides the line on stderr.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        shown = None
        if all(name in kwargs for name in OUTPUT_FLAGS):
            json_output = kwargs.get("output_format") == "json"  # stdout is the command's: report on stderr
            shown = kwargs["reporter"] = reporter(kwargs, to_stderr=json_output)
        try:
            code = func(*args, **kwargs)
        except DbtCioError as exc:
            if shown is not None and shown.log_format == "json":
                shown.error(f"Error: {exc}")
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo(
                "Interrupted: acknowledged rows are committed; the next run resends the rest.", err=True
            )
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code)

    return wrapper
