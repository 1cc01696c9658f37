"""Golden SQL for Snowflake, BigQuery, Redshift and Databricks: every statement dbt-cio sends, rendered through
each adapter's own macros without connecting (tests/golden.py), kept in tests/golden/ and parsed by sqlglot in
that warehouse's dialect.

These tests need the adapters and sqlglot, which live in an environment of their own (``scripts/golden``,
constraints/golden.txt); elsewhere they are skipped. ``scripts/golden --update`` regenerates the files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

for _module in ("sqlglot", "dbt.adapters.snowflake", "dbt.adapters.bigquery", "dbt.adapters.redshift",
                "dbt.adapters.databricks"):  # fmt: skip
    pytest.importorskip(_module, reason="the golden SQL environment: scripts/golden")

from conftest import INTEGRATION_PROJECT, DbtProject
from golden import ADAPTERS, GOLDEN, render_all

UPDATE = "DBT_CIO_UPDATE_GOLDEN"
Rendered = dict[Path, tuple[str, list[tuple[str, str]]]]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Every golden file's text and statements, from the scenario run on DuckDB and replayed per adapter."""
    root = tmp_path_factory.mktemp("golden")
    template = DbtProject(
        path=root / "template" / "project", target="duckdb",
        env={"DBT_CIO_DUCKDB_PATH": str(root / "template" / "warehouse.duckdb")},
    )  # fmt: skip
    shutil.copytree(
        INTEGRATION_PROJECT, template.path, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*")
    )
    template.build()
    return render_all(root, template)


def _on_disk() -> set[Path]:
    return {path for adapter in ADAPTERS for path in (GOLDEN / adapter).rglob("*.sql")}


def test_the_rendered_sql_is_the_reviewed_golden_sql(rendered: Rendered) -> None:
    if os.environ.get(UPDATE):
        for path in _on_disk() - set(rendered):
            path.unlink()
        for path, (text, _statements) in rendered.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return
    changed = sorted(str(p.relative_to(GOLDEN)) for p, (text, _s) in rendered.items()
                     if not p.is_file() or p.read_text() != text)  # fmt: skip
    stale = sorted(str(p.relative_to(GOLDEN)) for p in _on_disk() - set(rendered))
    assert not changed and not stale, (
        f"the SQL dbt-cio sends has changed for: {', '.join(changed) or '-'}; files no scenario writes any more: "
        f"{', '.join(stale) or '-'}. If the change is meant, regenerate with `scripts/golden --update` and review "
        "the diff of tests/golden/ like code."
    )


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_every_statement_parses_in_the_warehouse_dialect(rendered: Rendered, adapter: str) -> None:
    import sqlglot
    from sqlglot import exp

    dialect = ADAPTERS[adapter]
    failures: list[str] = []
    count = 0
    for path, (_text, statements) in sorted(rendered.items()):
        if path.relative_to(GOLDEN).parts[0] != adapter:
            continue
        for step, statement in statements:
            count += 1
            where = f"{path.relative_to(GOLDEN)} ({step})"
            try:
                parsed = sqlglot.parse(statement, read=dialect)
            except sqlglot.errors.SqlglotError as exc:
                failures.append(f"{where}: {str(exc).splitlines()[0]}\n    {statement[:300]}")
                continue
            if len(parsed) != 1 or parsed[0] is None or isinstance(parsed[0], exp.Command):
                failures.append(
                    f"{where}: not parsed as one statement (sqlglot fell back)\n    {statement[:300]}"
                )
    assert count > 0, f"no statement rendered for {adapter}"
    assert not failures, f"{len(failures)} of {count} statements do not parse as {dialect}:\n" + "\n".join(
        failures
    )
