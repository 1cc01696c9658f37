"""The emulator's rate limit: a token bucket, the shape of limit Customer.io's fair-use policy describes.

The bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per second. A request takes one
token; with none left it is refused and told how long until the next token (the ``Retry-After``). So
``rate`` is the sustained ceiling and ``burst`` is how many requests an idle client may fire at once.
The clock is injected, so tests move time by hand instead of sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` requests per second sustained, up to ``burst`` at once (default: one second's worth)."""

    def __init__(self, rate: float, burst: int | None = None, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1, math.ceil(rate)))
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()

    def _refill(self, now: float) -> None:
        # Tokens accrue for the time since the last look, never beyond the bucket's size.
        elapsed = max(0.0, now - self._last)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._last = now

    def acquire(self) -> float:
        """Take a token: 0.0 when granted, else the seconds until one will be available."""
        self._refill(self._clock())
        if self._tokens >= 1.0 - 1e-9:  # tolerate float drift from many small refills
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` takes whole seconds: round up, and never say 0 (that invites a hot loop)."""
    return str(max(1, math.ceil(seconds)))
