"""Reading ``target/dbt_cio_run_results.json`` in tests: its entries by sync name, as written (dbt's fields,
the counts under ``adapter_response``, dbt-cio's own fields under ``dbt_cio``)."""

from __future__ import annotations

import json
from typing import Any

from conftest import DbtProject

from dbt_cio.engine.artifacts import DBT_STATUS, SCHEMA_VERSION


def read_results(project: DbtProject) -> dict[str, dict[str, Any]]:
    """The run results of the last sync of ``project``, by sync name, in the file's order."""
    doc = json.loads((project.path / "target" / "dbt_cio_run_results.json").read_text())
    assert doc["metadata"]["dbt_schema_version"] == SCHEMA_VERSION and doc["metadata"]["invocation_id"]
    return {entry["dbt_cio"]["sync"]: entry for entry in doc["results"]}


def status(entry: dict[str, Any]) -> str:
    """dbt-cio's status of an entry (``adapter_response.code``), once the dbt status word agrees with it."""
    code = entry["adapter_response"]["code"]
    assert entry["status"] == DBT_STATUS[code], entry
    return str(code)


def count(entry: dict[str, Any], name: str) -> int:
    """One count of an entry (``added``, ``accepted``, ``requests``...)."""
    return int(entry["adapter_response"][name])
