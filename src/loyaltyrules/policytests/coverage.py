"""Coverage of a policy set by its test cases: for each policy, which conditions were
ever true and ever false on a candidate past the policy's gates (in force, in scope,
enabled), and which actions ever fired.

It runs the batch engine's own query for each candidate with the conditions projected
instead of filtered (as `explain` does), so the values are the ones the cases' runs used.
A condition over a missing fact counts as false, as it does when it is evaluated.
Schedules are not narrowed to their pinned dates here (as in `explain`): a birthday
condition is false for the customers whose birthday is not that day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ..engine.actions import Assembler
from ..engine.batch import CANDIDATES, chosen, fetch_rows, store_zones
from ..engine.compile import PolicyQuery, build_query
from ..engine.triggers import Candidates, schedule
from ..plan import CompiledPolicy, Plan


@dataclass
class Coverage:
    """What the cases exercised: (policy, condition index) seen true / false, and
    (policy, action index) fired. Plain sets, so results from several workers merge."""

    true: set[tuple[str, int]] = field(default_factory=set)
    false: set[tuple[str, int]] = field(default_factory=set)
    fired: set[tuple[str, int]] = field(default_factory=set)

    def merge(self, other: Coverage) -> None:
        self.true |= other.true
        self.false |= other.false
        self.fired |= other.fired


def cover(con: duckdb.DuckDBPyConnection, plan: Plan, start: dt.date, end: dt.date,
          only: frozenset[str] | None) -> Coverage:
    """Coverage of one case; the connection holds what `evaluate` prepared for it."""
    seen = Coverage()
    zones = store_zones(con)
    for policy in chosen(plan, only):
        for cand in _candidates(plan, policy, start, end):
            query = build_query(plan, policy, cand, covering=True)
            names, rows = fetch_rows(con, query)
            for row in rows:
                _note(seen, query, dict(zip(names, row, strict=True)), plan.bundle, zones)
    return seen


def _candidates(plan: Plan, policy: CompiledPolicy, start: dt.date, end: dt.date
                ) -> list[Candidates]:
    if policy.kind == "schedule":
        return schedule(plan, policy, start, end, anchored=False)
    return CANDIDATES[policy.kind](plan, policy, start, end)


def _note(seen: Coverage, query: PolicyQuery, row: dict[str, Any], bundle: str,
          zones: Any) -> None:
    policy = query.policy
    held = True
    for i in range(len(policy.conditions)):
        if row[f"c.{i}"]:
            seen.true.add((policy.id, i))
        else:
            seen.false.add((policy.id, i))
            held = False
    if not held:
        return
    names = list(row)
    for action in query.candidates.actions:
        assemble = Assembler(policy, (action,), query.candidates.event, names,
                             query.reason_paths, bundle, zones)
        if list(assemble([row[n] for n in names])):
            seen.fired.add((policy.id, action.index))


@dataclass(frozen=True)
class PolicyCoverage:
    policy: str
    conditions: list[tuple[str, bool, bool]]  # text, ever true, ever false
    actions: list[tuple[str, bool]]  # "#index type", ever fired

    @property
    def covered(self) -> int:
        return (sum(t + f for _c, t, f in self.conditions)
                + sum(fired for _a, fired in self.actions))

    @property
    def total(self) -> int:
        return 2 * len(self.conditions) + len(self.actions)


def report(plan: Plan, seen: Coverage, only: Iterable[str] | None = None
           ) -> list[PolicyCoverage]:
    """Per policy of the plan (or of `only`), what the cases covered."""
    wanted = None if only is None else frozenset(only)
    return [_policy_report(p, seen) for p in chosen(plan, wanted)]


def _policy_report(policy: CompiledPolicy, seen: Coverage) -> PolicyCoverage:
    conditions = [(text, (policy.id, i) in seen.true, (policy.id, i) in seen.false)
                  for i, (text, _node) in enumerate(policy.conditions)]
    actions = [(f"#{a.index} {a.spec.type}", (policy.id, a.index) in seen.fired)
               for a in policy.actions]
    return PolicyCoverage(policy.id, conditions, actions)


def percent(reports: Iterable[PolicyCoverage]) -> float:
    """Covered items over all items (each condition true and false, each action fired)."""
    items = list(reports)
    total = sum(r.total for r in items)
    return 100.0 if total == 0 else 100.0 * sum(r.covered for r in items) / total
