"""What the sync engine asks the sender to do, and what the sender reports back.

The sender knows nothing of dbt or of the warehouse: it takes a stream of :data:`Operation` values and
reports one :class:`Result` per operation, in order of acknowledgement. ``ref`` is the caller's own handle
(for the engine: the diff row the operation was built from); the sender passes it back untouched, and the
types carry it through (``Operation[RowChange]`` in, ``Result[RowChange]`` out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, NamedTuple, TypeVar, Union

__all__ = ["ID_TYPES", "BatchItem", "IdType", "Operation", "Result", "SegmentChange"]

IdType = Literal["id", "email", "cio_id"]
"""The identifiers a person can be named by (exactly one per item)."""
ID_TYPES: tuple[IdType, ...] = ("id", "email", "cio_id")

R = TypeVar("R")


class BatchItem(NamedTuple, Generic[R]):
    """One item of a Track API v2 ``/api/v2/batch`` request (person, object or delivery)."""

    ref: R
    item: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SegmentChange(Generic[R]):
    """Add a person to, or remove one from, a manual segment (Track API v1, grouped up to 1000 ids)."""

    ref: R
    segment_id: int
    id_type: IdType
    identifier: str
    add: bool


Operation = Union[BatchItem[R], SegmentChange[R]]  # noqa: UP007 (a generic alias: Operation[RowChange])


class Result(NamedTuple, Generic[R]):
    """The fate of one operation.

    ``accepted`` is True only when Customer.io acknowledged it. A rejected operation carries the reason
    (Customer.io's message, or the local limit it broke) and, when known, the offending field.
    ``retryable`` is True when the failure was transient (the operation may succeed next run), False when
    the operation itself is invalid. (A named tuple: one is made per row synced, and tuples are cheap.)
    """

    ref: R
    accepted: bool
    reason: str | None = None
    field: str | None = None
    retryable: bool = False
