"""The command line: dbt-style flags, fast help, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import DBT_CIO

from dbt_cio.cli import spread_multi_values


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["sync", "--select", "a", "b", "--dry-run"],
            ["sync", "--select", "a", "--select", "b", "--dry-run"],
        ),
        (
            ["sync", "-s", "tag:cio", "x+", "--exclude", "y", "z"],
            ["sync", "-s", "tag:cio", "-s", "x+", "--exclude", "y", "--exclude", "z"],
        ),
        (["sync", "--target", "prod", "--select", "a"], ["sync", "--target", "prod", "--select", "a"]),
        (["sync", "--select", "a", "--select", "b"], ["sync", "--select", "a", "--select", "b"]),
    ],
)
def test_dbt_style_multi_value_selection(argv: list[str], expected: list[str]) -> None:
    assert spread_multi_values(argv) == expected


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
