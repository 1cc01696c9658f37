"""A dbt Cloud run's artifacts, downloaded: which run, whether it has finished, its manifest and results.

:func:`download_run`, in steps:

1. **find the run** — ``GET /runs/{id}/``; for a job, its most recent successful run
   (``GET /runs/?job_definition_id=J&status=10&order_by=-finished_at&limit=1``), so both artifacts come from
   one run even if the job finishes again meanwhile;
2. **refuse an unfinished run** — queued, starting or running (status 1, 2, 3) is a usage error: its
   artifacts are not final. A finished run (success 10, error 20, cancelled 30) is used; which of its models
   may sync is the gate's business (:func:`dbt_cio.run_results.held_back`);
3. **download** ``manifest.json`` (required: without it nothing can be selected) and ``run_results.json``
   (of the run's last step, as dbt Cloud serves by default; a run may lack it) into a directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbt_cio.dbt_cloud.client import DbtCloudClient
from dbt_cio.dbt_cloud.settings import CloudSettings, DbtCloudRun
from dbt_cio.errors import DbtCloudError, DbtCloudUsageError

__all__ = ["RUN_STATUSES", "CloudRunInfo", "DownloadedRun", "download_run", "download_run_async"]

RUN_STATUSES: Mapping[int, str] = {
    1: "queued", 2: "starting", 3: "running", 10: "success", 20: "error", 30: "cancelled",
}  # fmt: skip
"""dbt Cloud's run status codes."""
SUCCESS, FINISHED = 10, frozenset({10, 20, 30})
MANIFEST, RUN_RESULTS = "manifest.json", "run_results.json"


@dataclass(frozen=True)
class CloudRunInfo:
    """What dbt Cloud says about one run."""

    run_id: int
    job_id: int | None
    status: int
    finished_at: str | None = None
    href: str | None = None

    @classmethod
    def from_api(cls, data: Any) -> CloudRunInfo:
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), int):
            raise DbtCloudError("dbt Cloud answered with a run that has no id")
        job = data.get("job_definition_id")
        href = data.get("href")
        return cls(
            run_id=data["id"],
            job_id=job if isinstance(job, int) else None,
            status=int(data.get("status") or 0),
            finished_at=str(data["finished_at"]) if data.get("finished_at") else None,
            href=href if isinstance(href, str) else None,
        )

    @property
    def status_name(self) -> str:
        return RUN_STATUSES.get(self.status, f"status {self.status}")

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS

    def describe(self) -> str:
        """``dbt Cloud run 12345 (job 67, success, finished 2026-12-01 10:02:03)``."""
        parts = [f"job {self.job_id}" if self.job_id is not None else None, self.status_name]
        if self.finished_at:
            parts.append(f"finished {self.finished_at[:19].replace('T', ' ')}")
        return f"dbt Cloud run {self.run_id} ({', '.join(p for p in parts if p)})"


@dataclass(frozen=True)
class DownloadedRun:
    """A finished run and where its artifacts were written; ``run_results`` is None when it had none."""

    run: CloudRunInfo
    manifest: Path
    run_results: Path | None


def download_run(settings: CloudSettings, which: DbtCloudRun, directory: Path) -> DownloadedRun:
    """Find the run, refuse it if unfinished, download its artifacts into ``directory`` (see the module
    docstring). For synchronous callers; it runs its own event loop."""
    return asyncio.run(download_run_async(settings, which, directory))


async def download_run_async(settings: CloudSettings, which: DbtCloudRun, directory: Path) -> DownloadedRun:
    async with DbtCloudClient(settings) as client:
        run = await find_run(client, which)
        if not run.finished:
            raise DbtCloudUsageError(
                f"{run.describe()} has not finished: sync from it once it has (a dbt Cloud webhook's "
                "job.run.completed event, or poll the run), or name its job with --dbt-cloud-job to use the "
                "job's latest successful run."
            )
        base = f"/runs/{run.run_id}/artifacts"
        manifest = directory / MANIFEST
        if not await client.download(f"{base}/{MANIFEST}", f"{MANIFEST} of run {run.run_id}", manifest):
            raise DbtCloudError(
                f"{run.describe()} has no {MANIFEST}: it stopped before dbt wrote one (see the run in dbt "
                "Cloud), so there is nothing to sync from. Fix the job and sync from its next run."
            )
        results = directory / RUN_RESULTS
        found = await client.download(f"{base}/{RUN_RESULTS}", f"{RUN_RESULTS} of run {run.run_id}", results)
        return DownloadedRun(run, manifest, results if found else None)


async def find_run(client: DbtCloudClient, which: DbtCloudRun) -> CloudRunInfo:
    """The run ``which`` names: by id, or the job's most recent successful run."""
    if which.run_id is not None:
        return CloudRunInfo.from_api(await client.get(f"/runs/{which.run_id}/", f"run {which.run_id}"))
    params = {"job_definition_id": str(which.job_id), "status": str(SUCCESS), "order_by": "-finished_at",
              "limit": "1"}  # fmt: skip
    runs = await client.get("/runs/", f"runs of job {which.job_id}", params=params)
    if not isinstance(runs, list) or not runs:
        raise DbtCloudUsageError(
            f"dbt Cloud job {which.job_id} has no successful run in account {client.settings.account_id}: "
            "check --dbt-cloud-job and DBT_CLOUD_ACCOUNT_ID, or run the job first."
        )
    return CloudRunInfo.from_api(runs[0])
