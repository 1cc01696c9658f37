"""What Customer.io's answer to one ``/api/v2/batch`` request says of each item it carried.

A request's items are tagged by the sender (operations, or raw items' seqs); what came back is kept as a
:class:`Posted` per request made: the items' tags, the request's number and HTTP status, and the items refused
by index (:func:`refusals_of` reads a 207's ``errors`` by ``batch_index``; :func:`every` refuses all of them, for
a request that failed whole). :func:`within_size` refuses raw items over the item size limit before any
request. Pure functions, no I/O.
"""

from __future__ import annotations

from typing import Any, Generic, NamedTuple, TypeVar

from dbt_cio.customerio.limits import check_item_size
from dbt_cio.customerio.operations import Refusal

__all__ = ["Posted", "every", "refusals_of", "within_size"]

T = TypeVar("T")


def within_size(seqs: list[int], items: list[bytes]) -> tuple[list[int], list[bytes], list[Refusal]]:
    """The items of a block within the item size limit, and a refusal for each other."""
    kept_seqs: list[int] = []
    kept: list[bytes] = []
    refused: list[Refusal] = []
    for seq, data in zip(seqs, items):
        problem = check_item_size(len(data))
        if problem is None:
            kept_seqs.append(seq)
            kept.append(data)
        else:
            refused.append(Refusal(seq, problem[0], problem[1] or None))
    return kept_seqs, kept, refused


class Posted(NamedTuple, Generic[T]):
    """One batch request: its items' tags, its number and HTTP status, and the refused items by index in
    ``tags`` as ``(reason, field, retryable)`` (every index when the whole request failed)."""

    tags: list[T]
    request: int
    status: int | None
    refused: dict[int, tuple[str, str | None, bool]]


def every(count: int, reason: str, *, retryable: bool) -> dict[int, tuple[str, str | None, bool]]:
    """Each of a request's ``count`` items refused for the same ``reason`` (the request failed whole)."""
    return dict.fromkeys(range(count), (reason, None, retryable))


def refusals_of(errors: list[dict[str, Any]], count: int) -> dict[int, tuple[str, str | None, bool]]:
    """A 207's per-item errors by batch index (the first for an index; indexes out of range ignored), each as
    ``(reason, field, retryable)``: Customer.io's reason and message together when they say different things."""
    refused: dict[int, tuple[str, str | None, bool]] = {}
    for error in errors:
        index = error.get("batch_index")
        if not isinstance(index, int) or not 0 <= index < count or index in refused:
            continue
        reason = error.get("message") or error.get("reason") or "rejected by Customer.io"
        if error.get("reason") and error.get("message") and error["reason"] not in error["message"]:
            reason = f"{error['reason']}: {error['message']}"
        refused[index] = (str(reason), error.get("field") or None, False)
    return refused
