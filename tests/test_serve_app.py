"""The server's HTTP routes over real HTTP (aiohttp's test server), with a queue no worker takes from."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dbt_cio.serve.app import ServerState, build_app
from dbt_cio.serve.queue import SyncQueue
from dbt_cio.serve.routes import JobRoutes
from dbt_cio.serve.webhook import sign

SECRET = "whsec-app-0123456789"


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def event(self, name: str, msg: str, level: str = "info", /, **data: Any) -> None:
        self.events.append((name, msg, data))

    def summary(self, outcomes: Any, *, dry_run: bool = False) -> None:
        pass


@pytest.fixture
async def served() -> AsyncIterator[tuple[TestClient[Any, Any], ServerState]]:
    state = ServerState(
        SECRET, 43, JobRoutes.parse(["7=tag:cio", "8=tag:cio", "9=cio_people"]), SyncQueue(1), Log()
    )
    async with TestClient(TestServer(build_app(state))) as client:
        yield client, state


def _event(event_id: str, job: int, run: int) -> bytes:
    return json.dumps({"accountId": 43, "eventId": event_id, "eventType": "job.run.completed",
                       "data": {"jobId": str(job), "runId": str(run)}}).encode()  # fmt: skip


async def _post(client: TestClient[Any, Any], body: bytes, secret: str = SECRET) -> tuple[int, Any]:
    resp = await client.post("/dbt-cloud/webhook", data=body, headers={"Authorization": sign(body, secret)})
    return resp.status, await resp.json()


async def test_a_full_queue_answers_503_and_forgets_the_event(
    served: tuple[TestClient[Any, Any], ServerState],
) -> None:
    client, state = served
    assert (await _post(client, _event("a", 7, 1)))[0] == 202
    assert (await _post(client, _event("b", 8, 2)))[1][
        "status"
    ] == "coalesced"  # job 8 syncs the same selection
    status, body = await _post(client, _event("c", 9, 3))
    assert (status, body["status"]) == (503, "full")
    assert "c" not in state.seen  # delivered again later, it is not a repeat
    assert [name for name, _, _ in state.log.events] == ["SyncQueued", "SyncQueued", "QueueFull"]  # type: ignore[attr-defined]


async def test_bad_bodies_and_stopping(served: tuple[TestClient[Any, Any], ServerState]) -> None:
    client, state = served
    status, body = await _post(client, b"{not json")
    assert (status, body["status"]) == (400, "refused")
    assert (await _post(client, b'{"eventId": "x", "eventType": "job.run.completed", "accountId": 43, '
                                b'"data": {"jobId": "7"}}'))[0] == 400  # fmt: skip
    status, _ = await _post(client, b"{not json", secret="wrong-secret-0123456")
    assert status == 401  # the signature comes first
    state.stopping = True
    resp = await client.get("/healthz")
    assert resp.status == 503 and (await resp.json())["status"] == "stopping"
    status, body = await _post(client, _event("d", 7, 4))
    assert (status, body["status"]) == (503, "stopping")
    assert (await (await client.get("/runs")).json()) == {"runs": []}
