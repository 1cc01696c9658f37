"""dbt Cloud settings, client and artifact download against the local fake over HTTP: hosts, the token kept
out of every repr and message, errors by status, retries, unfinished runs (no dbt involved)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from dbt_cloud_fake import ACCOUNT_ID, TOKEN, FakeDbtCloud

from dbt_cio.dbt_cloud import CloudSettings, DbtCloudRun, download_run
from dbt_cio.dbt_cloud.artifacts import download_run_async
from dbt_cio.dbt_cloud.client import CloudRetry, DbtCloudClient
from dbt_cio.errors import DbtCloudError, DbtCloudUsageError, UsageError


def _settings(fake: FakeDbtCloud, **env: str) -> CloudSettings:
    return CloudSettings.from_env({**fake.env, **env})


def test_hosts_tokens_and_accounts_from_the_environment() -> None:
    env = {"DBT_CLOUD_API_TOKEN": TOKEN, "DBT_CLOUD_ACCOUNT_ID": "43"}
    assert CloudSettings.from_env(env).base_url == "https://cloud.getdbt.com"
    assert CloudSettings.from_env({**env, "DBT_CLOUD_HOST": "ab123.us1.dbt.com"}).account_url == (
        "https://ab123.us1.dbt.com/api/v2/accounts/43"
    )
    assert (
        CloudSettings.from_env({**env, "DBT_CLOUD_HOST": "https://emea.dbt.com/"}).base_url
        == "https://emea.dbt.com"
    )
    assert (
        CloudSettings.from_env({**env, "DBT_CLOUD_HOST": "http://localhost:8080"}).base_url
        == "http://localhost:8080"
    )
    with pytest.raises(UsageError, match="only loopback hosts"):
        CloudSettings.from_env({**env, "DBT_CLOUD_HOST": "http://cloud.getdbt.com"})
    with pytest.raises(UsageError, match="must not contain credentials"):
        CloudSettings.from_env({**env, "DBT_CLOUD_HOST": "https://user:pw@emea.dbt.com"})
    with pytest.raises(DbtCloudUsageError) as caught:
        CloudSettings.from_env({"DBT_CLOUD_ACCOUNT_ID": "acme"})
    assert "set DBT_CLOUD_API_TOKEN" in str(
        caught.value
    ) and "DBT_CLOUD_ACCOUNT_ID must be a positive number" in str(caught.value)


def test_the_token_is_never_in_a_repr() -> None:
    settings = CloudSettings.from_env({"DBT_CLOUD_API_TOKEN": TOKEN, "DBT_CLOUD_ACCOUNT_ID": "43"})
    for shown in (repr(settings), str(settings), repr(DbtCloudClient(settings))):
        assert TOKEN not in shown and "token='***'" in shown


def test_a_run_is_named_one_way() -> None:
    assert DbtCloudRun(run_id=5).describe() == "dbt Cloud run 5"
    assert DbtCloudRun(job_id=9).describe() == "the latest successful run of dbt Cloud job 9"
    for bad in ({}, {"run_id": 1, "job_id": 2}, {"run_id": 0}, {"job_id": True}):
        with pytest.raises(UsageError):
            DbtCloudRun(**bad)  # type: ignore[arg-type]


def test_download_a_finished_run(dbt_cloud: FakeDbtCloud, tmp_path: Path) -> None:
    run = dbt_cloud.add_run(12, 3, 20)
    run.artifacts = {"manifest.json": b'{"m": 1}'}  # an errored run that wrote no run_results.json
    got = download_run(_settings(dbt_cloud), DbtCloudRun(run_id=12), tmp_path)
    assert (got.run.run_id, got.run.job_id, got.run.status_name, got.run.succeeded) == (12, 3, "error", False)
    assert got.manifest.read_bytes() == b'{"m": 1}' and got.run_results is None
    assert got.run.describe() == "dbt Cloud run 12 (job 3, error, finished 2026-12-01 10:00:00)"

    dbt_cloud.add_run(13, 3, 1)  # queued
    with pytest.raises(DbtCloudUsageError, match="dbt Cloud run 13 .job 3, queued. has not finished"):
        download_run(_settings(dbt_cloud), DbtCloudRun(run_id=13), tmp_path)
    dbt_cloud.add_run(14, 3, 10)  # no artifacts at all
    with pytest.raises(DbtCloudError, match="has no manifest.json"):
        download_run(_settings(dbt_cloud), DbtCloudRun(run_id=14), tmp_path)


def test_errors_by_status_and_retries(dbt_cloud: FakeDbtCloud, tmp_path: Path) -> None:
    dbt_cloud.add_run(12, 3, 10).artifacts = {"manifest.json": b"{}", "run_results.json": b"{}"}
    fast = CloudRetry(attempts=3, base=0.01, cap=0.05, rng=random.Random(1))

    async def get(settings: CloudSettings, path: str = "/runs/12/") -> object:
        async with DbtCloudClient(settings, retry=fast) as client:
            return await client.get(path, "run 12")

    with pytest.raises(DbtCloudUsageError, match=r"refused the API token \(401\).*Invalid token") as caught:
        asyncio.run(get(_settings(dbt_cloud, DBT_CLOUD_API_TOKEN="wrong-one")))
    assert "wrong-one" not in str(caught.value)
    with pytest.raises(DbtCloudUsageError, match=r"refused access \(403\) to run 12"):
        asyncio.run(get(_settings(dbt_cloud, DBT_CLOUD_ACCOUNT_ID="44")))
    with pytest.raises(DbtCloudUsageError, match=rf"knows no run 12 in account {ACCOUNT_ID} \(404"):
        asyncio.run(get(_settings(dbt_cloud), "/runs/999/"))

    dbt_cloud.answers = [429, 500]
    assert isinstance(asyncio.run(get(_settings(dbt_cloud))), dict)  # third try answered
    dbt_cloud.answers = [502, 503, 504]
    with pytest.raises(
        DbtCloudError, match=r"answered GET /api/v2/accounts/43/runs/12/ with 504.*after 3 tries"
    ):
        asyncio.run(get(_settings(dbt_cloud)))
    assert {r.authorization for r in dbt_cloud.requests} >= {f"Token {TOKEN}"}


def test_a_jobs_latest_successful_run(dbt_cloud: FakeDbtCloud, tmp_path: Path) -> None:
    for run_id, status, finished in ((1, 10, "2026-01-02"), (2, 10, "2026-01-03"), (3, 20, "2026-01-04")):
        dbt_cloud.add_run(run_id, 5, status, finished_at=finished).artifacts = {"manifest.json": b"{}"}
    got = asyncio.run(download_run_async(_settings(dbt_cloud), DbtCloudRun(job_id=5), tmp_path))
    assert got.run.run_id == 2
    query = next(r.query for r in dbt_cloud.requests if r.path.endswith("/runs/"))
    assert query == {"job_definition_id": "5", "status": "10", "order_by": "-finished_at", "limit": "1"}
    with pytest.raises(DbtCloudUsageError, match="job 6 has no successful run"):
        download_run(_settings(dbt_cloud), DbtCloudRun(job_id=6), tmp_path)
