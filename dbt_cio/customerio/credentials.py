"""Workspace credentials, region and base URLs, read from the environment.

Credentials never live in the project files: a sync names a *workspace* (``default`` unless told) and the
keys come from environment variables. The default workspace reads ``CUSTOMERIO_SITE_ID``,
``CUSTOMERIO_API_KEY``, ``CUSTOMERIO_APP_API_KEY`` and ``CUSTOMERIO_REGION``; a workspace called ``acme``
reads ``CUSTOMERIO_ACME_SITE_ID`` and so on. ``CUSTOMERIO_TRACK_URL`` / ``CUSTOMERIO_APP_URL`` (or their
workspace-specific forms) point the client at the emulator or at a proxy (checked by
:func:`dbt_cio.urls.check_base_url`: plain http only to loopback).

Secrets are kept out of every ``repr``, ``str`` and error message: a leaked repr in a log line or a
traceback must never expose a key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

from dbt_cio.errors import UsageError
from dbt_cio.urls import check_base_url

__all__ = [
    "APP_URLS",
    "DEFAULT_REGION",
    "DEFAULT_WORKSPACE",
    "TRACK_URLS",
    "Credentials",
    "Region",
    "check_base_url",
    "env_prefix",
]

Region = Literal["us", "eu", "auto"]
REGIONS: tuple[str, ...] = ("us", "eu", "auto")
DEFAULT_REGION: Region = "auto"
DEFAULT_WORKSPACE = "default"
"""The workspace a sync uses unless its block names one; it reads the unprefixed variables."""

TRACK_URLS: Mapping[str, str] = {"us": "https://track.customer.io", "eu": "https://track-eu.customer.io"}
APP_URLS: Mapping[str, str] = {"us": "https://api.customer.io", "eu": "https://api-eu.customer.io"}

_WORKSPACE_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def env_prefix(workspace: str) -> str:
    """The environment variable prefix of a workspace: ``CUSTOMERIO_`` or ``CUSTOMERIO_<NAME>_``.

    Dashes become underscores so a workspace called ``acme-eu`` reads ``CUSTOMERIO_ACME_EU_SITE_ID``.
    """
    if workspace == DEFAULT_WORKSPACE:
        return "CUSTOMERIO_"
    if not _WORKSPACE_RE.match(workspace):
        raise UsageError(
            f"workspace name {workspace!r} is not usable: use letters, digits, '_' and '-' only "
            "(it becomes part of environment variable names)."
        )
    return f"CUSTOMERIO_{workspace.upper().replace('-', '_')}_"


@dataclass(frozen=True)
class Credentials:
    """The keys and addresses of one Customer.io workspace.

    ``region`` is ``us``, ``eu`` or ``auto`` (ask Customer.io with ``GET /api/v1/accounts/region``).
    ``track_url`` / ``app_url`` override the regional hosts (emulator, proxy); when only ``track_url`` is
    set, the App API is assumed to live on the same base URL, which is how the emulator serves both.
    """

    site_id: str
    api_key: str = field(repr=False)
    app_api_key: str | None = field(default=None, repr=False)
    region: Region = DEFAULT_REGION
    track_url: str | None = None
    app_url: str | None = None
    workspace: str = DEFAULT_WORKSPACE

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise UsageError(f"region must be one of us, eu, auto; got {self.region!r}.")
        if not self.site_id or not self.api_key:
            raise UsageError(f"workspace {self.workspace!r}: site id and API key must not be empty.")
        if self.track_url is not None:
            object.__setattr__(self, "track_url", check_base_url(self.track_url, "track_url"))
        if self.app_url is not None:
            object.__setattr__(self, "app_url", check_base_url(self.app_url, "app_url"))

    def __repr__(self) -> str:
        app = "'***'" if self.app_api_key else "None"
        return (
            f"Credentials(workspace={self.workspace!r}, site_id={self.site_id!r}, api_key='***', "
            f"app_api_key={app}, region={self.region!r}, track_url={self.track_url!r}, app_url={self.app_url!r})"
        )

    __str__ = __repr__

    @classmethod
    def from_env(
        cls, workspace: str = DEFAULT_WORKSPACE, environ: Mapping[str, str] | None = None
    ) -> Credentials:
        """Read one workspace's credentials from ``environ`` (default: ``os.environ``).

        Every missing variable is named in one :class:`UsageError` (never a value). Region and base URLs of
        a named workspace fall back to the unprefixed variables, so one ``CUSTOMERIO_TRACK_URL`` points all
        workspaces at the emulator; keys never fall back, so a workspace cannot borrow another's key.
        """
        env = os.environ if environ is None else environ
        prefix = env_prefix(workspace)

        def setting(name: str) -> str | None:
            value = env.get(prefix + name) or None
            if value is None and prefix != "CUSTOMERIO_":
                value = env.get("CUSTOMERIO_" + name) or None
            return value

        missing = [prefix + name for name in ("SITE_ID", "API_KEY") if not env.get(prefix + name)]
        if missing:
            raise UsageError(
                f"Customer.io credentials for workspace {workspace!r} are incomplete: set "
                f"{' and '.join(missing)} in the environment."
            )
        region = (setting("REGION") or DEFAULT_REGION).lower()
        if region not in REGIONS:
            raise UsageError(f"{prefix}REGION must be us, eu or auto, got {region!r}.")
        track_url = setting("TRACK_URL")
        app_url = setting("APP_URL")
        return cls(
            site_id=env[prefix + "SITE_ID"],
            api_key=env[prefix + "API_KEY"],
            app_api_key=env.get(prefix + "APP_API_KEY") or None,
            region=cast(Region, region),
            track_url=check_base_url(track_url, prefix + "TRACK_URL") if track_url else None,
            app_url=check_base_url(app_url, prefix + "APP_URL") if app_url else None,
            workspace=workspace,
        )

    def track_base(self, region: str) -> str:
        """The Track API base URL to use once the region is known."""
        return self.track_url or TRACK_URLS[region]

    def app_base(self, region: str) -> str:
        """The App API base URL to use once the region is known."""
        return self.app_url or self.track_url or APP_URLS[region]
