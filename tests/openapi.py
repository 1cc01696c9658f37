"""Validate what we send against Customer.io's own Track API OpenAPI document (a test helper).

Usage from any test::

    from openapi import validate_batch_item, validate_request   # tests/ is on sys.path, as for conftest

    validate_batch_item({"type": "person", "identifiers": {"id": "1"}, "action": "identify"})
    validate_request("/api/v1/segments/7/add_customers", "post", {"ids": ["1"]})

Both raise ``AssertionError`` with the schema's complaint and where in the body it is. To check everything a
client sent, pass ``RequestRecorder().config`` in its ``trace_configs`` and call ``validate_all()`` at the end. Validators are
compiled once per schema (the document is ~500 KB): calling them per item is cheap.

One documented gap: the document's v2 person schemas all require ``identifiers``, but Customer.io accepts
anonymous events in v2 (``anonymous_id`` at the top level and no ``identifiers``; see
``/work/shared/customerio/API-NOTES.md``). :func:`validate_batch_item` checks such an item as the same
event with a stand-in identifier, after checking that ``anonymous_id`` is a non-empty string.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiohttp
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["OPENAPI_PATH", "batch_item_errors", "validate_batch_item", "validate_request"]

OPENAPI_PATH = Path(__file__).parent / "data" / "track-api.openapi.json"
_BASE = "urn:customerio:track-api"
_BATCH_ITEMS = (
    "/paths/~1api~1v2~1batch/post/requestBody/content/application~1json/schema/properties/batch/items"
)
_ANONYMOUS_ACTIONS = frozenset({"event", "page", "screen"})
# (type, action) -> the component schema of that action, to explain a failure precisely: the items
# schema is an anyOf of anyOfs, whose own best error is often about an unrelated branch.
_ACTION_SCHEMAS = {
    ("person", "identify"): "identify_person",
    ("person", "delete"): "person_delete",
    ("person", "event"): "person_event",
    ("person", "screen"): "person_screen",
    ("person", "page"): "person_page",
    ("person", "add_relationships"): "person_add_relationships",
    ("person", "delete_relationships"): "person_delete_relationships",
    ("person", "add_device"): "person_add_device",
    ("person", "delete_device"): "person_delete_device",
    ("person", "merge"): "person_merge",
    ("person", "suppress"): "person_suppress",
    ("person", "unsuppress"): "person_unsuppress",
    ("object", "identify"): "object_identify",
    ("object", "identify_anonymous"): "object_identify_anonymous",
    ("object", "delete"): "object_delete",
    ("object", "add_relationships"): "object_add_relationships",
    ("object", "delete_relationships"): "object_delete_relationships",
}


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OPENAPI_PATH.read_text())
    return document


@lru_cache(maxsize=1)
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(_document(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_BASE, resource)
    return registry


@lru_cache(maxsize=64)
def _validator(pointer: str) -> OAS31Validator:
    """A validator for the schema at ``pointer`` (a JSON pointer into the document)."""
    return OAS31Validator({"$ref": f"{_BASE}#{pointer}"}, registry=_registry())


def _pointer_escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _assert_valid(validator: OAS31Validator, body: Any, what: str) -> None:
    error = best_match(validator.iter_errors(body))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise AssertionError(
            f"{what} does not match the OpenAPI document at {where}: {error.message}\n{body!r}"
        )


def batch_item_errors(item: Any) -> list[str]:
    """Every complaint the OpenAPI document has about one v2 batch item ([] when it is valid)."""
    return [error.message for error in _validator(_BATCH_ITEMS).iter_errors(_as_identified(item))]


def validate_batch_item(item: Any) -> None:
    """Assert that one item of ``POST /api/v2/batch`` matches the OpenAPI request schema."""
    body = _as_identified(item)
    if _validator(_BATCH_ITEMS).is_valid(body):
        return
    if isinstance(body, dict):
        schema = _ACTION_SCHEMAS.get((body.get("type"), body.get("action")))  # type: ignore[arg-type]
        if schema is not None:
            _assert_valid(_validator(f"/components/schemas/{schema}"), body, f"batch item ({schema})")
    _assert_valid(_validator(_BATCH_ITEMS), body, "batch item")


def _as_identified(item: Any) -> Any:
    """An anonymous v2 event, checked as the same event for a known person (see the module docstring)."""
    if not (
        isinstance(item, dict)
        and item.get("type") == "person"
        and item.get("action") in _ANONYMOUS_ACTIONS
        and "anonymous_id" in item
        and "identifiers" not in item
    ):
        return item
    anonymous = item["anonymous_id"]
    if not isinstance(anonymous, str) or not anonymous:
        raise AssertionError(f"anonymous_id must be a non-empty string: {item!r}")
    stand_in = {k: v for k, v in item.items() if k != "anonymous_id"}
    stand_in["identifiers"] = {"id": "anonymous-stand-in"}
    return stand_in


def validate_request(path: str, method: str, body: Any) -> None:
    """Assert that a JSON request body for ``method path`` matches the document's request schema.

    ``path`` may be the template (``/api/v1/segments/{segment_id}/add_customers``) or a concrete path
    (``/api/v1/segments/7/add_customers``); query strings are ignored.
    """
    template = _template_for(path.split("?", 1)[0])
    operation = _document()["paths"][template].get(method.lower())
    if operation is None:
        raise AssertionError(f"the OpenAPI document has no {method.upper()} {template}")
    if "requestBody" not in operation:
        raise AssertionError(f"{method.upper()} {template} takes no request body in the OpenAPI document")
    pointer = "/".join(
        ["/paths", _pointer_escape(template), method.lower(), "requestBody/content/application~1json/schema"]
    )
    _assert_valid(_validator(pointer), body, f"{method.upper()} {template} body")


def _template_for(path: str) -> str:
    paths = _document()["paths"]
    if path in paths:
        return path
    template: str
    for template in paths:
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"the OpenAPI document has no path matching {path}")


class RequestRecorder:
    """Every request body an aiohttp client sends (through its tracing hooks), to validate afterwards."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes]] = []
        self.config = aiohttp.TraceConfig()
        self.config.on_request_chunk_sent.append(self._chunk)

    async def _chunk(self, session: Any, ctx: Any, params: aiohttp.TraceRequestChunkSentParams) -> None:
        self.sent.append((params.method, params.url.path, params.chunk))

    @property
    def track(self) -> list[tuple[str, str, bytes]]:
        """The Track API requests (the document does not cover the App API)."""
        return [(method, path, chunk) for method, path, chunk in self.sent if path.startswith("/api/")]

    def validate_all(self) -> int:
        """Validate every Track body (batch items one by one); return how many batch items were checked."""
        items = 0
        for method, path, chunk in self.track:
            body = json.loads(chunk)
            if path == "/api/v2/batch":
                assert set(body) == {"batch"} and isinstance(body["batch"], list)
                for item in body["batch"]:
                    validate_batch_item(item)
                    items += 1
            else:
                validate_request(path, method, body)
        return items
