"""`explain`: why each policy fired for a customer on a date, or why not, and then
what the contact rules did with each action.

It runs the batch engine's own compiled query for that customer and date, with the
conditions projected instead of filtered: the values shown are the values the run
used. Schedules are not narrowed to their pinned dates here, so a birthday policy
on another day still shows `is_birthday(...) -> false` rather than nothing. Each
param is shown with the file that set its value at that store (HQ, region, store).
Each action's contact decision is the one the ledger recorded, else the one a run of
that night would take now (contact/story.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ..conditions.ast import Node
from ..contact.story import contact_stories
from ..event.evaluator import decided_at_close
from ..plan import CompiledPolicy, Plan
from ..state import StateStore
from ..validation.overrides import provenance
from ..validation.params import as_typed
from .actions import Assembler, format_value
from .batch import CANDIDATES, evaluate, fetch, prepare
from .compile import build_query, value_spans
from .segments import DETAILS
from .triggers import Candidates, schedule

GATES = ("in its effective window", "in scope", "enabled here")
NO_CANDIDATE = {
    "purchase": "no receipt of this customer on this date",
    "first_purchase": "this date is not the customer's first purchase",
    "crossing": "no crossing of the threshold on this date",
    "upgrade": "the tier held did not rise on this date",
    "downgrade": "the tier held did not fall (judged on 1 January only)",
    "schedule": "the schedule does not run on this date",
    "complaint": "no complaint of this customer on this date",
    "event": "no host event of these kinds for this customer on this date",
}


@dataclass
class ConditionTrace:
    text: str
    shown: str  # the condition with each fact replaced by its value
    result: str  # true, false or missing


@dataclass
class ParamTrace:
    name: str
    value: str
    origin: str  # "HQ: <policy file>", "region R: <file:line:col>", "store S: ..."


@dataclass
class CandidateTrace:
    event: str
    subject: str  # the receipt, tier change or date the row is about
    gates: list[tuple[str, bool]]
    conditions: list[ConditionTrace]
    actions: list[dict[str, Any]] = field(default_factory=list)
    params: list[ParamTrace] = field(default_factory=list)
    # action id -> what the contact rules did: status, reason, day, deferred_to,
    # merged_into, recorded (True: the ledger's; False: a run of the night, now)
    contact: dict[str, dict[str, Any]] = field(default_factory=dict)

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
    """The condition text with every fact and param replaced by its value; a
    percentile or class also with the cut-off it came from."""
    shown = text
    for start, end, path in reversed(value_spans(checked_node)):
        shown = shown[:start] + _value_shown(path, row) + shown[end:]
    return shown


def _value_shown(key: str, row: dict[str, Any]) -> str:
    value = format_value(row.get(f"v.{key}"))
    function, _, rest = key.partition(":")
    if function not in DETAILS:
        return value
    partition = rest.split(":", 1)[0]
    first, second = (format_value(row.get(f"v.{key}#{d}")) for d in DETAILS[function])
    if function == "percentile_in":
        return f"{value} [{first} of {second} in the {partition} below]"
    return f"{value} [{partition}: A from {first}, B from {second}]"


def _truth(value: Any) -> str:
    return "missing" if value is None else ("true" if value else "false")


def _candidates(plan: Plan, policy: CompiledPolicy, day: dt.date) -> list[Candidates]:
    if policy.kind == "schedule":
        return schedule(plan, policy, day, day, anchored=False)
    return CANDIDATES[policy.kind](plan, policy, day, day)


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
    trace = CandidateTrace(cand.event, subject, gates, conditions,
                           params=param_traces(policy, row.get("store_id"), row.get("region")))
    if trace.fired:
        names = list(row)
        assemble = Assembler(policy, cand.actions, cand.event, names, paths, bundle)
        trace.actions = list(assemble([row[n] for n in names]))
    return trace


def param_traces(policy: CompiledPolicy, store: str | None, region: str | None
                 ) -> list[ParamTrace]:
    """Each param's value at the candidate's store and the file that set it."""
    values, _enabled = policy.params_at(region, store)
    origins = provenance(policy.overrides, policy.id, region, store)
    specs = policy.spec.params
    return [ParamTrace(name, _shown(specs[name].type, values[name]),
                       origins.get(name, f"HQ: {policy.source}")) for name in specs]


_UNITS = {"duration": "d", "hours": "h"}


def _shown(kind: str, value: Any) -> str:
    """A param as HQ writes it. Compiled defaults of durations and hours are ints
    already (days, hours); override values still their text ('3d')."""
    unit = _UNITS.get(kind)
    typed = value if unit and isinstance(value, int) else as_typed(kind, value)
    return format_value(typed) if unit is None or typed is None else f"{typed}{unit}"


def explain(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    customer: str,
    day: dt.date,
    policy_id: str | None = None,
    state: StateStore | Path | None = None,
) -> list[PolicyTrace]:
    prepare(con, plan, day, day, whole=True)
    traces = []
    for policy in plan.policies:
        if policy_id is not None and policy.id != policy_id:
            continue
        candidates, missing = [], []
        for cand in _candidates(plan, policy, day):
            query = build_query(plan, policy, cand, explain_for=(customer, day))
            rows = fetch(con, query)
            if not rows:
                missing.append(NO_CANDIDATE[cand.event])
            candidates += [
                _trace_row(policy, cand, r, query.reason_paths, plan.bundle) for r in rows
            ]
        traces.append(PolicyTrace(policy.id, policy.version, policy.kind, candidates, missing))
    _contact(con, plan, day, traces, state)
    return traces


def _contact(con: duckdb.DuckDBPyConnection, plan: Plan, day: dt.date,
             traces: list[PolicyTrace], state: StateStore | Path | None) -> None:
    """What the contact rules did with every action the traces fired."""
    fired = [(c, a) for t in traces for c in t.candidates for a in c.actions]
    if not fired:
        return
    stories = contact_stories(plan.contact, con, day, [a for _c, a in fired],
                              lambda: evaluate(con, plan, day, day).actions, state,
                              decided_at_close(plan))
    for cand, action in fired:
        cand.contact[action["action_id"]] = stories[action["action_id"]]
