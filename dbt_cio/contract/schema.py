"""The contract's JSON Schema, and its errors in our words.

The contract lives in ``customerio.schema.json`` beside this module (JSON Schema 2020-12, the file users
read). A block is checked in two steps, every problem collected:

1. **Shape** — the value is a mapping with a known ``type``.
2. **Schema** — the block is validated against the per-type subschema (``$defs/<type>``) chosen by
   ``type``, so an unknown key is reported with the keys allowed *for that type*. jsonschema's own
   messages are replaced by ours (see :func:`_messages`): each says what was found and what is allowed.
   A subschema may carry ``x-errors`` (wording per failing keyword) and ``x-hints`` (why a key is not
   allowed); jsonschema ignores both.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbt_cio.contract.model import SYNC_TYPES

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

__all__ = ["SCHEMA_PATH", "load_schema", "schema_problems", "show"]

SCHEMA_PATH = Path(__file__).parent / "customerio.schema.json"

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


@functools.cache
def load_schema() -> Mapping[str, Any]:
    """The contract's JSON Schema, as shipped in the package."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator(sync_type: str) -> Draft202012Validator:
    """A validator for one type's subschema (``$defs/<type>``), with the whole file to resolve refs."""
    from jsonschema import Draft202012Validator  # heavy-ish import, kept off the CLI's --help path

    schema = {k: v for k, v in load_schema().items() if k != "oneOf"}
    schema["$ref"] = f"#/$defs/{sync_type}"
    return Draft202012Validator(schema)


def show(value: Any) -> str:
    """A found value, as a short phrase for a message."""
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a boolean)"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, (int, float)):
        return f"{value} (a number)"
    if value is None:
        return "null (no value)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return repr(value)


def _join_path(base: str, parts: Iterable[Any]) -> str:
    out = base
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _allowed_keys_phrase(schema: Mapping[str, Any]) -> str:
    keys = ", ".join(schema.get("properties", {}))
    title = schema.get("title")
    return f"allowed keys for {title} are: {keys}" if title else f"allowed keys are: {keys}"


def _messages(error: ValidationError, block_path: str) -> list[tuple[str, str]]:
    """Turn one jsonschema error into our (path, message) pairs: what was found, what is allowed."""
    path = _join_path(block_path, error.absolute_path)
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    keyword = error.validator
    value: Any = error.validator_value
    found: Any = error.instance
    custom = schema.get("x-errors", {}).get(keyword)
    if custom:
        return [(path, custom.format(found=show(found)))]
    if keyword == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        hints = schema.get("x-hints", {})
        out = []
        for key in found:
            if key in allowed:
                continue
            why = f": {hints[key]}" if key in hints else ""
            guess = difflib.get_close_matches(str(key), allowed, n=1)
            mean = f" (did you mean {guess[0]!r}?)" if guess and not why else ""
            out.append(
                (_join_path(path, [key]), f"unknown key {key!r}{why}{mean}; {_allowed_keys_phrase(schema)}")
            )
        return out
    if keyword == "required":
        out = []
        for key in value:
            if key in found:
                continue
            prop = schema.get("properties", {}).get(key, {})
            what = _describe(prop)
            title = schema.get("title")
            where = f"{title} requires it" if title else "it is required"
            out.append((path, f"missing key {key!r}; {where}" + (f" ({what})" if what else "")))
        return out
    if keyword == "type":
        types = value if isinstance(value, list) else [value]
        expected = " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in types)
        if schema.get("minLength") == 1 and "column" in schema.get("description", ""):
            expected = "a column name (a string)"
        return [(path, f"found {show(found)}; expected {expected}")]
    if keyword in ("enum", "const"):
        allowed = value if keyword == "enum" else [value]
        return [(path, f"found {show(found)}; allowed: {', '.join(str(a) for a in allowed)}")]
    if keyword == "minLength":
        return [(path, f"found {show(found)}; expected a non-empty string")]
    if keyword == "maxLength":
        return [(path, f"found {len(found)} characters; at most {value} allowed")]
    if keyword == "minimum":
        return [(path, f"found {show(found)}; expected at least {value}")]
    if keyword == "uniqueItems":
        return [(path, "found a column listed more than once; list each column once")]
    if keyword == "pattern":
        return [(path, f"found {show(found)}; expected a value matching {value}")]
    return [(path, error.message)]


def _describe(prop: Mapping[str, Any]) -> str:
    """The first sentence of a property's description, for 'missing key' messages."""
    text = str(prop.get("description", ""))
    first = text.split(". ")[0].rstrip(".")
    return first[:1].lower() + first[1:] if first else ""


def schema_problems(block: Any, block_path: str) -> list[tuple[str, str]]:
    """Steps 1 and 2 for one block: its shape, its type, then its per-type subschema."""
    if not isinstance(block, Mapping):
        return [(block_path, f"found {show(block)}; expected a mapping (one sync block)")]
    sync_type = block.get("type")
    if "type" not in block:
        return [(block_path, f"missing key 'type'; allowed: {', '.join(SYNC_TYPES)}")]
    if not isinstance(sync_type, str) or sync_type not in SYNC_TYPES:
        return [(f"{block_path}.type", f"found {show(sync_type)}; allowed: {', '.join(SYNC_TYPES)}")]
    out: list[tuple[str, str]] = []
    errors = sorted(_validator(sync_type).iter_errors(block), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        for item in _messages(error, block_path):
            if item not in out:
                out.append(item)
    return out
