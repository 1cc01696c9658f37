"""What an alert says: one :class:`Alert` per sync and run, as a Slack message or a signed JSON document.

Pure functions, no I/O. An alert carries the sync, its model, how it ended, its counts, the most common
rejection reasons (reason and count only: no key, since a key can be a person's email) and the run's ids.

The JSON body is signed, when a secret is set, with HMAC-SHA256 over the exact bytes sent, in the header
``X-Dbt-Cio-Signature: sha256=<hex digest>``; a receiver recomputes it with the shared secret and
compares in constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from dbt_cio._version import __version__

__all__ = ["SIGNATURE_HEADER", "Alert", "AlertKind", "signature", "slack_body", "webhook_body"]

SIGNATURE_HEADER = "X-Dbt-Cio-Signature"
AlertKind = Literal["failure", "recovery"]
MESSAGE_LIMIT = 1000
_EVENTS: Mapping[str, str] = {"failure": "sync.failed", "recovery": "sync.recovered"}
_HEADLINES: Mapping[str, str] = {
    "error": "failed",
    "aborted": "was aborted by a row threshold",
    "rejected": "had rejected rows",
    "warn": "had rejected rows (on_rejections: warn)",
    "skipped": "was held back",
    "success": "recovered",
}


@dataclass(frozen=True)
class Alert:
    """One sync's alert for one run.

    ``kind`` is ``failure`` (it failed, was aborted or held back, or had rejections) or ``recovery`` (its
    first clean run after an alerted one); ``status`` is the sync's status in the run; ``reasons`` are
    ``(reason, count)`` pairs, most common first.
    """

    kind: AlertKind
    sync: str
    model: str
    status: str
    message: str | None
    counts: Mapping[str, int]
    reasons: Sequence[tuple[str, int]]
    run_id: str | None
    invocation_id: str
    project: str | None = None
    target: str | None = None
    sent_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def headline(self) -> str:
        """``dbt-cio: sync cio_people (model cio_people) failed``."""
        what = _HEADLINES.get(self.status, f"ended with status {self.status}")
        where = f" on target {self.target}" if self.target else ""
        return f"dbt-cio: sync {self.sync} (model {self.model}){where} {what}"

    def as_json(self) -> dict[str, Any]:
        """The JSON document a webhook receives (docs/observability.md lists its fields)."""
        return {
            "event": _EVENTS[self.kind],
            "sync": self.sync,
            "model": self.model,
            "status": self.status,
            "message": _clip(self.message),
            "counts": dict(self.counts),
            "top_rejection_reasons": [{"reason": reason, "count": count} for reason, count in self.reasons],
            "run_id": self.run_id,
            "invocation_id": self.invocation_id,
            "project": self.project,
            "target": self.target,
            "dbt_cio_version": __version__,
            "sent_at": self.sent_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }


def webhook_body(alert: Alert) -> bytes:
    """The exact bytes a webhook receives (and that the signature covers)."""
    return json.dumps(alert.as_json(), separators=(",", ":"), sort_keys=True).encode()


def signature(body: bytes, secret: str) -> str:
    """The ``X-Dbt-Cio-Signature`` value of ``body``: ``sha256=`` and the HMAC-SHA256 hex digest."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def slack_body(alert: Alert) -> bytes:
    """A Slack incoming-webhook message (``text`` in Slack's mrkdwn, which Mattermost also reads)."""
    icon = ":white_check_mark:" if alert.kind == "recovery" else ":rotating_light:"
    lines = [f"{icon} *{_escape(alert.headline)}*"]
    if alert.message and alert.kind == "failure":
        lines.append(_escape(_clip(alert.message) or ""))
    counts = alert.counts
    if any(counts.values()):
        lines.append(
            ", ".join(
                f"{name} {counts[name]}"
                for name in ("added", "changed", "removed", "accepted", "rejected")
                if name in counts
            )
        )
    for reason, count in alert.reasons:
        lines.append(f"• {count} × {_escape(reason)}")
    ids = f"run {alert.run_id}, " if alert.run_id else ""
    lines.append(f"_{ids}invocation {alert.invocation_id}_")
    return json.dumps({"text": "\n".join(lines)}, separators=(",", ":")).encode()


def _escape(text: str) -> str:
    """Slack's three control characters, escaped as its formatting rules ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MESSAGE_LIMIT:
        return text
    return text[: MESSAGE_LIMIT - 1] + "…"
