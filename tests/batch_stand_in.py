"""A stand-in for Customer.io's Track API with a batch handler of the test's own, for answers the emulator
never gives (a 400 for a whole batch, as some real deployments answer)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web


async def _region(request: web.Request) -> web.Response:
    return web.json_response({"url": "", "region": "us", "environment_id": 1})


@asynccontextmanager
async def batch_stand_in(batch: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[str]:
    """Serve ``batch`` as ``POST /api/v2/batch`` (and the region lookup) on a free port: the base URL."""
    app = web.Application()
    app.router.add_get("/api/v1/accounts/region", _region)
    app.router.add_post("/api/v2/batch", batch)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
