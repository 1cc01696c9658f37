"""Base URLs that dbt-cio sends secrets to: the one rule for which may be used.

Keys and tokens travel in request headers (Customer.io's keys, dbt Cloud's API token), so a base URL must be
``https`` — plain ``http`` only to a loopback host (127.0.0.1, ::1, localhost): the local Customer.io
emulator, a local fake of dbt Cloud, or a proxy on the same machine. A URL must not carry credentials, a
query or a fragment. Every place that takes a base URL from the user checks it here; an alert URL
(:mod:`dbt_cio.alerts.targets`) is checked by its origin, as its path and query may hold its token, and
:func:`public_form` is all of such a URL that may ever be shown.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from dbt_cio.errors import UsageError

__all__ = ["check_base_url", "is_loopback", "public_form"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine's loopback."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, variable: str, example: str = "https://track.customer.io") -> str:
    """Return ``url`` without a trailing slash, or raise :class:`UsageError` naming ``variable`` if it may not
    be used (see the module docstring); ``example`` shows the expected form in the message."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{variable} must be an http(s) URL such as {example}, got {url!r}.")
    if parts.username or parts.password:
        raise UsageError(f"{variable} must not contain credentials; set the key variables instead.")
    if parts.query or parts.fragment:
        raise UsageError(f"{variable} must be a base URL without query or fragment, got {url!r}.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(
            f"{variable} uses plain http for host {parts.hostname!r}: only loopback hosts (127.0.0.1, ::1, "
            "localhost) may use http. Use https."
        )
    return url.rstrip("/")


def public_form(url: str) -> str:
    """What may be shown of ``url``: its scheme, host and port; the path, query and any user info (which
    may hold a token, as a Slack webhook's path does) are replaced by ``***``."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number
        port = ""
    if not parts.scheme or not parts.hostname:
        return "***"
    rest = "/***" if (parts.path.strip("/") or parts.query or parts.fragment) else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}{port}{rest}"
