"""The project a command works on: the local one, or the local checkout with a dbt Cloud run's artifacts.

With a :class:`~dbt_cio.dbt_cloud.DbtCloudRun`, :func:`open_project` downloads the run's ``manifest.json``
and ``run_results.json`` (:mod:`dbt_cio.dbt_cloud`) into a temporary directory and loads the project with
them (:class:`~dbt_cio.run_results.GivenArtifacts`): the manifest is used as it is (nothing is parsed
locally, no ``target/`` is needed), the local checkout supplies ``dbt_project.yml`` and the profile supplies
the warehouse connection. The run's results gate the syncs as local results do; a run that did not succeed
gates strictly (only the models it built and tested may sync).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping
from pathlib import Path

from dbt_cio.dbt_cloud import CloudSettings, DbtCloudRun, download_run
from dbt_cio.engine.observer import Observer
from dbt_cio.project import DbtArgs, Project
from dbt_cio.run_results import DbtRunResults, GivenArtifacts

__all__ = ["fetch_artifacts", "open_project"]


def open_project(
    dbt: DbtArgs, dbt_cloud: DbtCloudRun | None, environ: Mapping[str, str], observer: Observer
) -> Project:
    """Load the project: from ``target/`` as usual, or with the artifacts of ``dbt_cloud`` (settings read from
    ``environ``). Raises :class:`~dbt_cio.errors.UsageError` for a refused token, an unknown run or job, or a
    run not finished; :class:`~dbt_cio.errors.DbtCloudError` when dbt Cloud cannot be reached."""
    if dbt_cloud is None:
        with observer.phase("loading the project"):
            return Project.load(dbt)
    settings = CloudSettings.from_env(environ)
    with tempfile.TemporaryDirectory(prefix="dbt-cio-cloud-") as directory:
        given = fetch_artifacts(settings, dbt_cloud, Path(directory), observer)
        with observer.phase("loading the project"):
            return Project.load(dbt, given)  # reads the manifest before the directory goes


def fetch_artifacts(
    settings: CloudSettings, dbt_cloud: DbtCloudRun, directory: Path, observer: Observer
) -> GivenArtifacts:
    """Download the run's artifacts into ``directory`` and say which run they come from."""
    with observer.phase(f"downloading the artifacts of {dbt_cloud.describe()}"):
        downloaded = download_run(settings, dbt_cloud, directory)
    origin = downloaded.run.describe()
    results = None
    if downloaded.run_results is not None:
        read = DbtRunResults.read(downloaded.run_results)
        results = dataclasses.replace(read, source=origin) if read is not None else None
    observer.info(
        f"Project state from {origin}: its manifest.json is used as it is (nothing parsed locally)."
    )
    return GivenArtifacts(downloaded.manifest, results, origin, complete=downloaded.run.succeeded)
