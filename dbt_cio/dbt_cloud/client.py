"""The HTTP client for dbt Cloud's Administrative API v2 — the only module of this package that touches
aiohttp.

Every answer becomes either parsed data or one of the :mod:`dbt_cio.errors` classes, chosen by status:

- 2xx → the JSON body's ``data`` (or the artifact's bytes, streamed to a file);
- 401, 403 → :class:`~dbt_cio.errors.DbtCloudUsageError` naming ``DBT_CLOUD_API_TOKEN`` (exit 2);
- 404 → :class:`~dbt_cio.errors.DbtCloudUsageError` naming what was not found (exit 2), or ``None`` where the
  caller asked for an artifact that may be missing;
- 408, 429, 5xx, timeouts, dropped connections → retried with exponential back-off and jitter, honouring
  ``Retry-After``; when the tries are spent, :class:`~dbt_cio.errors.DbtCloudError` (exit 1);
- anything else → :class:`~dbt_cio.errors.DbtCloudError`.

The token travels in the ``Authorization: Token ...`` header only; messages name the method and path, never
a header. A redirect to another host (an artifact served from storage) is followed without the token.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dbt_cio._version import __version__
from dbt_cio.dbt_cloud.settings import ACCOUNT_VARIABLE, TOKEN_VARIABLE, CloudSettings
from dbt_cio.errors import DbtCloudError, DbtCloudUsageError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["DEFAULT_TIMEOUT", "CloudRetry", "DbtCloudClient"]

DEFAULT_TIMEOUT = 120.0  # seconds a request may stay silent (a large manifest takes long, but keeps coming)
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_CHUNK = 1 << 20


class CloudRetry:
    """How transient failures are retried: at most ``attempts`` tries; back-off ``uniform(0, min(cap,
    base * 2**n))``, never shorter than a ``Retry-After`` (capped at ``cap``)."""

    def __init__(
        self, attempts: int = 5, base: float = 1.0, cap: float = 30.0, rng: random.Random | None = None
    ):
        self.attempts, self.base, self.cap = attempts, base, cap
        self._rng = rng or random.Random()

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = self._rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))
        return max(backoff, min(retry_after, self.cap)) if retry_after is not None else backoff


class _Transient(Exception):
    """One failed try worth another; ``str()`` says what happened."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class DbtCloudClient:
    """``async with DbtCloudClient(settings) as client:`` — one session for a few calls.

    :meth:`get` returns a JSON answer's ``data``; :meth:`download` streams an artifact to a file.
    """

    def __init__(
        self, settings: CloudSettings, *, retry: CloudRetry | None = None, timeout: float = DEFAULT_TIMEOUT
    ):
        self.settings = settings
        self.retry = retry or CloudRetry()
        self.timeout = timeout
        self.requests = 0
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"DbtCloudClient({self.settings!r})"

    async def __aenter__(self) -> DbtCloudClient:  # noqa: PYI034 - typing.Self needs Python 3.11
        import aiohttp

        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=None, connect=min(10.0, self.timeout), sock_read=self.timeout
            ),
            headers={"User-Agent": f"dbt-cio/{__version__}"},
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def get(self, path: str, what: str, params: dict[str, str] | None = None) -> Any:
        """``GET {account_url}{path}``: the answer's ``data``. ``what`` names the thing asked for in errors
        (``"run 12345"``)."""
        body = await self._call(path, what, params=params)
        assert body is not None
        try:
            document = json.loads(body)
        except ValueError:
            raise DbtCloudError(
                f"dbt Cloud answered GET {self._shown(path)} with something that is not JSON"
            ) from None
        if not isinstance(document, dict) or "data" not in document:
            raise DbtCloudError(f"dbt Cloud answered GET {self._shown(path)} without a 'data' field")
        return document["data"]

    async def download(self, path: str, what: str, dest: Path) -> bool:
        """Stream ``GET {account_url}{path}`` into ``dest``; False when dbt Cloud has no such artifact (404)."""
        return await self._call(path, what, dest=dest, missing_ok=True) is not None

    # -- one call, retried -----------------------------------------------------------------------------------
    async def _call(
        self, path: str, what: str, *, params: dict[str, str] | None = None, dest: Path | None = None,
        missing_ok: bool = False,
    ) -> bytes | None:  # fmt: skip
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._try(path, what, params, dest, missing_ok)
            except _Transient as exc:
                if attempt >= self.retry.attempts:
                    raise DbtCloudError(f"{exc} (gave up after {attempt} tries)") from None
                await asyncio.sleep(self.retry.delay(attempt, exc.retry_after))

    async def _try(
        self, path: str, what: str, params: dict[str, str] | None, dest: Path | None, missing_ok: bool
    ) -> bytes | None:
        import aiohttp

        if self._session is None:
            raise RuntimeError("use `async with DbtCloudClient(...)` before making requests")
        shown = f"GET {self._shown(path)}"
        headers = {"Authorization": f"Token {self.settings.token}", "Accept": "application/json"}
        self.requests += 1
        try:
            async with self._session.get(
                f"{self.settings.account_url}{path}", params=params, headers=headers
            ) as resp:
                if 200 <= resp.status < 300:
                    if dest is None:
                        return await resp.read()
                    with dest.open("wb") as out:
                        async for chunk in resp.content.iter_chunked(_CHUNK):
                            out.write(chunk)
                    return b""
                raw = await resp.read()
                status, retry_after = resp.status, _seconds(resp.headers.get("Retry-After"))
        except TimeoutError:
            raise _Transient(
                f"{shown} on {self.settings.base_url} got no answer for {self.timeout:g}s"
            ) from None
        except aiohttp.ClientError as exc:
            cause = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise _Transient(f"{shown} on {self.settings.base_url} failed: {cause}") from None
        detail = _user_message(raw)
        if status in _RETRY_STATUSES:
            raise _Transient(f"dbt Cloud answered {shown} with {status}{detail}", retry_after)
        if status == 404 and missing_ok:
            return None
        if status == 401:
            raise DbtCloudUsageError(
                f"dbt Cloud refused the API token (401) for {shown}{detail}: check {TOKEN_VARIABLE} (a service "
                "token or personal access token; it is never printed)."
            )
        if status == 403:
            raise DbtCloudUsageError(
                f"dbt Cloud refused access (403) to {what} ({shown}){detail}: the token in {TOKEN_VARIABLE} "
                f"needs read access to account {self.settings.account_id}'s jobs and runs; check "
                f"{ACCOUNT_VARIABLE} too."
            )
        if status == 404:
            raise DbtCloudUsageError(
                f"dbt Cloud knows no {what} in account {self.settings.account_id} (404 for {shown}){detail}: "
                f"check the id and {ACCOUNT_VARIABLE}."
            )
        raise DbtCloudError(f"dbt Cloud answered {shown} with {status}{detail}")

    def _shown(self, path: str) -> str:
        return f"/api/v2/accounts/{self.settings.account_id}{path}"


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _user_message(raw: bytes) -> str:
    """dbt Cloud's ``status.user_message`` of an error body, as ``": ..."``; empty when there is none."""
    try:
        status = json.loads(raw).get("status") or {}
        message = status.get("user_message") or status.get("developer_message")
    except (ValueError, AttributeError):
        return ""
    return f": {' '.join(str(message).split())[:300]}" if message else ""
