"""`explain`: why each policy fired for a customer on a date, or why not.

It runs the batch engine's own compiled query for that customer and date, with the
conditions projected instead of filtered: the values shown are the values the run
used. Schedules are not narrowed to their pinned dates here, so a birthday policy
on another day still shows `is_birthday(...) -> false` rather than nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ..conditions.ast import Node
from ..plan import CompiledPolicy, Plan
from .actions import Assembler, format_value
from .batch import CANDIDATES, fetch, prepare
from .compile import build_query, value_spans
from .triggers import Candidates, schedule

GATES = ("in its effective window", "in scope", "enabled here")
NO_CANDIDATE = {
    "purchase": "no receipt of this customer on this date",
    "first_purchase": "this date is not the customer's first purchase",
    "crossing": "no crossing of the threshold on this date",
    "upgrade": "the tier held did not rise on this date",
    "downgrade": "the tier held did not fall (judged on 1 January only)",
    "schedule": "the schedule does not run on this date",
}


@dataclass
class ConditionTrace:
    text: str
    shown: str  # the condition with each fact replaced by its value
    result: str  # true, false or missing


@dataclass
class CandidateTrace:
    event: str
    subject: str  # the receipt, tier change or date the row is about
    gates: list[tuple[str, bool]]
    conditions: list[ConditionTrace]
    actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fired(self) -> bool:
        return all(ok for _n, ok in self.gates) and all(c.result == "true" for c in self.conditions)


@dataclass
class PolicyTrace:
    policy: str
    version: int
    trigger: str
    candidates: list[CandidateTrace]
    not_triggered: list[str]

    @property
    def fired(self) -> bool:
        return any(c.fired for c in self.candidates)


def _substituted(text: str, checked_node: Node | None, row: dict[str, Any]) -> str:
    """The condition text with every fact and param replaced by its value."""
    shown = text
    for start, end, path in reversed(value_spans(checked_node)):
        shown = shown[:start] + format_value(row.get(f"v.{path}")) + shown[end:]
    return shown


def _truth(value: Any) -> str:
    return "missing" if value is None else ("true" if value else "false")


def _candidates(policy: CompiledPolicy, day: dt.date) -> list[Candidates]:
    if policy.kind == "schedule":
        return schedule(policy, day, day, anchored=False)
    return CANDIDATES[policy.kind](policy, day, day)


def _trace_row(
    policy: CompiledPolicy,
    cand: Candidates,
    row: dict[str, Any],
    paths: tuple[str, ...],
    bundle: str,
) -> CandidateTrace:
    gates = [(name, bool(row.get(f"gate.{i}"))) for i, name in enumerate(GATES)]
    conditions = [
        ConditionTrace(text, _substituted(text, checked.node, row), _truth(row.get(f"c.{i}")))
        for i, (text, checked) in enumerate(policy.conditions)
    ]
    subject = row.get("lr_purchase") or str(row["lr_key"])
    trace = CandidateTrace(cand.event, subject, gates, conditions)
    if trace.fired:
        names = list(row)
        assemble = Assembler(policy, cand.actions, cand.event, names, paths, bundle)
        trace.actions = list(assemble([row[n] for n in names]))
    return trace


def explain(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    customer: str,
    day: dt.date,
    policy_id: str | None = None,
) -> list[PolicyTrace]:
    prepare(con, plan, day, day, whole=True)
    traces = []
    for policy in plan.policies:
        if policy_id is not None and policy.id != policy_id:
            continue
        candidates, missing = [], []
        for cand in _candidates(policy, day):
            query = build_query(policy, cand, explain_for=(customer, day))
            rows = fetch(con, query)
            if not rows:
                missing.append(NO_CANDIDATE[cand.event])
            candidates += [
                _trace_row(policy, cand, r, query.reason_paths, plan.bundle) for r in rows
            ]
        traces.append(PolicyTrace(policy.id, policy.version, policy.kind, candidates, missing))
    return traces
