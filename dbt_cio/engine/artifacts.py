"""The run-results file a run leaves in the project's ``target/`` directory, for orchestrators.

``target/dbt_cio_run_results.json``: metadata, the run's arguments, overall success, and one entry per sync
(its :class:`~dbt_cio.engine.results.SyncResult` without the dry-run samples). Written atomically (a
temporary file renamed over the old one), so a reader never sees half a file. Nothing here sees a secret.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbt_cio._version import __version__
from dbt_cio.engine.results import SyncResult

__all__ = ["RUN_RESULTS_FILE", "write_run_results"]

RUN_RESULTS_FILE = "dbt_cio_run_results.json"


def write_run_results(
    target_dir: Path,
    results: Sequence[SyncResult],
    *,
    started_at: datetime,
    elapsed_seconds: float,
    args: dict[str, Any],
) -> Path:
    """Write ``target/dbt_cio_run_results.json``: one entry per sync, for orchestrators."""
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / RUN_RESULTS_FILE
    doc = {
        "metadata": {
            "generated_at": datetime.now(UTC).isoformat(),
            "started_at": started_at.isoformat(),
            "dbt_cio_version": __version__,
        },
        "elapsed_time": round(elapsed_seconds, 3),
        "args": args,
        "success": all(result.ok for result in results),
        "results": [{k: v for k, v in asdict(result).items() if k != "samples"} for result in results],
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str))
    tmp.replace(path)
    return path
