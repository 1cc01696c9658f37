"""Packing serialized v2 batch items into request bodies of at most 500 KB.

Each item is serialized exactly once (by the sender); packing only adds up lengths, and the body is the
items' bytes joined inside ``{"batch":[...]}``. Re-serializing a whole batch to measure it would double
the CPU spent per item, and the sender must never be the bottleneck.

The algorithm, as named steps:

1. **measure** — an item costs its length plus one comma (the first costs no comma);
2. **fits** — it fits when the open batch plus its cost stays within the body limit;
3. **close** — otherwise the open batch is handed out and the item starts a new one;
4. **finish** — at the end of input the last, partial batch is handed out.

Packing is greedy and keeps input order: a later item never overtakes an earlier one into an earlier
batch, so two operations on the same person travel in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

from dbt_cio.customerio.limits import MAX_BATCH_BYTES

__all__ = ["BATCH_OVERHEAD", "BatchPacker", "batch_body", "pack"]

T = TypeVar("T")

_HEAD = b'{"batch":['
_TAIL = b"]}"
BATCH_OVERHEAD = len(_HEAD) + len(_TAIL)
"""Bytes of a batch body that are not items: ``{"batch":[`` and ``]}``."""


def batch_body(parts: Sequence[bytes]) -> bytes:
    """The request body of ``/api/v2/batch`` for already-serialized items."""
    return _HEAD + b",".join(parts) + _TAIL


class BatchPacker(Generic[T]):
    """Incremental greedy packer: ``add`` items one by one, get full batches back as they close.

    Each entry is ``(tag, data)``: ``tag`` is the caller's (the sender keeps the operation there) and
    ``data`` the serialized item. ``max_items`` optionally caps the number of items per batch, which
    keeps latency and the cost of a failed request bounded.
    """

    def __init__(self, max_bytes: int = MAX_BATCH_BYTES, max_items: int | None = None):
        if max_bytes <= BATCH_OVERHEAD:
            raise ValueError(f"max_bytes must exceed the {BATCH_OVERHEAD} bytes of batch overhead")
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._tags: list[T] = []
        self._parts: list[bytes] = []
        self._size = BATCH_OVERHEAD

    def __len__(self) -> int:
        return len(self._parts)

    @property
    def size(self) -> int:
        """Bytes the open batch's body would have now."""
        return self._size

    def fits(self, nbytes: int) -> bool:
        """Step 2: would an item of ``nbytes`` fit in the open batch?"""
        if self.max_items is not None and len(self._parts) >= self.max_items:
            return False
        cost = nbytes + (1 if self._parts else 0)  # step 1: measure (a comma before all but the first)
        return self._size + cost <= self.max_bytes

    def add(self, tag: T, data: bytes) -> tuple[list[T], list[bytes]] | None:
        """Add one item; return the batch it closed (step 3), if any.

        An item too big for an empty batch raises ``ValueError``: the caller must refuse it first
        (the per-item limit is far below the body limit, so this only happens on misuse).
        """
        closed = None
        if not self.fits(len(data)):
            if not self._parts:
                raise ValueError(f"an item of {len(data)} bytes cannot fit in a {self.max_bytes}-byte body")
            closed = self.take()
        self._size += len(data) + (1 if self._parts else 0)
        self._tags.append(tag)
        self._parts.append(data)
        return closed

    def add_block(self, tags: Sequence[T], parts: Sequence[bytes]) -> list[tuple[list[T], list[bytes]]]:
        """:meth:`add` for many items at once (``tags[i]`` is ``parts[i]``'s); return the batches they closed,
        in order. The same steps, without a call per item: the hot path of items rendered elsewhere."""
        closed: list[tuple[list[T], list[bytes]]] = []
        max_bytes, max_items = self.max_bytes, self.max_items
        size, count = self._size, len(self._parts)
        tag_list, part_list = self._tags, self._parts
        for tag, data in zip(tags, parts):
            cost = len(data) + (1 if count else 0)
            if size + cost > max_bytes or (max_items is not None and count >= max_items):
                if not count:
                    raise ValueError(f"an item of {len(data)} bytes cannot fit in a {max_bytes}-byte body")
                closed.append((tag_list, part_list))
                tag_list, part_list, size, count, cost = [], [], BATCH_OVERHEAD, 0, len(data)
            tag_list.append(tag)
            part_list.append(data)
            size += cost
            count += 1
        self._tags, self._parts, self._size = tag_list, part_list, size
        return closed

    def take(self) -> tuple[list[T], list[bytes]]:
        """Step 4: hand out the open batch (possibly empty) and start a new one."""
        tags, parts = self._tags, self._parts
        self._tags, self._parts, self._size = [], [], BATCH_OVERHEAD
        return tags, parts


def pack(
    items: Iterable[tuple[T, bytes]], max_bytes: int = MAX_BATCH_BYTES, max_items: int | None = None
) -> Iterator[tuple[list[T], list[bytes]]]:
    """Pack ``(tag, data)`` pairs into batches, in order; each batch's body is at most ``max_bytes``."""
    packer: BatchPacker[T] = BatchPacker(max_bytes, max_items)
    for tag, data in items:
        closed = packer.add(tag, data)
        if closed is not None:
            yield closed
    if len(packer):
        yield packer.take()
