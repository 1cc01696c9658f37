"""Where alerts go: ``--notify URL`` (repeatable) and ``DBT_CIO_NOTIFY`` (comma separated), checked once.

A URL on Slack's incoming-webhook host (``hooks.slack.com``) gets a Slack message; so does any URL written
with a ``slack+`` prefix (``slack+https://chat.example.com/hooks/...``), for Slack-compatible receivers
such as Mattermost. Every other URL gets dbt-cio's JSON body, signed when ``DBT_CIO_NOTIFY_SECRET`` is set.
Plain ``http://`` is allowed only to loopback hosts (:mod:`dbt_cio.urls`). A webhook URL is a secret (a
Slack webhook's path is its key): only :attr:`AlertTarget.public` (scheme and host) is ever shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from dbt_cio.errors import UsageError
from dbt_cio.urls import check_base_url, public_form

__all__ = ["NOTIFY_VARIABLE", "SECRET_VARIABLE", "SLACK_HOSTS", "AlertSettings", "AlertTarget", "Format"]

NOTIFY_VARIABLE = "DBT_CIO_NOTIFY"
SECRET_VARIABLE = "DBT_CIO_NOTIFY_SECRET"
SLACK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
SLACK_PREFIX = "slack+"
Format = Literal["slack", "webhook"]


@dataclass(frozen=True)
class AlertTarget:
    """One place alerts go: its URL (a secret, never in a repr) and the body it takes."""

    url: str = field(repr=False)
    format: Format

    @classmethod
    def parse(cls, text: str, source: str) -> AlertTarget:
        """A target from ``--notify`` or ``DBT_CIO_NOTIFY`` (named by ``source`` in errors)."""
        url = text.strip()
        forced = url.lower().startswith(SLACK_PREFIX)
        if forced:
            url = url[len(SLACK_PREFIX) :]
        parts = urlsplit(url)
        example = "https://hooks.slack.com/services/..."
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"{source} must be an http(s) URL such as {example}, got {public_form(url)!r}.")
        if parts.username or parts.password:
            raise UsageError(f"{source} must not contain user credentials in the URL ({public_form(url)}).")
        # the one rule for URLs that carry secrets, applied to the origin (the path and query are the token's)
        check_base_url(f"{parts.scheme}://{parts.netloc}", source, example)
        slack = forced or (parts.scheme == "https" and (parts.hostname or "").lower() in SLACK_HOSTS)
        return cls(url=url, format="slack" if slack else "webhook")

    @property
    def public(self) -> str:
        """What may be shown of the URL: scheme, host and port."""
        return public_form(self.url)

    def __repr__(self) -> str:
        return f"AlertTarget({self.public!r}, format={self.format!r})"


@dataclass(frozen=True)
class AlertSettings:
    """Every alert target of a run, and the secret that signs JSON bodies (never in a repr)."""

    targets: tuple[AlertTarget, ...] = ()
    secret: str | None = field(default=None, repr=False)

    def __bool__(self) -> bool:
        return bool(self.targets)

    @classmethod
    def from_config(cls, urls: Sequence[str], environ: Mapping[str, str]) -> AlertSettings:
        """The ``--notify`` URLs plus those in ``DBT_CIO_NOTIFY``, each checked (a bad one is a usage
        error, before anything runs); the same URL given twice is alerted once."""
        targets: dict[str, AlertTarget] = {}
        given = [(url, "--notify") for url in urls]
        given += [(url, NOTIFY_VARIABLE) for url in (environ.get(NOTIFY_VARIABLE) or "").split(",")]
        for text, source in given:
            if text.strip():
                target = AlertTarget.parse(text, source)
                targets.setdefault(f"{target.format} {target.url}", target)
        return cls(tuple(targets.values()), environ.get(SECRET_VARIABLE) or None)
