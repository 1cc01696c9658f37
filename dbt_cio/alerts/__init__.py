"""Alerts: a short message per sync that fails, and one when it recovers, to Slack or to any webhook.

``targets`` reads where to send (``--notify URL``, ``DBT_CIO_NOTIFY``) and checks each URL; ``messages``
builds the bodies (pure: a Slack message, or a JSON document signed with HMAC-SHA256); ``delivery`` posts
them, retrying briefly, and reports what could not be delivered instead of raising. When to alert is the
engine's decision (:mod:`dbt_cio.engine.notify`). Nothing here prints a URL's path or the signing secret.
"""

from __future__ import annotations

from dbt_cio.alerts.messages import Alert, signature
from dbt_cio.alerts.targets import AlertSettings, AlertTarget

__all__ = ["Alert", "AlertSettings", "AlertTarget", "signature"]
