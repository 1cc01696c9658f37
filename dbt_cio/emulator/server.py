"""The emulator's HTTP face: Customer.io's Track and App API routes, and admin routes under ``/_emulator/``.

Every Track or App request goes through one middleware, in this order, so that a refused or faulted
request never changes state:

1. count the arrival (per wall-clock second, per API family);
2. check credentials (Track: Basic ``site_id:api_key``; App: ``Bearer <app key>``) -> 401;
3. take a rate-limit token for the family -> 429 with ``Retry-After``;
4. draw the request's fault (429 storm, drop, 5xx, 429) -> answered (or dropped) without applying;
5. wait ``slow_seconds``; run the handler (which applies state); maybe drop after applying.

Body size answers: a body over a documented request limit (batch 500 KB, entity 32 KB) gets **413**
(Payload Too Large) rather than 400, because it is the one refusal a client can fix by splitting and
resending, and a distinct status lets it tell that apart from a malformed request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dbt_cio.emulator.ratelimit import retry_after_header
from dbt_cio.emulator.validation import (
    BATCH_MAX_BYTES,
    ITEM_MAX_BYTES,
    SEGMENT_IDS_MAX,
    ItemError,
    batch_items,
    check_collection,
    check_item,
)

if TYPE_CHECKING:
    from dbt_cio.emulator.emulator import Emulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ADMIN_PREFIX = "/_emulator/"
CLIENT_MAX_SIZE = 12_000_000  # above every documented limit, so the handlers can answer limits themselves
EMULATOR_KEY = web.AppKey("emulator", object)
DROPPED = 499  # internal marker for a dropped connection; never reaches the client


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(data), status=status, content_type="application/json", headers=headers
    )


def _track_error(message: str, status: int = 400) -> web.Response:
    return _json({"meta": {"errors": [message]}}, status)


def _app_error(message: str, status: int = 400) -> web.Response:
    return _json({"meta": {"error": message}}, status)


def _emu(request: web.Request) -> Emulator:
    return request.app[EMULATOR_KEY]  # type: ignore[return-value]


def _family(path: str) -> str:
    return "track" if path.startswith("/api/") else "app"


def _basic_ok(header: str, site_id: str, api_key: str) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user, site_id) & hmac.compare_digest(password, api_key)


def _bearer_ok(header: str, app_api_key: str) -> bool:
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), app_api_key)


def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering; the client sees a disconnect."""
    _emu(request).stats.dropped += 1
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=DROPPED)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    emu = _emu(request)
    family = _family(request.path)
    emu.stats.arrived(family)
    try:
        response = await _guarded(emu, request, handler, family)
    except web.HTTPException as exc:
        emu.stats.answered(exc.status)
        raise
    if response.status != DROPPED:
        emu.stats.answered(response.status)
    return response


async def _guarded(emu: Emulator, request: web.Request, handler: Handler, family: str) -> web.StreamResponse:
    auth = request.headers.get("Authorization", "")
    if family == "track" and not _basic_ok(auth, emu.site_id, emu._api_key):
        return _track_error("Unauthorized request: check the site id and API key (and the region)", 401)
    if family == "app" and not _bearer_ok(auth, emu._app_api_key):
        return _app_error("Unauthorized request: check the App API key (and the region)", 401)
    limiter = emu.track_limiter if family == "track" else emu.app_limiter
    wait = limiter.acquire() if limiter is not None else 0.0
    if wait > 0:
        headers = {"Retry-After": retry_after_header(wait)}
        return _json({"meta": {"errors": ["Too many requests"]}}, 429, headers)
    faults = emu.faults
    fate = faults.decide()
    if fate == "drop":
        return _drop(request)
    if fate == "error":
        status = faults.error_status()
        return _json({"meta": {"errors": ["injected server error"]}}, status)
    if fate == "throttle":
        return _json(
            {"meta": {"errors": ["Too many requests (injected)"]}},
            429,
            {"Retry-After": retry_after_header(faults.retry_after)},
        )
    if faults.slow_seconds > 0:
        await asyncio.sleep(faults.slow_seconds)
    response = await handler(request)
    if faults.drop_after_apply():
        return _drop(request)
    return response


