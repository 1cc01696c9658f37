"""Where dbt-cio may send secrets over plain HTTP: the one home of the "http only to loopback" rule.

Keys travel in headers (Customer.io) and secrets in URLs (a Slack webhook's path) or signatures (alerts):
outside this machine they must go over TLS. Plain ``http://`` is allowed only to a loopback host
(``127.0.0.0/8``, ``::1``, ``localhost``), where the local emulator or a receiver on the same machine listens.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

from dbt_cio.errors import UsageError

__all__ = ["LOOPBACK_NAMES", "check_secure_url", "is_loopback", "public_form"]

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_secure_url(url: str, variable: str, *, example: str) -> SplitResult:
    """``url`` split, when it is an ``http(s)`` URL that may carry secrets; else :class:`UsageError`.

    ``variable`` names where the URL came from and ``example`` shows a good one, in the message. The URL
    itself is never repeated in a message that could hold a secret: only its scheme and host are.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{variable} must be an http(s) URL such as {example}, got {public_form(url)!r}.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(
            f"{variable} uses plain http for host {parts.hostname!r}: only loopback hosts (127.0.0.1, ::1, "
            "localhost) may use http. Use https."
        )
    return parts


def public_form(url: str) -> str:
    """What may be shown of ``url``: its scheme, host and port; the path, query and any user info (which
    may hold a token, as a Slack webhook's path does) are replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "***"
    port = f":{parts.port}" if parts.port else ""
    rest = "/***" if (parts.path.strip("/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{parts.hostname}{port}{rest}"
