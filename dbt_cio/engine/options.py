"""A run's configuration: frozen, checked when built, at the edge (the CLI, or a Python caller).

Settings that can be out of range are checked by their own objects when they are built
(:class:`~dbt_cio.customerio.ratelimit.RateSettings` raises :class:`~dbt_cio.errors.SettingError`), so a
bad value stops the command before the project is loaded.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from dbt_cio.customerio.ratelimit import RateSettings
from dbt_cio.dbt_cloud.settings import DbtCloudRun
from dbt_cio.project import DbtArgs

__all__ = ["SyncOptions"]


def _environment() -> Mapping[str, str]:
    return MappingProxyType(dict(os.environ))


@dataclass(frozen=True)
class SyncOptions:
    """Everything ``dbt-cio sync`` takes besides the project's own files.

    ``dbt`` — the dbt-style arguments (project, profile, target, selection); ``rate`` — how fast to talk to
    Customer.io; ``full_refresh`` — forget the selected syncs' state and resend every row; ``dry_run`` —
    compute and show, send and commit nothing; ``fail_fast`` — stop at the first sync that fails or has
    rejections; ``use_emulator`` — send to a local emulator started for the run; ``ignore_thresholds`` — let
    diffs over a row threshold through, for this run; ``ignore_dbt_results`` — sync models that dbt's last
    results would hold back; ``log_payloads`` — write the payload of every operation to the sync log, as
    ``log: all`` in a block does, for this run; ``output`` — with ``dry_run``, write every operation that would be sent to this
    file, one JSON object per line; ``environ`` — where credentials are read (default: a snapshot of
    ``os.environ`` taken when the options are built); ``notify`` — alert URLs (besides ``DBT_CIO_NOTIFY`` in
    ``environ``, see :mod:`dbt_cio.alerts`); ``invocation_id`` — names the run in its results, logs and alerts;
    ``dbt_cloud`` — sync from this dbt Cloud run's artifacts instead of ``target/`` (``DBT_CLOUD_*`` settings
    read from ``environ``; see :mod:`dbt_cio.engine.cloud_run`).
    """

    dbt: DbtArgs = field(default_factory=DbtArgs)
    rate: RateSettings = field(default_factory=RateSettings)
    full_refresh: bool = False
    dry_run: bool = False
    fail_fast: bool = False
    use_emulator: bool = False
    ignore_thresholds: bool = False
    ignore_dbt_results: bool = False
    log_payloads: bool = False
    output: Path | None = None
    environ: Mapping[str, str] = field(default_factory=_environment, repr=False)  # holds secrets
    notify: tuple[str, ...] = field(default=(), repr=False)  # a webhook URL is a secret
    invocation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    dbt_cloud: DbtCloudRun | None = None
