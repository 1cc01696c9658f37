"""A ``type: collection`` sync's rows as the contents of one Customer.io collection: a pure function, no I/O.

A collection is replaced whole, so it is checked whole before anything is sent: Customer.io's size limits
(:data:`~dbt_cio.customerio.limits.MAX_COLLECTION_ROW_BYTES` a row and
:data:`~dbt_cio.customerio.limits.MAX_COLLECTION_BYTES` in all, as compact UTF-8 JSON) and every value's JSON
form. Values are converted as for every other type (:mod:`dbt_cio.customerio.values`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from dbt_cio.contract.model import Sync
from dbt_cio.customerio.limits import MAX_COLLECTION_BYTES, MAX_COLLECTION_ROW_BYTES
from dbt_cio.customerio.values import ValueRejected, to_json
from dbt_cio.errors import CollectionError, CollectionTooLarge

__all__ = ["collection_data"]


def collection_data(sync: Sync, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every row of a collection sync as the JSON-able dict of its mapped attributes, in model order.

    A collection is replaced whole, so it is checked whole before anything is sent: a row over
    :data:`MAX_COLLECTION_ROW_BYTES` or a collection over :data:`MAX_COLLECTION_BYTES` (as compact
    UTF-8 JSON) raises :class:`CollectionTooLarge`; a value with no JSON form raises
    :class:`CollectionError`. NaN and infinities become null, as for every other type.
    """
    attrs = tuple(sync.attributes.items()) or tuple((column, column) for column in sync.columns)
    label = _collection_label(sync)
    data: list[dict[str, Any]] = []
    total = 2  # the enclosing "[]"
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    for index, row in enumerate(rows):
        try:
            entry = {name: to_json(row[column]) for name, column in attrs}
        except ValueRejected:
            for _name, column in attrs:
                try:
                    to_json(row[column])
                except ValueRejected as exc:
                    raise CollectionError(
                        f"sync '{sync.name}': {label} row {index} (0-based, model order), column '{column}': "
                        f"{exc.reason}. Nothing was sent."
                    ) from None
            raise
        size = len(encode(entry).encode())
        if size > MAX_COLLECTION_ROW_BYTES:
            raise CollectionTooLarge(
                f"sync '{sync.name}': {label} row {index} (0-based, model order) is {size:,} bytes as JSON, "
                f"over Customer.io's limit of {MAX_COLLECTION_ROW_BYTES:,} bytes per collection row. "
                "Exclude or shorten columns in the model. Nothing was sent."
            )
        total += size + (1 if data else 0)  # the "," between rows
        if total > MAX_COLLECTION_BYTES:
            raise CollectionTooLarge(
                f"sync '{sync.name}': {label} is over {total:,} bytes as JSON by row {index} (0-based), over "
                f"Customer.io's limit of {MAX_COLLECTION_BYTES:,} bytes per collection. Filter rows or "
                "exclude columns in the model. Nothing was sent."
            )
        data.append(entry)
    return data


def _collection_label(sync: Sync) -> str:
    ref = sync.collection
    if ref is not None and ref.name is not None:
        return f"collection '{ref.name}'"
    if ref is not None and ref.id is not None:
        return f"collection {ref.id}"
    return "the collection"
