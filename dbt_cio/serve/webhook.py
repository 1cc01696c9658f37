"""One dbt Cloud webhook delivery, pure: is it signed with our secret, and what event does it carry.

dbt Cloud signs each delivery: the ``Authorization`` header holds the hex HMAC-SHA256 of the raw request body,
keyed with the webhook's secret token. :func:`verify` recomputes it and compares in constant time, so the time
taken says nothing about how much of a guess was right. The body (see ../shared/dbt-cloud/API-NOTES.md) names
the event (``eventType``, ``eventId``, stable across dbt Cloud's retries of one delivery), the account, and
under ``data`` the job and run, whose ids arrive as strings.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["JOB_RUN_COMPLETED", "BadEvent", "WebhookEvent", "sign", "verify"]

JOB_RUN_COMPLETED = "job.run.completed"
"""The event dbt-cio acts on: a job's run finished, successfully or not."""


def sign(body: bytes, secret: str) -> str:
    """The signature dbt Cloud sends for ``body``: hex HMAC-SHA256 keyed with ``secret``."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """Whether ``header`` (the ``Authorization`` value) is ``body``'s signature with ``secret``."""
    if not header or not secret:
        return False
    given = header.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(sign(body, secret).encode("ascii"), given)


class BadEvent(ValueError):
    """A signed body that is not a dbt Cloud webhook event."""


@dataclass(frozen=True)
class WebhookEvent:
    """The fields of a delivery that dbt-cio uses."""

    event_id: str
    event_type: str
    account_id: int | None
    job_id: int | None
    run_id: int | None
    run_status: str | None = None
    job_name: str | None = None

    @classmethod
    def parse(cls, body: bytes) -> WebhookEvent:
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise BadEvent(f"the body is not JSON ({exc})") from None
        if not isinstance(document, dict):
            raise BadEvent("the body is not a JSON object")
        event_id, event_type = document.get("eventId"), document.get("eventType")
        if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
            raise BadEvent("the body has no eventId or eventType")
        data: dict[str, Any] = document["data"] if isinstance(document.get("data"), dict) else {}
        return cls(
            event_id=event_id,
            event_type=event_type,
            account_id=_id(document.get("accountId")),
            job_id=_id(data.get("jobId")),
            run_id=_id(data.get("runId")),
            run_status=_text(data.get("runStatus")),
            job_name=_text(data.get("jobName")),
        )


def _id(value: Any) -> int | None:
    """An id as dbt Cloud sends it (a string of digits, sometimes a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) else None
