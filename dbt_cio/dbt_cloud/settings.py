"""Which dbt Cloud run a sync reads, and how to reach dbt Cloud's Administrative API.

The variables are the conventional ones (dbt-cloud-cli, Airflow, Dagster and Prefect integrations read the
same): ``DBT_CLOUD_HOST`` (default ``cloud.getdbt.com``; a host name such as ``emea.dbt.com`` or
``ab123.us1.dbt.com``, or a full URL — plain ``http://`` only to a loopback host, as for every URL that
carries a secret, see :mod:`dbt_cio.urls`), ``DBT_CLOUD_API_TOKEN`` (a service token that can read the
account's runs) and ``DBT_CLOUD_ACCOUNT_ID``. The token never appears in a ``repr``, a message or a log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from dbt_cio.errors import DbtCloudUsageError, UsageError
from dbt_cio.urls import check_base_url

__all__ = [
    "ACCOUNT_VARIABLE",
    "DEFAULT_HOST",
    "HOST_VARIABLE",
    "TOKEN_VARIABLE",
    "CloudSettings",
    "DbtCloudRun",
]

HOST_VARIABLE = "DBT_CLOUD_HOST"
TOKEN_VARIABLE = "DBT_CLOUD_API_TOKEN"
ACCOUNT_VARIABLE = "DBT_CLOUD_ACCOUNT_ID"
DEFAULT_HOST = "cloud.getdbt.com"
"""dbt Cloud's US multi-tenant host; EMEA, AU and cell hosts (``ACCOUNT_PREFIX.us1.dbt.com``) must be set."""


@dataclass(frozen=True)
class DbtCloudRun:
    """The dbt Cloud run whose artifacts a sync reads: ``run_id``, or ``job_id`` for that job's most recent
    successful run. Exactly one of them, a positive integer."""

    run_id: int | None = None
    job_id: int | None = None

    def __post_init__(self) -> None:
        given = [name for name in ("run_id", "job_id") if getattr(self, name) is not None]
        if len(given) != 1:
            raise UsageError(
                "name one dbt Cloud run: a run id (--dbt-cloud-run) or a job id (--dbt-cloud-job)"
            )
        value = getattr(self, given[0])
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(
                f"dbt Cloud {given[0].replace('_', ' ')} must be a positive integer, got {value!r}"
            )

    def describe(self) -> str:
        if self.run_id is not None:
            return f"dbt Cloud run {self.run_id}"
        return f"the latest successful run of dbt Cloud job {self.job_id}"


@dataclass(frozen=True)
class CloudSettings:
    """Where dbt Cloud's API is and how to authenticate: checked when built (:meth:`from_env`)."""

    base_url: str
    account_id: int
    token: str = field(repr=False)

    def __repr__(self) -> str:
        return f"CloudSettings(base_url={self.base_url!r}, account_id={self.account_id!r}, token='***')"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CloudSettings:
        """The settings in ``environ`` (default: the process environment); every missing or bad variable is
        named in one :class:`~dbt_cio.errors.UsageError`."""
        env = os.environ if environ is None else environ
        problems: list[str] = []
        host = (env.get(HOST_VARIABLE) or "").strip() or DEFAULT_HOST
        base_url = ""
        try:
            base_url = base_url_of(host)
        except UsageError as exc:
            problems.append(str(exc))
        token = (env.get(TOKEN_VARIABLE) or "").strip()
        if not token:
            problems.append(
                f"set {TOKEN_VARIABLE} to a dbt Cloud service token that can read the account's runs"
            )
        raw_account = (env.get(ACCOUNT_VARIABLE) or "").strip()
        account = 0
        if not raw_account:
            problems.append(f"set {ACCOUNT_VARIABLE} to your dbt Cloud account id (a number, as in its URLs)")
        elif not raw_account.isdigit() or int(raw_account) < 1:
            problems.append(f"{ACCOUNT_VARIABLE} must be a positive number, got {raw_account!r}")
        else:
            account = int(raw_account)
        if problems:
            raise DbtCloudUsageError("dbt Cloud settings: " + "; ".join(problems) + ".")
        return cls(base_url=base_url, account_id=account, token=token)

    @property
    def account_url(self) -> str:
        """The Administrative API v2 base of the account: ``https://HOST/api/v2/accounts/ID``."""
        return f"{self.base_url}/api/v2/accounts/{self.account_id}"


def base_url_of(host: str) -> str:
    """``DBT_CLOUD_HOST`` as a base URL: a bare host name (``emea.dbt.com``, with a port if need be) means
    ``https://`` that host; a URL is checked as every URL that carries a secret is."""
    value = host if "://" in host else f"https://{host}"
    return check_base_url(value, HOST_VARIABLE, example="cloud.getdbt.com or https://emea.dbt.com")
