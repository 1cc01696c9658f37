"""``dbt-cio serve``: a small web server that a dbt Cloud webhook calls when a job finishes, and that syncs
from that run's artifacts.

- :mod:`~dbt_cio.serve.webhook` — a delivery, pure: its signature (hex HMAC-SHA256 of the raw body, keyed
  with ``DBT_CIO_WEBHOOK_SECRET``, compared in constant time) and its event;
- :mod:`~dbt_cio.serve.routes` — which jobs sync what (``--job JOB_ID=SELECTION``, or every job);
- :mod:`~dbt_cio.serve.queue` — one sync at a time, at most one waiting per selection, a bounded queue, and
  the recent runs;
- :mod:`~dbt_cio.serve.app` — the HTTP routes (``POST /dbt-cloud/webhook``, ``GET /healthz``, ``GET /runs``);
- :mod:`~dbt_cio.serve.server` — the process: the server, the worker that runs syncs, SIGTERM.
"""

from __future__ import annotations

from dbt_cio.serve.app import ServeLog
from dbt_cio.serve.routes import JobRoutes
from dbt_cio.serve.server import ServeSettings, serve

__all__ = ["JobRoutes", "ServeLog", "ServeSettings", "serve"]
