"""The HTTP client for Customer.io: one aiohttp session per run, auth, region, errors, App API calls.

This is the only module that touches aiohttp. It turns every HTTP outcome into either a parsed answer or
one of the :mod:`dbt_cio.errors` classes, so callers decide by class, never by parsing messages:

- 2xx → the parsed JSON body (a 207's ``errors`` list is an answer, not an error);
- 408, 429, 5xx, timeouts, dropped connections → :class:`TransientError` (retried here with back-off);
- 401, 403 → :class:`AuthError` (stops the run);
- any other status → :class:`TerminalError` carrying the status.

Two limiters pace the calls: the Track limiter (sustained ceiling plus burst) and the App API limiter
(10 requests/s). A 429 slows the limiter of the API that answered it.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from dbt_cio._version import __version__
from dbt_cio.customerio.credentials import Credentials, env_prefix
from dbt_cio.customerio.limits import MAX_SEGMENT_IDS, check_collection
from dbt_cio.customerio.ratelimit import MAX_RETRY_AFTER, RateLimiter, RateSettings
from dbt_cio.customerio.stats import Stats
from dbt_cio.errors import AuthError, TerminalError, TransientError, UsageError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["DEFAULT_TIMEOUT", "CustomerIOClient", "RetrySettings", "error_for_status"]

DEFAULT_TIMEOUT = 30.0
API = Literal["track", "app"]
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class RetrySettings:
    """How transient failures are retried: at most ``max_attempts`` tries per request in all.

    Back-off is exponential with full jitter (``uniform(0, min(max_delay, base_delay * 2**n))``), and never
    shorter than a ``Retry-After`` the server sent, capped at ``max_retry_after`` (one minute).
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = MAX_RETRY_AFTER

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        backoff = rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, self.max_retry_after))
        return backoff


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _connection_error(exc: BaseException) -> str:
    """Why a connection failed, in a few words (aiohttp's text names the host and the cause)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:_MESSAGE_LIMIT] if text else type(exc).__name__


def _message(raw: bytes) -> str:
    """The human part of an error body (Customer.io uses several shapes), shortened."""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw[:_MESSAGE_LIMIT].decode(errors="replace").strip()
    parts: list[str] = []
    if isinstance(data, dict):
        meta = data.get("meta")
        if isinstance(meta, dict):
            if isinstance(meta.get("error"), str):
                parts.append(meta["error"])
            if isinstance(meta.get("errors"), list):
                parts.extend(str(e) for e in meta["errors"])
        for key in ("error", "message"):
            if isinstance(data.get(key), str):
                parts.append(data[key])
        if isinstance(data.get("errors"), list):
            for e in data["errors"]:
                parts.append(str(e.get("message") or e.get("reason") or e) if isinstance(e, dict) else str(e))
    text = "; ".join(parts) or json.dumps(data)
    return text[:_MESSAGE_LIMIT]


def error_for_status(status: int, raw: bytes, retry_after: float | None, what: str) -> Exception:
    """Translate a non-2xx answer into the error class that says what the caller can do."""
    detail = _message(raw)
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        return AuthError(
            f"Customer.io refused the credentials ({status}) for {what}{suffix}. Check the site id and API "
            "keys of this workspace, and its region (CUSTOMERIO_REGION=auto finds it).",
            status=status,
        )
    if status in (408, 429) or status >= 500:
        return TransientError(f"{what} failed with {status}{suffix}", status=status, retry_after=retry_after)
    if 300 <= status < 400:
        return TerminalError(
            f"{what} was redirected ({status}): the workspace may be in another region; "
            "set CUSTOMERIO_REGION=auto.",
            status=status,
        )
    return TerminalError(f"{what} failed with {status}{suffix}", status=status)


def _unwrap(data: Any, key: str) -> dict[str, Any]:
    """The object under ``key`` (the App API wraps answers: ``{"segment": {...}}``), or the answer itself."""
    inner = data[key] if isinstance(data, dict) and key in data else data
    if not isinstance(inner, dict):
        raise TerminalError(
            f"Customer.io's App API answered without the expected {key!r} object", status=None
        )
    return inner


def _unwrap_list(data: Any, key: str) -> list[dict[str, Any]]:
    """The objects listed under ``key`` (``{"segments": [...]}``), or in the answer itself."""
    inner = data[key] if isinstance(data, dict) and key in data else data
    return [entry for entry in inner if isinstance(entry, dict)] if isinstance(inner, list) else []


class CustomerIOClient:
    """One workspace's connection to Customer.io for one run.

    ``async with CustomerIOClient(credentials) as client:`` opens the session and asks Customer.io for the
    workspace's region (``GET /api/v1/accounts/region``), which also proves the Track credentials before
    anything is sent.
    """

    def __init__(
        self,
        credentials: Credentials,
        rate_settings: RateSettings | None = None,
        *,
        retry: RetrySettings | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        rng: random.Random | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ):
        self.credentials = credentials
        self.rate_settings = rate_settings or RateSettings()
        self.retry = retry or RetrySettings()
        self.timeout = timeout
        self.stats = Stats()
        self.track_limiter: RateLimiter = self.rate_settings.track_limiter()
        self.app_limiter: RateLimiter = self.rate_settings.app_limiter()
        self.region: str | None = None
        self.track_url: str | None = None
        self.app_url: str | None = None
        self._rng = rng or random.Random()
        self._trace_configs = list(trace_configs)  # aiohttp's hook: tests record what is sent
        self._session: aiohttp.ClientSession | None = None
        token = base64.b64encode(f"{credentials.site_id}:{credentials.api_key}".encode()).decode()
        self._auth = {"track": f"Basic {token}", "app": f"Bearer {credentials.app_api_key or ''}"}

    def __repr__(self) -> str:
        return (
            f"CustomerIOClient(workspace={self.credentials.workspace!r}, region={self.region!r}, "
            f"track_url={self.track_url!r}, app_url={self.app_url!r})"
        )

    async def __aenter__(self) -> CustomerIOClient:  # noqa: PYI034 - typing.Self needs Python 3.11
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self.rate_settings.max_concurrency + 4, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout, connect=min(10.0, self.timeout)),
            headers={"User-Agent": f"dbt-cio/{__version__}", "Accept": "application/json"},
            trace_configs=self._trace_configs or None,
        )
        try:
            await self._resolve_region()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    # -- one request ---------------------------------------------------------------------------------

    async def request(
        self,
        api: API,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: dict[str, str] | None = None,
        base: str | None = None,
        redirects: bool = False,
        stats: Stats | None = None,
    ) -> tuple[int, Any]:
        """Make one paced attempt; return ``(status, parsed body)`` for a 2xx, raise a translated error else.

        With ``redirects`` a 3xx is returned as ``(status, {"location": ...})`` instead (the region check
        reads the target; nothing else may be redirected, as a redirected POST could lose its body).
        ``stats``, when given, counts this request too (a sender's own counters, beside the client's).
        """
        import aiohttp

        if self._session is None:
            raise RuntimeError("use `async with CustomerIOClient(...)` before making requests")
        if base is None:
            base = self.track_url if api == "track" else self.app_url
        if api == "app" and not self.credentials.app_api_key:
            prefix = env_prefix(self.credentials.workspace)
            raise UsageError(f"this sync needs the App API: set {prefix}APP_API_KEY in the environment.")
        limiter = self.track_limiter if api == "track" else self.app_limiter
        await limiter.acquire()
        headers = {"Authorization": self._auth[api]}
        if body is not None:
            headers["Content-Type"] = "application/json"
            self._count(stats, "bytes_sent", len(body))
        what = f"{method} {path}"
        self._count(stats, "requests")
        try:
            async with self._session.request(
                method, f"{base}{path}", data=body, params=params, headers=headers, allow_redirects=False
            ) as resp:
                status = resp.status
                raw = await resp.read()
                location = resp.headers.get("Location", "")
                retry_after = _retry_after(resp.headers.get("Retry-After"))
        except TimeoutError:
            self._count(stats, "errors")
            raise TransientError(f"{what} to {base} timed out after {self.timeout:g}s") from None
        except aiohttp.ClientError as exc:
            self._count(stats, "errors")
            raise TransientError(
                f"{what} to {base} failed: connection error ({_connection_error(exc)})"
            ) from None
        if 200 <= status < 300:
            try:
                return status, json.loads(raw) if raw.strip() else None
            except ValueError:
                return status, None
        self._count(stats, "errors")
        if status == 429:
            self._count(stats, "throttled")
            limiter.penalize(None if retry_after is None else min(retry_after, self.retry.max_retry_after))
        if redirects and 300 <= status < 400 and location:
            return status, {"location": location}
        raise error_for_status(status, raw, retry_after, what)

    async def call(
        self,
        api: API,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: dict[str, str] | None = None,
        base: str | None = None,
        redirects: bool = False,
        stats: Stats | None = None,
    ) -> tuple[int, Any]:
        """:meth:`request`, retrying transient failures with back-off; the last one is raised."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.request(
                    api, method, path, body=body, params=params, base=base, redirects=redirects, stats=stats
                )
            except TransientError as exc:
                if attempt >= self.retry.max_attempts:
                    raise
                self._count(stats, "retries")
                await asyncio.sleep(self.retry.delay(attempt, exc.retry_after, self._rng))

    def _count(self, extra: Stats | None, name: str, n: int = 1) -> None:
        self.stats.add(name, n)
        if extra is not None:
            extra.add(name, n)

    # -- region --------------------------------------------------------------------------------------

    async def _resolve_region(self) -> None:
        """Ask the Track API which region the workspace lives in (and so prove the credentials)."""
        creds = self.credentials
        asked = "us" if creds.region == "auto" else creds.region
        status, data = await self.call(
            "track", "GET", "/api/v1/accounts/region", base=creds.track_base(asked), redirects=True
        )
        region = asked
        if 300 <= status < 400:
            region = "eu" if "-eu" in str(data.get("location", "")) else "us"
            if region == asked:
                raise TerminalError(
                    f"region check was redirected to an unexpected place ({status}).", status=status
                )
            if creds.region != "auto":
                raise AuthError(
                    f"workspace {creds.workspace!r} is in the {region.upper()} region, but "
                    f"CUSTOMERIO_REGION says {creds.region}: set it to {region} or auto."
                )
            await self.call("track", "GET", "/api/v1/accounts/region", base=creds.track_base(region))
        elif isinstance(data, dict) and data.get("region") in ("us", "eu"):
            region = data["region"]
            if creds.region != "auto" and region != creds.region and creds.track_url is None:
                raise AuthError(
                    f"workspace {creds.workspace!r} is in the {region.upper()} region, but "
                    f"CUSTOMERIO_REGION says {creds.region}: set it to {region} or auto."
                )
        self.region = region
        self.track_url = creds.track_base(region)
        self.app_url = creds.app_base(region)

    # -- Track API -----------------------------------------------------------------------------------

    async def post_batch(self, body: bytes, stats: Stats | None = None) -> list[dict[str, Any]]:
        """POST one ``/api/v2/batch`` body; return the per-item errors of a 207 (empty on a 200)."""
        status, data = await self.call("track", "POST", "/api/v2/batch", body=body, stats=stats)
        if status == 207 and isinstance(data, dict) and isinstance(data.get("errors"), list):
            return [e for e in data["errors"] if isinstance(e, dict)]
        return []

    async def change_segment(
        self, segment_id: int, id_type: str, ids: Sequence[str], add: bool, stats: Stats | None = None
    ) -> None:
        """Add people to (or remove them from) a manual segment; at most 1000 ids per call."""
        await self.change_segment_json(
            segment_id, id_type, [json.dumps(str(i)).encode() for i in ids], add, stats
        )

    async def change_segment_json(
        self, segment_id: int, id_type: str, ids: Sequence[bytes], add: bool, stats: Stats | None = None
    ) -> None:
        """:meth:`change_segment` with each id already written as a JSON string (rendered by the warehouse)."""
        if not 1 <= len(ids) <= MAX_SEGMENT_IDS:
            raise ValueError(f"between 1 and {MAX_SEGMENT_IDS} ids per segment call, got {len(ids)}")
        verb = "add_customers" if add else "remove_customers"
        body = b'{"ids":[' + b",".join(ids) + b"]}"
        await self.call(
            "track",
            "POST",
            f"/api/v1/segments/{int(segment_id)}/{verb}",
            body=body,
            params={"id_type": id_type},
            stats=stats,
        )

    # -- App API -------------------------------------------------------------------------------------

    async def _app(self, method: str, path: str, payload: Any = None) -> Any:
        body = None if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        return (await self.call("app", method, path, body=body))[1]

    async def list_segments(self) -> list[dict[str, Any]]:
        """Every segment of the workspace (manual and data-driven)."""
        return _unwrap_list(await self._app("GET", "/v1/segments"), "segments")

    async def get_segment(self, segment_id: int) -> dict[str, Any] | None:
        """One segment, or ``None`` when it does not exist."""
        try:
            return _unwrap(await self._app("GET", f"/v1/segments/{int(segment_id)}"), "segment")
        except TerminalError as exc:
            if exc.status == 404:
                return None
            raise

    async def create_segment(self, name: str, description: str = "") -> dict[str, Any]:
        """Create an empty manual segment; return it (with its ``id``)."""
        data = await self._app(
            "POST", "/v1/segments", {"segment": {"name": name, "description": description}}
        )
        return _unwrap(data, "segment")

    async def list_collections(self) -> list[dict[str, Any]]:
        return _unwrap_list(await self._app("GET", "/v1/collections"), "collections")

    async def create_collection(self, name: str, data: Sequence[Any]) -> dict[str, Any]:
        """Create a collection from rows; return it (with its ``id``)."""
        self._check_collection(data)
        return _unwrap(
            await self._app("POST", "/v1/collections", {"name": name, "data": list(data)}), "collection"
        )

    async def replace_collection(
        self, collection_id: int, data: Sequence[Any], name: str | None = None
    ) -> dict[str, Any]:
        """Replace a collection's contents entirely (and optionally rename it)."""
        self._check_collection(data)
        payload: dict[str, Any] = {"data": list(data)}
        if name is not None:
            payload["name"] = name
        return _unwrap(await self._app("PUT", f"/v1/collections/{int(collection_id)}", payload), "collection")

    async def put_collection_json(
        self, collection_id: int | None, name: str, rows: Sequence[bytes]
    ) -> dict[str, Any]:
        """Create (``collection_id`` None, named ``name``) or replace a collection from its rows already written as
        compact JSON objects (rendered by the warehouse, checked against the limits by the caller); return it."""
        data = b"[" + b",".join(rows) + b"]"
        if collection_id is None:
            body = b'{"name":' + json.dumps(name).encode() + b',"data":' + data + b"}"
            method, path = "POST", "/v1/collections"
        else:
            body, method, path = b'{"data":' + data + b"}", "PUT", f"/v1/collections/{int(collection_id)}"
        return _unwrap((await self.call("app", method, path, body=body))[1], "collection")

    @staticmethod
    def _check_collection(data: Sequence[Any]) -> None:
        problem = check_collection(data)
        if problem:
            reason, field = problem
            raise TerminalError(f"collection {field}: {reason}; Customer.io would refuse it.", status=None)
