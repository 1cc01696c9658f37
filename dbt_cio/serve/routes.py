"""Which dbt Cloud jobs sync what: ``--job JOB_ID=SELECTION`` (repeatable), or every job with ``--select``.

A selection is written as for dbt's ``--select`` (``tag:cio``, ``cio_people cio_orders+``); ``--exclude`` and
``--selector`` of the command apply to every job. A job not named is ignored, unless no ``--job`` was given:
then every job of the account syncs the command's own selection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from dbt_cio.errors import UsageError

__all__ = ["JobRoutes"]


@dataclass(frozen=True)
class JobRoutes:
    """Job id -> the ``--select`` items its runs sync; ``default`` for every job when ``jobs`` is empty."""

    jobs: Mapping[int, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    default: tuple[str, ...] = ()

    @classmethod
    def parse(cls, values: Sequence[str], default: Sequence[str] = ()) -> JobRoutes:
        """From ``--job`` values (``123=tag:cio``); a bad one is a usage error naming it."""
        jobs: dict[int, tuple[str, ...]] = {}
        for value in values:
            job, sep, selection = value.partition("=")
            if not sep or not job.strip().isdigit() or int(job) < 1:
                raise UsageError(
                    f'--job {value!r}: write JOB_ID=SELECTION, e.g. --job 123="tag:cio" (the dbt Cloud job id, '
                    "then the models its runs sync, in dbt's --select syntax)"
                )
            if int(job) in jobs:
                raise UsageError(f"--job {int(job)} is given twice: give each job one selection")
            jobs[int(job)] = tuple(selection.split())
        return cls(MappingProxyType(jobs), tuple(default))

    @property
    def every_job(self) -> bool:
        return not self.jobs

    def selection(self, job_id: int | None) -> tuple[str, ...] | None:
        """What a run of ``job_id`` syncs, or None when that job is not ours to act on."""
        if self.every_job:
            return self.default
        return self.jobs.get(job_id) if job_id is not None else None

    def describe(self) -> str:
        if self.every_job:
            return (
                f"every job: --select {' '.join(self.default)}"
                if self.default
                else "every job: every model with a block"
            )
        return "; ".join(
            f"job {job}: {' '.join(sel) or 'every model with a block'}" for job, sel in self.jobs.items()
        )
