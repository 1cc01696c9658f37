"""The run-results file a run leaves in the project's ``target/`` directory, in the shape of dbt's own.

``target/dbt_cio_run_results.json`` has the fields of dbt's ``run_results.json`` (schema v6), so tools that
read dbt artifacts find what they look for; docs/observability.md documents the mapping. In short:

- ``metadata``: ``dbt_schema_version`` is ours (:data:`SCHEMA_VERSION`), with ``dbt_cio_version``, the
  ``dbt_version`` in use, ``generated_at`` and ``invocation_started_at`` in UTC ending in ``Z``, and the
  run's ``invocation_id`` (also in the JSON log and in alerts);
- one result per sync: ``unique_id`` is the model's unique id, a dot, and the sync's name; ``status`` is
  dbt's word (:data:`DBT_STATUS`); ``timing`` (``compile``: the diff; ``execute``: sending and committing),
  ``execution_time``, ``message``, ``failures`` (rejected rows), ``relation_name``; the counts are in
  ``adapter_response`` (``rows_affected`` = accepted operations, ``code`` = dbt-cio's own status), and the
  rest under ``dbt_cio`` (sync, model, type, run id, rejection reasons, the SQL that reads them);
- ``elapsed_time`` and ``args`` (``which: sync`` and the run's flags).

Written atomically (a temporary file renamed over the old one), so a reader never sees half a file.
Nothing here sees a secret.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbt_cio._version import __version__
from dbt_cio.engine.results import SyncResult

__all__ = ["DBT_STATUS", "RUN_RESULTS_FILE", "SCHEMA_VERSION", "result_entry", "utc_z", "write_run_results"]

RUN_RESULTS_FILE = "dbt_cio_run_results.json"
SCHEMA_VERSION = "dbt-cio/run-results/v1"
"""``metadata.dbt_schema_version``: the shape is dbt's run-results v6, the contents are dbt-cio's."""

DBT_STATUS: Mapping[str, str] = {
    "success": "success",
    "warn": "warn",  # rows rejected under on_rejections: warn
    "rejected": "fail",  # as a dbt test that found failing rows; `failures` counts them
    "error": "error",
    "aborted": "error",  # a row threshold stopped the sync before anything was sent
    "skipped": "skipped",  # held back by dbt's results, or not reached
    "dry-run": "success",  # as `dbt compile`: done, nothing executed against the destination
    "pending": "skipped",
}
"""dbt-cio's status of a sync -> the dbt status word its result carries (dbt-cio's own stays in
``adapter_response.code``)."""


def utc_z(moment: datetime) -> str:
    """An ISO 8601 UTC time ending in ``Z``, as dbt writes them (``2026-12-04T03:41:08.496604Z``)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def result_entry(result: SyncResult) -> dict[str, Any]:
    """One sync's entry of the ``results`` list (see the module docstring)."""
    counts = {**result.counts(), "requests": result.requests, "retries": result.retries,
              "throttled": result.throttled}  # fmt: skip
    return {
        "status": DBT_STATUS.get(result.status, "error"),
        "timing": [
            {"name": t.name, "started_at": utc_z(t.started_at), "completed_at": utc_z(t.completed_at)}
            for t in result.timing
        ],
        "thread_id": threading.current_thread().name,
        "execution_time": round(result.elapsed_seconds, 6),
        "adapter_response": {
            "_message": _describe(result),
            "code": result.status,
            "rows_affected": result.accepted,
            **counts,
        },
        "message": result.message,
        "failures": result.rejected if result.status in ("rejected", "warn") else None,
        "unique_id": f"{result.unique_id or 'model.unknown.' + result.model}.{result.name}",
        "compiled": None,
        "compiled_code": None,
        "relation_name": result.relation_name,
        "batch_results": None,
        "dbt_cio": {
            "sync": result.name,
            "model": result.model,
            "model_unique_id": result.unique_id or None,
            "type": result.type,
            "run_id": result.run_id,
            "rejection_reasons": [asdict(reason) for reason in result.reasons],
            "rejections_sql": result.rejections_sql,
        },
    }


def write_run_results(
    target_dir: Path,
    results: Sequence[SyncResult],
    *,
    started_at: datetime,
    elapsed_seconds: float,
    args: dict[str, Any],
    invocation_id: str,
) -> Path:
    """Write ``target/dbt_cio_run_results.json`` (see the module docstring); return its path."""
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / RUN_RESULTS_FILE
    doc = {
        "metadata": {
            "dbt_schema_version": SCHEMA_VERSION,
            "dbt_cio_version": __version__,
            "dbt_version": _dbt_version(),
            "generated_at": utc_z(datetime.now(UTC)),
            "invocation_id": invocation_id,
            "invocation_started_at": utc_z(started_at),
            "env": {},
        },
        "results": [result_entry(result) for result in results],
        "elapsed_time": round(elapsed_seconds, 6),
        "args": {"which": "sync", **args},
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str))
    tmp.replace(path)
    return path


def _describe(result: SyncResult) -> str:
    """The one-line gist dbt keeps in ``adapter_response._message`` (``OK``, ``SELECT 6``...)."""
    if result.status == "dry-run":
        return f"dry run: {result.added} added, {result.changed} changed, {result.removed} removed"
    return f"{result.accepted} accepted, {result.rejected} rejected of {result.sent} sent"


def _dbt_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dbt-core")
    except PackageNotFoundError:  # pragma: no cover - dbt-core is a dependency
        return None
