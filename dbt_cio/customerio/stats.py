"""Live counters of the requests made to Customer.io and of what became of the operations sent."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Stats"]


@dataclass
class Stats:
    """Live counters, readable at any time (a progress bar polls them).

    A client keeps one for its whole life; each :class:`~dbt_cio.customerio.sender.Sender` keeps its own
    for its run, so a caller that sends several syncs through one client can report each sync's figures.
    """

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    errors: int = 0
    bytes_sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0

    def add(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter called ``name``."""
        setattr(self, name, getattr(self, name) + n)
