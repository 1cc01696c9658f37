"""dbt Cloud as the source of a sync's project state: a run's ``manifest.json`` and ``run_results.json``.

A dbt Cloud job runs dbt commands only (no ``pip install``, no other executable), so dbt-cio runs beside it
and reads what the job left behind through dbt Cloud's Administrative API v2:

- :mod:`~dbt_cio.dbt_cloud.settings` — which run (:class:`DbtCloudRun`: a run id, or a job's latest successful
  run) and how to reach the API (:class:`CloudSettings`, from ``DBT_CLOUD_HOST``, ``DBT_CLOUD_API_TOKEN``,
  ``DBT_CLOUD_ACCOUNT_ID``; the token is masked in every ``repr``);
- :mod:`~dbt_cio.dbt_cloud.client` — the HTTP calls, retried on 429/5xx, errors translated by status;
- :mod:`~dbt_cio.dbt_cloud.artifacts` — the run checked (finished?) and its artifacts downloaded to files.
"""

from __future__ import annotations

from dbt_cio.dbt_cloud.artifacts import CloudRunInfo, DownloadedRun, download_run
from dbt_cio.dbt_cloud.settings import CloudSettings, DbtCloudRun

__all__ = ["CloudRunInfo", "CloudSettings", "DbtCloudRun", "DownloadedRun", "download_run"]
