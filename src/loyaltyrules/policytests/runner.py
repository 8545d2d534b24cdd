"""Choosing the cases to run and running them, on several processes when it pays.

Cases are chosen before anything is evaluated (by name, file and policy), and each
evaluates only the policies it needs. Every case is independent (its own data, on a
catalog of its own: workspace.py), so they run on worker processes forked after the
plan is compiled: the workers inherit the plan instead of compiling it again. Cases
with the same dates and policies go to the same worker, which builds their queries
once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from typing import Any

from ..plan import Plan
from .cases import Case, CaseResult, run_case

# Below this many cases a worker's start costs more than it saves.
PARALLEL_FROM = 8

_plan: Plan | None = None  # the plan a forked worker inherits
_covering = False


def select(cases: Sequence[Case], keyword: str | None = None, policy: str | None = None
           ) -> list[Case]:
    """The cases whose name (or file) contains `keyword`, and that exercise `policy`."""
    return [
        c for c in cases
        if (keyword is None or keyword in c.name or keyword in c.file)
        and (policy is None or c.policy == policy or (c.needed is not None
                                                       and policy in c.needed))
    ]


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def run(plan: Plan, cases: Sequence[Case], *, jobs: int = 1, covering: bool = False
        ) -> Iterator[CaseResult]:
    """Results in the cases' order, as they come."""
    if jobs <= 1 or len(cases) < PARALLEL_FROM or not _can_fork():
        for case in cases:
            yield run_case(plan, case, covering)
        return
    global _plan, _covering
    _plan, _covering = plan, covering
    groups = _alike(cases)
    done: dict[int, CaseResult] = {}
    try:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(groups))) as pool:
            shown = 0
            tasks = [[cases[i] for i in group] for group in groups]
            for group, results in zip(groups, pool.imap(_run_in_worker, tasks), strict=True):
                done.update(zip(group, results, strict=True))
                while shown in done:
                    yield done.pop(shown)
                    shown += 1
    finally:
        _plan = None


def _alike(cases: Sequence[Case]) -> list[list[int]]:
    """The cases' positions, grouped by dates and policies needed: a group runs on one
    worker, which builds its queries once."""
    groups: dict[Any, list[int]] = {}
    for i, case in enumerate(cases):
        groups.setdefault((case.dates, case.needed), []).append(i)
    return list(groups.values())


def _run_in_worker(cases: list[Case]) -> list[CaseResult]:
    assert _plan is not None
    return [run_case(_plan, case, _covering) for case in cases]


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()
