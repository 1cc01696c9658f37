"""A local fake of dbt Cloud's Administrative API v2, served over real HTTP on a background thread.

It serves what dbt-cio reads (see ../shared/dbt-cloud/API-NOTES.md): a run, the list of a job's runs
(filtered and ordered as dbt Cloud does), a run's artifact list and its artifacts; it checks the token
(``Authorization: Token ...`` or ``Bearer ...``) and the account, answers errors in dbt Cloud's shape
(``{"status": {"code", "is_success", "user_message"}}``), and can be told to answer the next requests with
given statuses (429s, 5xx). Every request is recorded.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

TOKEN = "dbtc_fake-service-token-3f9a1c"
ACCOUNT_ID = 43


@dataclass
class FakeRun:
    id: int
    job_id: int
    status: int = 10  # 1 queued, 2 starting, 3 running, 10 success, 20 error, 30 cancelled
    finished_at: str | None = "2026-12-01T10:00:00.000000+00:00"
    artifacts: dict[str, bytes] = field(default_factory=dict)

    def as_api(self) -> dict[str, Any]:
        names = {1: "Queued", 2: "Starting", 3: "Running", 10: "Success", 20: "Error", 30: "Cancelled"}
        return {
            "id": self.id,
            "account_id": ACCOUNT_ID,
            "job_definition_id": self.job_id,
            "status": self.status,
            "status_humanized": names[self.status],
            "is_complete": self.status in (10, 20, 30),
            "finished_at": self.finished_at if self.status in (10, 20, 30) else None,
            "href": f"https://cloud.example.invalid/deploy/{ACCOUNT_ID}/runs/{self.id}",
        }


@dataclass
class Request:
    path: str
    query: dict[str, str]
    authorization: str | None


@dataclass
class FakeDbtCloud:
    base_url: str = ""
    runs: dict[int, FakeRun] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses to answer the next requests with, first first

    def add_run(self, run_id: int, job_id: int, status: int = 10, *, target: Path | None = None,
                finished_at: str = "2026-12-01T10:00:00.000000+00:00") -> FakeRun:  # fmt: skip
        """A run; with ``target``, its artifacts are that directory's manifest.json and run_results.json."""
        artifacts = {}
        if target is not None:
            for name in ("manifest.json", "run_results.json"):
                if (target / name).is_file():
                    artifacts[name] = (target / name).read_bytes()
        run = self.runs[run_id] = FakeRun(run_id, job_id, status, finished_at, artifacts)
        return run

    @property
    def env(self) -> dict[str, str]:
        return {"DBT_CLOUD_HOST": self.base_url, "DBT_CLOUD_API_TOKEN": TOKEN,
                "DBT_CLOUD_ACCOUNT_ID": str(ACCOUNT_ID)}  # fmt: skip

    def artifact_requests(self) -> list[str]:
        return [r.path for r in self.requests if "/artifacts/" in r.path]


def _error(status: int, message: str) -> web.Response:
    body = {"status": {"code": status, "is_success": False, "user_message": message, "developer_message": ""},
            "data": None}  # fmt: skip
    return web.json_response(body, status=status)


def _app(fake: FakeDbtCloud) -> web.Application:
    @web.middleware
    async def checks(request: web.Request, handler: Any) -> web.StreamResponse:
        auth = request.headers.get("Authorization")
        fake.requests.append(Request(request.path, dict(request.query), auth))
        if fake.answers:
            status = fake.answers.pop(0)
            response = _error(status, "Rate limited." if status == 429 else "Something went wrong.")
            if status == 429:
                response.headers["Retry-After"] = "0"
            return response
        if auth not in (f"Token {TOKEN}", f"Bearer {TOKEN}"):
            return _error(401, "Invalid token.")
        if request.match_info.get("account") != str(ACCOUNT_ID):
            return _error(403, "You do not have permission to access this account.")
        return await handler(request)

    def run_of(request: web.Request) -> FakeRun | None:
        return fake.runs.get(int(request.match_info["run"]))

    async def get_run(request: web.Request) -> web.Response:
        run = run_of(request)
        if run is None:
            return _error(404, "The requested resource was not found.")
        return web.json_response({"status": {"code": 200, "is_success": True}, "data": run.as_api()})

    async def list_runs(request: web.Request) -> web.Response:
        runs = list(fake.runs.values())
        if "job_definition_id" in request.query:
            runs = [r for r in runs if r.job_id == int(request.query["job_definition_id"])]
        if "status" in request.query:
            runs = [r for r in runs if r.status == int(request.query["status"])]
        order = request.query.get("order_by", "id")
        key = order.lstrip("-")
        runs.sort(
            key=lambda r: (getattr(r, key) or "") if key == "finished_at" else r.id,
            reverse=order.startswith("-"),
        )
        runs = runs[: int(request.query.get("limit", "100"))]
        return web.json_response(
            {"status": {"code": 200, "is_success": True}, "data": [r.as_api() for r in runs]}
        )

    async def list_artifacts(request: web.Request) -> web.Response:
        run = run_of(request)
        if run is None:
            return _error(404, "The requested resource was not found.")
        return web.json_response({"status": {"code": 200, "is_success": True}, "data": sorted(run.artifacts)})

    async def get_artifact(request: web.Request) -> web.Response:
        run = run_of(request)
        body = run.artifacts.get(request.match_info["path"]) if run is not None else None
        if body is None:
            return _error(404, "The requested resource was not found.")
        return web.Response(body=body, content_type="application/json")

    app = web.Application(middlewares=[checks])
    base = "/api/v2/accounts/{account}"
    app.router.add_get(f"{base}/runs/", list_runs)
    app.router.add_get(f"{base}/runs/{{run:\\d+}}/", get_run)
    app.router.add_get(f"{base}/runs/{{run:\\d+}}/artifacts/", list_artifacts)
    app.router.add_get(f"{base}/runs/{{run:\\d+}}/artifacts/{{path:.+}}", get_artifact)
    return app


@contextmanager
def serve_fake() -> Iterator[FakeDbtCloud]:
    """The fake, listening on 127.0.0.1 (a free port) for as long as the block lasts."""
    fake = FakeDbtCloud()
    ready, stop = threading.Event(), threading.Event()
    loop_box: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        runner = web.AppRunner(_app(fake), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        fake.base_url = f"http://127.0.0.1:{port}"
        loop_box.append(asyncio.get_running_loop())
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await runner.cleanup()

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="fake-dbt-cloud", daemon=True)
    thread.start()
    assert ready.wait(30), "the fake dbt Cloud did not start"
    try:
        yield fake
    finally:
        stop.set()
        thread.join(30)
