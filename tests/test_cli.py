"""The command line: dbt-style flags, fast help, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import DBT_CIO

from dbt_cio.cli import cli


def _parsed(argv: list[str]) -> dict[str, object]:
    """The parameters click gives the command for ``argv`` (parsing only: nothing runs)."""
    command = cli.commands[argv[0]]
    with command.make_context(argv[0], argv[1:]) as ctx:
        return dict(ctx.params)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["sync", "--select", "a", "b", "--dry-run"],
            {"select": ("a", "b"), "exclude": (), "dry_run": True},
        ),
        (
            ["sync", "-s", "tag:cio", "x+", "--exclude", "y", "z"],
            {"select": ("tag:cio", "x+"), "exclude": ("y", "z"), "dry_run": False},
        ),
        (
            ["sync", "--target", "prod", "--select", "a"],
            {"select": ("a",), "exclude": (), "dry_run": False, "target": "prod"},
        ),
        (["sync", "--select", "a", "--select", "b"], {"select": ("a", "b"), "exclude": (), "dry_run": False}),
        (["validate", "-s", "a", "b", "--target", "t"], {"select": ("a", "b"), "exclude": (), "target": "t"}),
        (
            ["sync", "--notify", "x", "--notify", "y", "-q", "--log-format", "json", "--no-use-colors"],
            {"notify": ("x", "y"), "quiet": True, "log_format": "json", "use_colors": False},
        ),
        (
            ["runs", "-s", "a", "--limit", "5", "-o", "json"],
            {"select": ("a",), "limit": 5, "output_format": "json"},
        ),
        (
            ["debug", "--select", "a", "b"],
            {"select": ("a", "b"), "output_format": "table", "log_format": "text"},
        ),
    ],
)
def test_dbt_style_multi_value_selection(argv: list[str], expected: dict[str, object]) -> None:
    params = _parsed(argv)
    assert {name: params[name] for name in expected} == expected


def test_help_does_not_import_dbt_or_aiohttp() -> None:
    code = (
        "import sys, dbt_cio.cli; print(sorted(m for m in ('dbt', 'aiohttp', 'duckdb') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_usage_errors_exit_2_with_a_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [DBT_CIO, "sync", "--project-dir", str(tmp_path / "missing")],
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "missing" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([DBT_CIO, "sync", "--no-such-flag"], check=False, capture_output=True, text=True)
    assert proc.returncode == 2


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--rate", "0"], "--rate"),
        (["--rate", "-5"], "--rate"),
        (["--burst", "10"], "--burst"),  # below the default rate of 150
        (["--rate", "300", "--burst", "200"], "--burst"),
        (["--max-concurrency", "0"], "--max-concurrency"),
    ],
)
def test_bad_rate_settings_are_usage_errors_before_the_project_loads(
    tmp_path, flags: list[str], named: str
) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [DBT_CIO, "sync", "--emulator", "--project-dir", str(tmp_path / "missing"), *flags],
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {named} "), proc.stderr
    assert (
        "dbt_project.yml" not in proc.stderr and "Traceback" not in proc.stderr
    )  # the project was not looked at
    assert "emulator" not in proc.stdout  # nothing was started


@pytest.mark.parametrize(("argv", "code"), [(["--version"], 0), (["sync", "--no-such-flag"], 2)])
def test_the_command_ends_at_once_yet_runs_atexit_hooks_and_flushes_its_output(
    argv: list[str], code: int
) -> None:
    # main() ends the process with os._exit (no interpreter teardown): what an exit must do still happens
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('atexit hook ran'))\n"
        "from dbt_cio.cli.main import main\n"
        f"sys.argv = ['dbt-cio', *{argv!r}]\n"
        "print('buffered before the command')\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == code, proc.stderr
    assert proc.stdout.startswith("buffered before the command\n")
    assert proc.stdout.endswith("atexit hook ran\n")
    if code == 0:
        assert "dbt-cio, version" in proc.stdout
    else:
        assert "--no-such-flag" in proc.stderr  # click's usage error, on stderr
