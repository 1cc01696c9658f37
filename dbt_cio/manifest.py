"""The dbt manifest dbt-cio works from: when ``target/manifest.json`` can be used as it is, reading it, and having
dbt parse the project again when it cannot.

``target/manifest.json`` is read as it is when it is *current*, and dbt parses the project again
(``dbt parse``, with its own partial parsing) when it is *stale*. A manifest is stale when:

1. it is missing;
2. any file under the project's model, seed, macro, snapshot, analysis, test or package-install
   paths, or ``dbt_project.yml``, ``packages.yml``, ``dependencies.yml``, ``selectors.yml`` or the
   ``profiles.yml`` in use, is newer than it;
3. it was written by a different adapter type than the target's;
4. it was written for another target: a model without a custom schema or database config sits in a
   schema (or database) other than the target's (so a project overriding ``generate_schema_name`` may
   re-parse more often than needed; never less);
5. ``--vars`` was given and they are not the vars of the dbt command that wrote it (vars can change what dbt
   parses; the manifest does not record them, but that command's ``run_results.json`` does, under the same
   invocation id).

"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbt_cio.errors import UsageError, gist

if TYPE_CHECKING:  # heavy imports stay out of `--help`
    from dbt.config.runtime import RuntimeConfig
    from dbt.contracts.graph.manifest import Manifest

    from dbt_cio.run_results import DbtRunResults

__all__ = ["is_model", "other_target", "parse_project", "read_manifest", "stale_reason", "vars_reason"]

_PROJECT_FILES = ("dbt_project.yml", "packages.yml", "dependencies.yml", "selectors.yml")


def is_model(resource_type: object) -> bool:
    return str(getattr(resource_type, "value", resource_type)) == "model"


def _watched_files(config: RuntimeConfig, flags: Any) -> Iterator[Path]:
    """The files whose change makes a manifest stale (see the module docstring)."""
    root = Path(config.project_root)
    for name in _PROJECT_FILES:
        yield root / name
    yield Path(flags.PROFILES_DIR) / "profiles.yml"
    dirs: list[str] = [
        *config.model_paths, *config.seed_paths, *config.macro_paths, *config.snapshot_paths,
        *config.analysis_paths, *config.test_paths, config.packages_install_path,
    ]  # fmt: skip
    for directory in dict.fromkeys(dirs):
        base = root / directory
        for dirpath, _dirnames, filenames in os.walk(base):
            for filename in filenames:
                yield Path(dirpath) / filename


def stale_reason(path: Path, config: RuntimeConfig, flags: Any) -> str | None:
    """Why the manifest at ``path`` cannot be used as it is (its files), or None when it is current."""
    if not path.is_file():
        return "no manifest"
    written = path.stat().st_mtime
    for file in _watched_files(config, flags):
        try:
            if file.stat().st_mtime > written:
                return f"{file} changed"
        except OSError:
            continue
    return None


def vars_reason(manifest: Manifest, results: DbtRunResults | None, cli_vars: Mapping[str, Any]) -> str | None:
    """Why a manifest cannot be used with ``--vars`` ``cli_vars`` (None: the dbt command that wrote it ran with
    the same vars). ``results`` is ``run_results.json`` beside it: only when it comes from the same invocation
    does it say which vars the manifest was parsed with."""
    invocation = getattr(manifest.metadata, "invocation_id", None)
    if results is None or not invocation or results.invocation_id != str(invocation) or results.vars is None:
        return (
            "--vars given, and no run_results.json of the dbt command that wrote the manifest says its vars"
        )
    if dict(results.vars) != dict(cli_vars):
        return "--vars differ from those of the dbt command that wrote the manifest"
    return None


def other_target(manifest: Manifest, config: RuntimeConfig) -> bool:
    """Whether a plain model (no custom schema/database) sits outside the target's schema or database."""
    schema = str(config.credentials.schema).lower()
    database = getattr(config.credentials, "database", None)
    for node in manifest.nodes.values():
        if not is_model(node.resource_type) or node.config.schema or node.config.database:
            continue
        if str(node.schema).lower() != schema:
            return True
        if database and node.database and str(node.database).lower() != str(database).lower():
            return True
    return False


def read_manifest(path: Path) -> Manifest:
    from dbt.artifacts.schemas.manifest import WritableManifest
    from dbt.contracts.graph.manifest import Manifest
    from dbt_common.exceptions import DbtBaseException

    try:
        writable = WritableManifest.read_and_check_versions(str(path))
        manifest = Manifest.from_writable_manifest(writable)
    except DbtBaseException as exc:
        raise UsageError(f"cannot read {path}: {gist(exc)}. Run dbt parse (or dbt run) again.") from exc
    # dbt < 1.10 drops the metadata (adapter_type included) in from_writable_manifest: keep the file's
    manifest.metadata = writable.metadata
    return manifest


def parse_project(argv: Sequence[str]) -> Manifest:
    """Have dbt parse the project (``dbt parse`` with the project's dbt arguments ``argv``: partial parsing,
    writes target/manifest.json)."""
    from dbt.cli.main import dbtRunner
    from dbt.contracts.graph.manifest import Manifest

    result = dbtRunner().invoke(["parse", *argv, "--log-level", "none"])
    if not result.success or not isinstance(result.result, Manifest):
        detail = gist(result.exception) if result.exception else "see logs/dbt.log"
        raise UsageError(f"dbt could not parse the project: {detail}")
    return result.result
