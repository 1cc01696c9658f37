"""dbt's own verdict on the models: the ``run_results.json`` of the dbt command that built them.

dbt writes ``target/run_results.json`` at the end of every command (``dbt build``, ``run``, ``test``...), with
one result per node it ran: a model ``success``, ``error`` or ``skipped``; a test ``pass``, ``fail``,
``warn``, ``error`` or ``skipped``. dbt-cio reads it to hold back a sync whose model did not build, or whose
data is known to be wrong (:func:`held_back`): a sync must never send rows dbt has just found faulty. Only the
last command's results are there, so the command that gates a sync is the last dbt command run before it
(typically ``dbt build``, which builds and tests).

Artifacts written elsewhere — by a dbt Cloud run — come as :class:`GivenArtifacts`: the manifest is used as
it is and the run's results gate the syncs. When that run did not succeed, the gate is strict (``complete``
is False): only models the run built, and whose tests in it passed, may sync.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dbt_cio.errors import UsageError

__all__ = [
    "BLOCKING_MODEL_STATUSES",
    "BLOCKING_TEST_STATUSES",
    "DbtRunResults",
    "GivenArtifacts",
    "NodeResult",
    "held_back",
]

BLOCKING_MODEL_STATUSES = frozenset({"error", "skipped"})
"""A model with one of these statuses was not (re)built: its rows are not what the project says."""
BLOCKING_TEST_STATUSES = frozenset({"fail", "error"})
"""A test with one of these statuses found (or could not rule out) bad rows; ``warn`` does not block."""


@dataclass(frozen=True)
class NodeResult:
    """One node's result in a dbt invocation."""

    unique_id: str
    status: str
    message: str | None = None
    relation_name: str | None = None


@dataclass(frozen=True)
class DbtRunResults:
    """The results of one dbt invocation: which command, when, and each node's status."""

    source: str
    invocation_id: str
    generated_at: str
    command: str | None
    target: str | None
    results: Mapping[str, NodeResult] = field(default_factory=dict)
    vars: Mapping[str, Any] | None = (
        None  # the command's --vars (dbt records them in args), None if not recorded
    )

    @classmethod
    def read(cls, path: Path) -> DbtRunResults | None:
        """The results in ``path``; None when there is no such file."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc}") from exc
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise UsageError(
                f"{path} is not valid JSON ({exc}): run dbt again, or pass --ignore-dbt-results"
            ) from exc
        return cls.from_json(document, str(path))

    @classmethod
    def from_json(cls, document: Any, source: str) -> DbtRunResults:
        """Results from a parsed ``run_results.json`` (local, or a dbt Cloud run's artifact)."""
        if not isinstance(document, Mapping) or not isinstance(document.get("results"), list):
            raise UsageError(f"{source} does not look like dbt's run_results.json (no results list)")
        metadata = document.get("metadata") or {}
        args = document.get("args") or {}
        results = {}
        for entry in document["results"]:
            if isinstance(entry, Mapping) and isinstance(entry.get("unique_id"), str):
                uid = entry["unique_id"]
                message = entry.get("message")
                relation = entry.get("relation_name")
                results[uid] = NodeResult(
                    uid,
                    str(entry.get("status")),
                    None if message is None else str(message),
                    relation if isinstance(relation, str) else None,
                )
        return cls(
            source=source,
            invocation_id=str(metadata.get("invocation_id") or "unknown"),
            generated_at=str(metadata.get("generated_at") or "unknown"),
            command=args.get("which") if isinstance(args.get("which"), str) else None,
            target=args.get("target") if isinstance(args.get("target"), str) else None,
            results=results,
            vars=args["vars"] if isinstance(args.get("vars"), Mapping) else None,
        )

    def describe(self) -> str:
        """Which invocation this is, for a note: ``dbt build (invocation 1f2e..., 2026-11-28 10:01:02 UTC)``."""
        command = f"dbt {self.command}" if self.command else "dbt"
        return f"{command} (invocation {self.invocation_id}, {_when(self.generated_at)}), read from {self.source}"


@dataclass(frozen=True)
class GivenArtifacts:
    """dbt artifacts written elsewhere (by a dbt Cloud run), used as they are: ``manifest`` is never re-parsed,
    and ``results`` (None when the run wrote none) gate the syncs instead of ``target/run_results.json``.

    ``origin`` says where they come from, for messages; ``complete`` is False when the run did not succeed,
    which makes the gate strict (see :func:`held_back`).
    """

    manifest: Path
    results: DbtRunResults | None
    origin: str
    complete: bool = True


def held_back(
    model: str, relation: str, tests: Iterable[str], results: DbtRunResults, *, strict: bool = False
) -> str | None:
    """Why the sync of ``model`` (a unique id) must wait, or None: its build errored or was skipped, or one of
    its ``tests`` (the unique ids of the tests that depend on it) failed or errored, in ``results``.

    Results about another relation than ``relation`` (the model built for another target) do not count.
    ``strict`` (the results of a run that did not succeed) also holds back a model the run did not build
    successfully, and one whose test was skipped in it.
    """
    built = results.results.get(model)
    if built is not None and built.relation_name and built.relation_name.lower() != relation.lower():
        return None
    if built is not None and built.status in BLOCKING_MODEL_STATUSES:
        detail = f": {_first_line(built.message)}" if built.message else ""
        return f"{model} has status {built.status} in {results.describe()}{detail}"
    if strict and (built is None or built.status != "success"):
        return f"{model} was not built in {results.describe()}, which did not succeed"
    blocking = BLOCKING_TEST_STATUSES | ({"skipped"} if strict else set())
    failed = [
        results.results[test]
        for test in sorted(tests)
        if test in results.results and results.results[test].status in blocking
    ]
    if not failed:
        return None
    first = failed[0]
    more = f" (and {len(failed) - 1} more test(s))" if len(failed) > 1 else ""
    detail = f": {_first_line(first.message)}" if first.message else ""
    return f"test {first.unique_id} has status {first.status}{more} in {results.describe()}{detail}"


def _when(generated_at: str) -> str:
    try:
        moment = datetime.fromisoformat(generated_at)
    except ValueError:
        return generated_at
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:300] if (text or "").strip() else ""
