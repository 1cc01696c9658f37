"""Posting alerts: one POST per alert and target, retried briefly, never raising.

An alert that cannot be delivered must not change how a sync ends: :func:`deliver` tries each target up to
:attr:`DeliverySettings.attempts` times (connection errors, timeouts, 408, 429 and 5xx are retried after
a short, doubling pause; any other answer is final), and returns what failed, with the reason, for the
caller to report. Only the target's public form (scheme and host) appears in a reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from dbt_cio._version import __version__
from dbt_cio.alerts.messages import SIGNATURE_HEADER, Alert, signature, slack_body, webhook_body
from dbt_cio.alerts.targets import AlertSettings, AlertTarget

if TYPE_CHECKING:
    import aiohttp

__all__ = ["DeliverySettings", "Undelivered", "deliver", "describe", "request_for"]

_RETRIED = frozenset({408, 429})


@dataclass(frozen=True)
class DeliverySettings:
    """How hard to try: ``attempts`` per target, the first pause ``backoff`` seconds (then doubled), and
    ``timeout`` seconds per attempt."""

    attempts: int = 3
    backoff: float = 0.5
    timeout: float = 10.0


class Undelivered(NamedTuple):
    """An alert that did not arrive: where it was going (public form) and why."""

    target: str
    reason: str


def request_for(alert: Alert, target: AlertTarget, secret: str | None) -> tuple[bytes, dict[str, str]]:
    """The body and headers ``target`` gets for ``alert`` (a JSON body is signed when there is a secret)."""
    headers = {"Content-Type": "application/json", "User-Agent": f"dbt-cio/{__version__}"}
    if target.format == "slack":
        return slack_body(alert), headers
    body = webhook_body(alert)
    if secret:
        headers[SIGNATURE_HEADER] = signature(body, secret)
    return body, headers


async def deliver(
    alert: Alert,
    settings: AlertSettings,
    delivery: DeliverySettings | None = None,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> list[Undelivered]:
    """Post ``alert`` to every target of ``settings`` at once; return the ones it did not reach."""
    import aiohttp

    delivery = delivery or DeliverySettings()
    timeout = aiohttp.ClientTimeout(total=delivery.timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        outcomes = await asyncio.gather(
            *(_post(session, alert, target, settings.secret, delivery, sleep) for target in settings.targets)
        )
    return [outcome for outcome in outcomes if outcome is not None]


async def _post(
    session: aiohttp.ClientSession,
    alert: Alert,
    target: AlertTarget,
    secret: str | None,
    delivery: DeliverySettings,
    sleep: Callable[[float], Awaitable[None]],
) -> Undelivered | None:
    import aiohttp

    body, headers = request_for(alert, target, secret)
    reason = "not tried"
    for attempt in range(1, delivery.attempts + 1):
        try:
            async with session.post(target.url, data=body, headers=headers, allow_redirects=False) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    return None
                reason = f"answered {resp.status}"
                if resp.status not in _RETRIED and resp.status < 500:
                    break
        except TimeoutError:
            reason = f"no answer within {delivery.timeout:g}s"
        except aiohttp.ClientError as exc:
            reason = f"connection failed ({type(exc).__name__})"
        if attempt < delivery.attempts:
            await sleep(delivery.backoff * 2 ** (attempt - 1))
    tries = f" after {attempt} attempt(s)" if attempt > 1 else ""
    return Undelivered(target.public, f"{reason}{tries}")


def describe(undelivered: Sequence[Undelivered]) -> str:
    """``https://hooks.slack.com/***: answered 404; ...`` for a note."""
    return "; ".join(f"{u.target}: {u.reason}" for u in undelivered)