async def _body(request: web.Request, limit: int | None = None) -> tuple[bytes, web.Response | None]:
    """The raw body, or the 413 answer when it is over ``limit``."""
    body = await request.read()
    if limit is not None and len(body) > limit:
        message = f"request body is {len(body)} bytes; the limit is {limit}"
        return body, _json({"errors": [{"reason": "too_large", "field": "", "message": message}]}, 413)
    return body, None


def _parse(body: bytes) -> tuple[Any, web.Response | None]:
    """The parsed JSON body, or the 400 answer when it is malformed."""
    try:
        return json.loads(body), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, _json(
            {"errors": [{"reason": "malformed", "field": "", "message": f"invalid JSON: {exc}"}]}, 400
        )


async def _body_json(request: web.Request, limit: int | None = None) -> tuple[Any, web.Response | None]:
    """The parsed JSON body, or the error answer (413 over ``limit``, 400 when malformed)."""
    body, error = await _body(request, limit)
    return (None, error) if error is not None else _parse(body)


def _item_problem(emu: Emulator, item: Any, size: int | None) -> ItemError | None:
    problem = check_item(item, size)
    if problem is None and emu.schemas is not None:
        problem = emu.schemas.check(item)
    if problem is None and emu.faults.rejects(item):
        problem = ItemError("rejected", "", "rejected by the emulator's reject_items fault")
    return problem


def _applied(emu: Emulator, item: Any) -> ItemError | None:
    """Apply a valid item; an identifier conflict comes back as the item's error."""
    conflict = emu.state.apply(item)
    return ItemError("conflict", conflict.field, conflict.message) if conflict is not None else None


# -- Track API ---------------------------------------------------------------------------------------------


async def region(request: web.Request) -> web.Response:
    emu = _emu(request)
    base = f"{request.scheme}://{request.host}"
    return _json({"url": base, "region": emu.region, "environment_id": emu.environment_id})


async def batch(request: web.Request) -> web.Response:
    emu = _emu(request)
    body, error = await _body(request, BATCH_MAX_BYTES)
    if error is not None:
        return error
    if emu.count_only:
        return _counted(emu, body)
    try:
        parsed = batch_items(body.decode("utf-8"))
    except UnicodeDecodeError:
        parsed = None
    sized: list[tuple[Any, int | None]] | None = None if parsed is None else list(parsed)
    if sized is None:  # not the plain {"batch": [...]} shape: parse it whole, measure items one by one
        payload, error = _parse(body)
        if error is not None:
            return error
        items = payload.get("batch") if isinstance(payload, dict) else None
        sized = [(item, None) for item in items] if isinstance(items, list) else None
    if sized is None:
        return _json(
            {
                "errors": [
                    {
                        "reason": "required",
                        "field": "batch",
                        "message": "the body must be an object with a 'batch' array",
                    }
                ]
            },
            400,
        )
    errors = []
    for index, (item, size) in enumerate(sized):
        problem = _item_problem(emu, item, size) or _applied(emu, item)
        if problem is not None:
            errors.append(problem.as_json(index))
    emu.stats.items += len(sized) - len(errors)
    emu.settle(len(sized))
    return _json({"errors": errors}, 207) if errors else _json({})


def _counted(emu: Emulator, body: bytes) -> web.Response:
    """``count_only``: a batch's items counted, neither checked nor stored (the body's size and shape are)."""
    payload, error = _parse(body)
    if error is not None:
        return error
    items = payload.get("batch") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return _json(
            {"errors": [{"reason": "required", "field": "batch", "message": "no 'batch' array"}]}, 400
        )
    emu.stats.items += len(items)
    return _json({})


async def entity(request: web.Request) -> web.Response:
    emu = _emu(request)
    body, error = await _body(request, ITEM_MAX_BYTES)
    item, error = (None, error) if error is not None else _parse(body)
    if error is not None:
        return error
    problem = _item_problem(emu, item, len(body)) or _applied(emu, item)
    if problem is not None:
        return _json({"errors": [problem.as_json()]}, 400)
    emu.stats.items += 1
    return _json({})


