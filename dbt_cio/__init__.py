"""dbt-cio: keep Customer.io in step with a dbt project.

The public API, for a Python caller such as an Airflow, Dagster or Prefect task::

    from dbt_cio import DbtArgs, SyncOptions, run_sync

    result = run_sync(SyncOptions(dbt=DbtArgs(project_dir="analytics", select=("tag:cio",))))
    if not result.success:
        raise RuntimeError(f"dbt-cio: {[(s.name, s.status, s.message) for s in result if not s.ok]}")

:func:`run_sync` returns a :class:`RunResult` (one :class:`SyncResult` per sync, and ``exit_code`` as the
CLI would exit); configuration and usage problems raise a :class:`DbtCioError`. After a dbt Cloud job,
``SyncOptions(dbt=..., dbt_cloud=DbtCloudRun(run_id=...))`` syncs from that run's artifacts. Everything not
listed in ``__all__`` is internal and may change.
"""

from __future__ import annotations

from dbt_cio._version import __version__
from dbt_cio.customerio.ratelimit import RateSettings
from dbt_cio.dbt_cloud.settings import DbtCloudRun
from dbt_cio.engine.options import SyncOptions
from dbt_cio.engine.results import RunResult, SyncResult
from dbt_cio.engine.runner import run_sync, validate_project
from dbt_cio.errors import ConfigError, DbtCioError, UsageError
from dbt_cio.project import DbtArgs

__all__ = [
    "ConfigError",
    "DbtArgs",
    "DbtCioError",
    "DbtCloudRun",
    "RateSettings",
    "RunResult",
    "SyncOptions",
    "SyncResult",
    "UsageError",
    "__version__",
    "run_sync",
    "validate_project",
]
