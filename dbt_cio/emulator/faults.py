"""Faults injected on demand, so the sender's retries, backoff and idempotency can be tested for real.

A request's fate is decided when it arrives, before anything is applied: a faulted request changes no
state, as with Customer.io. The one exception is deliberate: ``drop_after_apply_rate`` applies the request
and then drops the connection, the hazard that makes resends (and event ids) matter.

Shares are drawn from a seeded :class:`random.Random`, so a test sees the same faults on every run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Fate = Literal["drop", "error", "throttle"]
ItemPredicate = Callable[[Mapping[str, Any]], bool]

#: Fault settings that ``POST /_emulator/faults`` may change, with their types.
SETTABLE: Mapping[str, type] = {
    "error_rate": float,
    "throttle_rate": float,
    "drop_rate": float,
    "drop_after_apply_rate": float,
    "slow_seconds": float,
    "retry_after": float,
}


@dataclass
class Faults:
    """Mutable fault settings; all off by default.

    - ``error_rate``: share of requests answered 500 or 503.
    - ``throttle_rate``: share answered 429 with ``Retry-After: retry_after``.
    - ``drop_rate``: share whose connection is closed without an answer (nothing applied).
    - ``drop_after_apply_rate``: share applied, then dropped without an answer.
    - ``slow_seconds``: delay before answering every request.
    - ``reject_items``: batch items to refuse with a 207 -- a predicate on the item, or a set of
      identifier values (matched against ``id``, ``email``, ``cio_id``, ``object_id`` and event ``id``).
    - :meth:`storm`: answer every request 429 for the next N seconds.
    """

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    drop_rate: float = 0.0
    drop_after_apply_rate: float = 0.0
    slow_seconds: float = 0.0
    retry_after: float = 1.0
    reject_items: ItemPredicate | set[str] | None = None
    seed: int = 0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    storm_until: float | None = None
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def storm(self, seconds: float) -> None:
        """Answer every request with 429 for ``seconds`` from now."""
        self.storm_until = self.clock() + seconds

    def in_storm(self) -> bool:
        return self.storm_until is not None and self.clock() < self.storm_until

    def clear(self) -> None:
        """Turn every fault off and restart the random sequence."""
        fresh = Faults(seed=self.seed, clock=self.clock)
        for name in (*SETTABLE, "reject_items", "storm_until"):
            setattr(self, name, getattr(fresh, name))
        self.rng = random.Random(self.seed)

    def decide(self) -> Fate | None:
        """The fate of an arriving request: one draw split between drop, error and throttle."""
        if self.in_storm():
            return "throttle"
        if not (self.drop_rate or self.error_rate or self.throttle_rate):
            return None
        draw = self.rng.random()
        for fate, share in (
            ("drop", self.drop_rate),
            ("error", self.error_rate),
            ("throttle", self.throttle_rate),
        ):
            if draw < share:
                return fate  # type: ignore[return-value]
            draw -= share
        return None

    def error_status(self) -> int:
        return 503 if self.rng.random() < 0.5 else 500

    def drop_after_apply(self) -> bool:
        return bool(self.drop_after_apply_rate) and self.rng.random() < self.drop_after_apply_rate

    def rejects(self, item: Mapping[str, Any]) -> bool:
        """Whether ``reject_items`` picks this batch item."""
        chosen = self.reject_items
        if chosen is None:
            return False
        if callable(chosen):
            return bool(chosen(item))
        identifiers = item.get("identifiers")
        values = list(identifiers.values()) if isinstance(identifiers, dict) else []
        if "id" in item:
            values.append(item["id"])
        return any(isinstance(v, str) and v in chosen for v in values)

    def update(self, settings: Mapping[str, Any]) -> None:
        """Apply settings from JSON (the admin endpoint): the :data:`SETTABLE` numbers, ``reject_ids``
        (a list), ``storm_seconds``, ``seed`` and ``clear: true``. Raises ``ValueError`` on unknown keys."""
        unknown = set(settings) - {*SETTABLE, "reject_ids", "storm_seconds", "seed", "clear"}
        if unknown:
            raise ValueError(
                f"unknown fault settings: {sorted(unknown)}; known: {sorted(SETTABLE)}, "
                "reject_ids, storm_seconds, seed, clear"
            )
        if settings.get("clear"):
            self.clear()
        for name, kind in SETTABLE.items():
            if name in settings:
                setattr(self, name, kind(settings[name]))
        if "reject_ids" in settings:
            ids = settings["reject_ids"]
            self.reject_items = {str(v) for v in ids} if ids else None
        if "seed" in settings:
            self.seed = int(settings["seed"])
            self.rng = random.Random(self.seed)
        if "storm_seconds" in settings:
            self.storm(float(settings["storm_seconds"]))

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in SETTABLE}
        chosen = self.reject_items
        out["reject_ids"] = sorted(chosen) if isinstance(chosen, set) else None
        out["reject_predicate"] = callable(chosen)
        until = self.storm_until
        out["storm_remaining"] = max(0.0, until - self.clock()) if until is not None else 0.0
        out["seed"] = self.seed
        return out