async def segment_members(request: web.Request) -> web.Response:
    emu = _emu(request)
    add = request.path.endswith("/add_customers")
    segment = emu.state.segments.get(_int(request.match_info["segment_id"]))
    if segment is None:
        return _track_error(f"segment {request.match_info['segment_id']} not found", 404)
    id_type = request.query.get("id_type", "id")
    if id_type not in ("id", "email", "cio_id"):
        return _track_error("id_type must be one of id, email, cio_id")
    payload, error = await _body_json(request)
    if error is not None:
        return error
    ids = payload.get("ids") if isinstance(payload, dict) else None
    if not isinstance(ids, list) or not 1 <= len(ids) <= SEGMENT_IDS_MAX:
        return _track_error(f"'ids' must be an array of 1 to {SEGMENT_IDS_MAX} identifiers")
    if not all(isinstance(i, str) for i in ids):
        return _track_error("every entry of 'ids' must be a string")
    if segment.type != "manual":
        return _track_error(f"segment {segment.id} is data-driven: people cannot be added or removed by API")
    emu.state.change_segment(segment, ids, id_type, add)
    return _json({})


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1


# -- App API -----------------------------------------------------------------------------------------------


async def create_segment(request: web.Request) -> web.Response:
    emu = _emu(request)
    payload, error = await _body_json(request)
    if error is not None:
        return error
    spec = payload.get("segment") if isinstance(payload, dict) else None
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        return _app_error('body must be {"segment": {"name": ..., "description": ...}}')
    segment = emu.state.create_segment(spec["name"], str(spec.get("description") or ""))
    return _json({"segment": segment.as_json()})


async def list_segments(request: web.Request) -> web.Response:
    return _json({"segments": [s.as_json() for s in _emu(request).state.segments.values()]})


async def get_segment(request: web.Request) -> web.Response:
    segment = _emu(request).state.segments.get(_int(request.match_info["segment_id"]))
    if segment is None:
        return _app_error("segment not found", 404)
    if request.method == "DELETE":
        del _emu(request).state.segments[segment.id]
        return web.Response(status=204)
    return _json({"segment": segment.as_json()})


async def segment_membership(request: web.Request) -> web.Response:
    emu = _emu(request)
    segment = emu.state.segments.get(_int(request.match_info["segment_id"]))
    if segment is None:
        return _app_error("segment not found", 404)
    people = [emu.state.people[c] for c in sorted(segment.members) if c in emu.state.people]
    return _json(
        {
            "identifiers": [{"id": p.id, "email": p.email, "cio_id": p.cio_id} for p in people],
            "ids": [p.id for p in people if p.id is not None],
        }
    )


async def create_collection(request: web.Request) -> web.Response:
    emu = _emu(request)
    payload, error = await _body_json(request)
    if error is not None:
        return error
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str) or not payload["name"]:
        return _app_error("body must be an object with a 'name' and a 'data' array (or a 'url')")
    if "data" not in payload and not isinstance(payload.get("url"), str):
        return _app_error("a collection needs a 'data' array or a 'url'")
    data = payload.get("data", [])
    problem = check_collection(data)
    if problem is not None:
        return _app_error(problem)
    collection = emu.state.create_collection(payload["name"], data, payload.get("url"), int(time.time()))
    return _json({"collection": collection.as_json()})


async def collection(request: web.Request) -> web.Response:
    emu = _emu(request)
    found = emu.state.collections.get(_int(request.match_info["collection_id"]))
    if found is None:
        return _app_error("collection not found", 404)
    if request.method == "GET":
        if request.path.endswith("/content"):
            return _json(found.data)
        return _json({"collection": found.as_json()})
    if request.method == "DELETE":
        del emu.state.collections[found.id]
        return web.Response(status=204)
    payload, error = await _body_json(request)
    if error is not None:
        return error
    if not isinstance(payload, dict):
        return _app_error("body must be an object with 'data' (and optionally 'name')")
    if "data" in payload:
        problem = check_collection(payload["data"])
        if problem is not None:
            return _app_error(problem)
        found.data = payload["data"]
    if isinstance(payload.get("name"), str) and payload["name"]:
        found.name = payload["name"]
    if isinstance(payload.get("url"), str):
        found.url = payload["url"]
    found.updated_at = int(time.time())
    return _json({"collection": found.as_json()})


