"""``dbt-cio serve`` as a real process for end-to-end tests: started on a free port with JSON logs, its events
read as they come, webhooks signed and posted over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from conftest import DBT_CIO, DbtProject

from dbt_cio.serve.webhook import sign

SECRET = "whsec-test-0123456789abcdef"


def completed(event_id: str, job_id: int, run_id: int, *, account: int = 43, status: str = "Success",
              event_type: str = "job.run.completed") -> dict[str, Any]:  # fmt: skip
    """A dbt Cloud webhook body (ids as strings, as dbt Cloud sends them)."""
    return {"accountId": account, "eventId": event_id, "timestamp": "2026-12-01T10:00:00.000000000Z",
            "eventType": event_type, "webhookName": "dbt-cio",
            "data": {"jobId": str(job_id), "jobName": "Daily (dbt build)", "runId": str(run_id),
                     "environmentId": "1234", "environmentName": "Production", "runStatus": status,
                     "runStatusMessage": "None"}}  # fmt: skip


class Server:
    """A running ``dbt-cio serve``; ``events`` holds its JSON log lines as they arrive."""

    def __init__(self, project: DbtProject, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [DBT_CIO, "serve", "--port", "0", "--log-format", "json", *args, *project.flags],
            cwd=project.path,
            env={**os.environ, **project.env, "DBT_CIO_WEBHOOK_SECRET": SECRET, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self.stderr = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        started = self.wait_for("ServeStarted", timeout=60)
        self.url = f"http://127.0.0.1:{started['data']['port']}"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))  # every stdout line is JSON

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["info"]["name"] == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while len(self.named(name)) < count:
            if self.proc.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"serve exited {self.proc.returncode}: {self._stderr()}\n{self.events}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {count} {name} event(s) in {timeout}s: {self.events}")
            time.sleep(0.05)
        return self.named(name)[count - 1]

    def post(
        self, body: dict[str, Any] | bytes, *, signature: str | None = "sign"
    ) -> tuple[int, dict[str, Any]]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            headers["Authorization"] = sign(raw, SECRET)
        elif signature is not None:
            headers["Authorization"] = signature
        return self._call("POST", "/dbt-cloud/webhook", raw, headers)

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        return self._call("GET", path, None, {})

    def runs(self) -> list[dict[str, Any]]:
        return self.get("/runs")[1]["runs"]

    def _call(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def terminate(self, timeout: float = 120) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._reader.join(10)
        return code

    def _stderr(self) -> str:
        if self.proc.poll() is not None and self.proc.stderr is not None:
            self.stderr += self.proc.stderr.read()
        return self.stderr

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
