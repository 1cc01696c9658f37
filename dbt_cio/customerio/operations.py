"""What the sync engine asks the sender to do, and what the sender reports back.

The sender knows nothing of dbt or of the warehouse: it takes a stream of :data:`Operation` values and
reports one :class:`Result` per operation, in order of acknowledgement. ``ref`` is the caller's own handle
(for the engine: the diff row the operation was built from); the sender passes it back untouched, and the
types carry it through (``Operation[RowChange]`` in, ``Result[RowChange]`` out).

Items already serialized (e.g. rendered by the warehouse) travel as :class:`RawItems` instead: blocks of
``(seq, bytes)`` with no Python object per item, answered by one :class:`RawAnswer` per request (the seqs
acknowledged, and a :class:`Refusal` per item refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, NamedTuple, TypeVar, Union

__all__ = [
    "ID_TYPES",
    "BatchItem",
    "IdType",
    "Operation",
    "RawAnswer",
    "RawItems",
    "RawMembers",
    "Refusal",
    "Result",
    "SegmentChange",
]

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


class RawItems(NamedTuple):
    """A block of serialized ``/api/v2/batch`` items: ``items[i]`` is the compact UTF-8 JSON of one item,
    ``seqs[i]`` the caller's number for it (for the engine: the diff row's ``_cio_seq``; several items may
    share one)."""

    seqs: list[int]
    items: list[bytes]


class RawMembers(NamedTuple):
    """A block of manual segment changes already serialized: ``ids[i]`` is a person's identifier as a JSON
    string (an element of a v1 ``ids`` list), ``adds[i]`` whether it is added (else removed), ``seqs[i]`` the
    caller's number for it; in the caller's order, which decides how they are grouped into requests."""

    seqs: list[int]
    ids: list[bytes]
    adds: list[bool]


class Refusal(NamedTuple):
    """One raw item not accepted: its seq, why (Customer.io's message or the local limit it broke), the
    offending field when known, and whether the failure was transient (the next run sends it again)."""

    seq: int
    reason: str
    field: str | None = None
    retryable: bool = False


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """The outcome of one request of raw items, or of a run of local refusals (``request`` and ``status``
    None): the seqs acknowledged, in order, and the refusals. ``request`` numbers the request among the
    sender's, ``status`` is the HTTP status answered (None when no answer came), as :class:`Answer` does."""

    accepted: list[int]
    refused: list[Refusal]
    request: int | None = None
    status: int | None = None

    def __len__(self) -> int:  # items answered
        return len(self.accepted) + len(self.refused)