async def list_collections(request: web.Request) -> web.Response:
    return _json({"collections": [c.as_json() for c in _emu(request).state.collections.values()]})


async def object_types(request: web.Request) -> web.Response:
    types = sorted({t for t, _ in _emu(request).state.objects}, key=int)
    return _json({"types": [{"id": t, "name": f"type {t}"} for t in types]})


# -- admin -------------------------------------------------------------------------------------------------


async def admin_state(request: web.Request) -> web.Response:
    return _json(_emu(request).state.as_json())


async def admin_reset(request: web.Request) -> web.Response:
    _emu(request).reset()
    return _json({"reset": True})


async def admin_faults(request: web.Request) -> web.Response:
    faults = _emu(request).faults
    if request.method == "POST":
        payload, error = await _body_json(request)
        if error is not None:
            return error
        if not isinstance(payload, dict):
            return _app_error("body must be a JSON object of fault settings")
        try:
            faults.update(payload)
        except (ValueError, TypeError) as exc:
            return _app_error(str(exc))
    return _json(faults.as_json())


async def admin_stats(request: web.Request) -> web.Response:
    return _json(_emu(request).stats.as_json())


async def admin_segment(request: web.Request) -> web.Response:
    """Create a segment of any type (e.g. ``"dynamic"``), which the App API cannot."""
    payload, error = await _body_json(request)
    if error is not None:
        return error
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
        return _app_error('body must be {"name": ..., "type": "manual"|"dynamic"}')
    kind = payload.get("type", "manual")
    if kind not in ("manual", "dynamic"):
        return _app_error("type must be manual or dynamic")
    segment = _emu(request).state.create_segment(payload["name"], str(payload.get("description", "")), kind)
    return _json({"segment": segment.as_json()})


def build_app(emulator: Emulator) -> web.Application:
    """The aiohttp application serving one emulator's Track, App and admin routes."""
    app = web.Application(middlewares=[_guard], client_max_size=CLIENT_MAX_SIZE)
    app[EMULATOR_KEY] = emulator
    r = app.router
    r.add_get("/api/v1/accounts/region", region)
    r.add_post("/api/v2/batch", batch)
    r.add_post("/api/v2/entity", entity)
    r.add_post("/api/v1/segments/{segment_id}/add_customers", segment_members)
    r.add_post("/api/v1/segments/{segment_id}/remove_customers", segment_members)
    r.add_post("/v1/segments", create_segment)
    r.add_get("/v1/segments", list_segments)
    r.add_get("/v1/segments/{segment_id}", get_segment)
    r.add_delete("/v1/segments/{segment_id}", get_segment)
    r.add_get("/v1/segments/{segment_id}/membership", segment_membership)
    r.add_post("/v1/collections", create_collection)
    r.add_get("/v1/collections", list_collections)
    r.add_get("/v1/collections/{collection_id}", collection)
    r.add_get("/v1/collections/{collection_id}/content", collection)
    r.add_put("/v1/collections/{collection_id}", collection)
    r.add_delete("/v1/collections/{collection_id}", collection)
    r.add_get("/v1/object_types", object_types)
    r.add_get(ADMIN_PREFIX + "state", admin_state)
    r.add_post(ADMIN_PREFIX + "reset", admin_reset)
    r.add_get(ADMIN_PREFIX + "faults", admin_faults)
    r.add_post(ADMIN_PREFIX + "faults", admin_faults)
    r.add_get(ADMIN_PREFIX + "stats", admin_stats)
    r.add_post(ADMIN_PREFIX + "segments", admin_segment)
    return app
