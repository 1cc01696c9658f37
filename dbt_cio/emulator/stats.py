"""Counting requests, so tests can check that a client stays under its ceiling without timing anything."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

FAMILIES = ("track", "app")


class RequestStats:
    """Requests per wall-clock second (per API family) and totals by status code.

    Arrivals are counted when a request comes in (before auth, limits or faults), so a client that fires
    too fast shows up even when every answer is a 429.
    """

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self.clear()

    def clear(self) -> None:
        """Forget every count."""
        self.per_second: dict[str, Counter[int]] = defaultdict(Counter)
        self.statuses: Counter[int] = Counter()
        self.dropped = 0
        self.items = 0

    def arrived(self, family: str) -> None:
        self.per_second[family][int(self._clock())] += 1

    def answered(self, status: int) -> None:
        self.statuses[status] += 1

    def requests_per_second(self, family: str | None = None) -> dict[int, int]:
        """``{unix second: requests}``, for one family (``"track"``, ``"app"``) or both."""
        total: Counter[int] = Counter()
        for name, counts in self.per_second.items():
            if family is None or name == family:
                total.update(counts)
        return dict(sorted(total.items()))

    def as_json(self) -> dict[str, Any]:
        return {
            "requests_per_second": {str(k): v for k, v in self.requests_per_second().items()},
            "by_family": {f: {str(k): v for k, v in sorted(c.items())} for f, c in self.per_second.items()},
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "total": sum(sum(c.values()) for c in self.per_second.values()),
            "max_per_second": max(self.requests_per_second().values(), default=0),
            "dropped": self.dropped,
            "items": self.items,
        }
