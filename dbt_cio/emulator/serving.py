"""Serving an :class:`~dbt_cio.emulator.emulator.Emulator` over HTTP: on the caller's event loop with
:func:`serve`, or on a background thread with :class:`EmulatorThread`.

aiohttp is imported only when serving starts, so importing the emulator package stays light.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING

from dbt_cio.emulator.emulator import Emulator

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["EmulatorThread", "serve"]


@asynccontextmanager
async def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve ``emulator``'s Track, App and admin routes on one port (0 = a free one); yields the base URL."""
    from aiohttp import web

    from dbt_cio.emulator.server import build_app

    runner = web.AppRunner(build_app(emulator), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = _bound_port(site)
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{bound}"
    finally:
        await runner.cleanup()
        gc.unfreeze()  # see settle(): let what the state held be collected again


def _bound_port(site: web.TCPSite) -> int:
    """The port a started site listens on (the one the OS chose for port 0)."""
    server = site._server
    sockets = getattr(server, "sockets", None)
    assert sockets, "the site is started"
    return int(sockets[0].getsockname()[1])


class EmulatorThread:
    """Run an emulator in a background thread: ``with EmulatorThread(emu) as base_url: ...``.

    For synchronous tests and for end-to-end tests that run the ``dbt-cio`` CLI in a subprocess. Read
    ``emu.state`` after the client is done (the server thread mutates it while requests arrive).
    """

    def __init__(self, emulator: Emulator | None = None, host: str = "127.0.0.1", port: int = 0):
        self.emulator = emulator if emulator is not None else Emulator()
        self.host, self.port = host, port
        self.base_url: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __enter__(self) -> str:
        self._thread = threading.Thread(target=self._run, name="cio-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"the emulator did not start: {self._error}") from self._error
        assert self.base_url is not None
        return self.base_url

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread, which raises it
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self.emulator, self.host, self.port) as base_url:
            self.base_url = base_url
            self._ready.set()
            await self._stop.wait()
