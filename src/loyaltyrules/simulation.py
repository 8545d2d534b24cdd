"""Impact simulation: two policy sets over the same history, compared action by action.

Each set is evaluated over the range in one set-based pass, with the contact rules,
exactly as `backtest` does (nothing is recorded). Actions are matched by their
deterministic id: an id only the candidate has is added, one only the baseline has
is removed, one both have with a different record is changed. The bundle id, the
policy version and the values a reason quotes (a changed threshold is quoted in every
action it still lets through) are not compared: they change nothing a store does.

Evaluating the candidate reuses the baseline's candidate actions of every policy both
sets hold unchanged (same id, version and content; the tier ladder and the
declared metrics unchanged too, since conditions read them): only the changed and
added policies are evaluated again. The contact rules then run over each set's whole
list, as they would.

Workload is what an associate has to do: calls and visits, counted on the day they
reach the associate's task sheet (`not_before`), per associate (the assignee's id,
else the role at the store, e.g. `store_manager@S1`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb

from .contact import in_memory
from .contact.apply import ContactResult
from .contact.decide import EMITTED
from .engine.batch import evaluate
from .engine.bulk import collector_paused
from .event.evaluator import decided_at_close
from .plan import CompiledPolicy, Plan
from .release.diff import metrics_content
from .sources import LoadedSource

NOT_COMPARED = frozenset({"bundle", "policy_version"})
WORK_TYPES = ("call", "visit")
Key = tuple[str, str, str, str]  # policy, store, ISO week, associate


def associate(action: Mapping[str, Any]) -> str:
    assignee = action.get("assignee") or {}
    if assignee.get("id"):
        return str(assignee["id"])
    return f"{assignee.get('role', 'unassigned')}@{action.get('store_id')}"


def week(action: Mapping[str, Any]) -> str:
    year, number, _day = dt.date.fromisoformat(str(action["as_of"])).isocalendar()
    return f"{year}-W{number:02d}"


def _key(action: Mapping[str, Any]) -> Key:
    return (str(action["policy"]), str(action.get("store_id")), week(action), associate(action))


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a.keys() == b.keys() and all(a[k] == b[k] for k in a if k not in NOT_COMPARED):
        return True  # most are: reason values included
    return _comparable(a) == _comparable(b)


def _comparable(action: Mapping[str, Any]) -> dict[str, Any]:
    found = {k: v for k, v in action.items() if k not in NOT_COMPARED}
    reason = found.get("reason")
    if isinstance(reason, Mapping):
        found["reason"] = {k: v for k, v in reason.items() if k != "values"}
        merged = reason.get("merged")
        if isinstance(merged, list):
            found["reason"]["merged"] = [_comparable(m) for m in merged]
    return found


@dataclass
class Workload:
    """Calls and visits per associate per day, for one policy set."""

    days: Counter[tuple[str, str]] = field(default_factory=Counter)  # (associate, day)
    stores: dict[str, str] = field(default_factory=dict)  # associate -> store

    def add(self, action: Mapping[str, Any]) -> None:
        if action["type"] in WORK_TYPES:
            who = associate(action)
            self.days[(who, str(action.get("not_before") or action["as_of"]))] += 1
            self.stores.setdefault(who, str(action.get("store_id")))

    def peak(self, who: str) -> tuple[str | None, int]:
        """The associate's busiest day and its count (the earliest of equal days)."""
        mine = sorted((day, n) for (a, day), n in self.days.items() if a == who)
        if not mine:
            return None, 0
        return max(mine, key=lambda item: item[1])  # the first, so the earliest, of ties

    def total(self, who: str) -> int:
        return sum(n for (a, _day), n in self.days.items() if a == who)


@dataclass
class Impact:
    start: dt.date
    end: dt.date
    baseline_bundle: str
    candidate_bundle: str
    added: Counter[Key] = field(default_factory=Counter)
    removed: Counter[Key] = field(default_factory=Counter)
    changed: Counter[Key] = field(default_factory=Counter)
    # (store, associate, type) of the added actions
    added_by_type: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    baseline: Workload = field(default_factory=Workload)
    candidate: Workload = field(default_factory=Workload)
    newly_contacted: set[str] = field(default_factory=set)
    no_longer_contacted: set[str] = field(default_factory=set)
    totals: dict[str, int] = field(default_factory=dict)

    def changed_keys(self) -> list[Key]:
        return sorted(set(self.added) | set(self.removed) | set(self.changed))

    def associates(self) -> list[str]:
        return sorted({a for a, _d in self.baseline.days} | {a for a, _d in self.candidate.days})


def compare(baseline: Sequence[Mapping[str, Any]], candidate: Sequence[Mapping[str, Any]],
            start: dt.date, end: dt.date, bundles: tuple[str, str]) -> Impact:
    impact = Impact(start, end, *bundles)
    before = {a["action_id"]: a for a in baseline}
    after = {a["action_id"]: a for a in candidate}
    for action_id, action in after.items():
        old = before.get(action_id)
        if old is None:
            impact.added[_key(action)] += 1
            impact.added_by_type[(str(action.get("store_id")), associate(action),
                                  str(action["type"]))] += 1
        elif not _same(old, action):
            impact.changed[_key(action)] += 1
    for action_id, action in before.items():
        if action_id not in after:
            impact.removed[_key(action)] += 1
    _workloads(impact, before.values(), after.values())
    _customers(impact, before.values(), after.values())
    impact.totals = {"baseline": len(before), "candidate": len(after),
                     "added": sum(impact.added.values()), "removed": sum(impact.removed.values()),
                     "changed": sum(impact.changed.values())}
    return impact


def _workloads(impact: Impact, before: Iterable[Mapping[str, Any]],
               after: Iterable[Mapping[str, Any]]) -> None:
    for action in before:
        impact.baseline.add(action)
    for action in after:
        impact.candidate.add(action)


def _customers(impact: Impact, before: Iterable[Mapping[str, Any]],
               after: Iterable[Mapping[str, Any]]) -> None:
    was = {str(a["customer_id"]) for a in before}
    now = {str(a["customer_id"]) for a in after}
    impact.newly_contacted = now - was
    impact.no_longer_contacted = was - now


def simulate(source: LoadedSource, baseline: Plan, candidate: Plan, start: dt.date,
             end: dt.date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The actions each set emits over the range, after the contact rules, as a
    backtest of each would (nothing recorded)."""
    con, zone = source.connection, source.config.timezone
    with collector_paused():  # the records are acyclic: engine/bulk.py
        before = evaluate(con, baseline, start, end, zone).actions
        changed = changed_policies(baseline, candidate)
        if changed is None or baseline.contact != candidate.contact:
            after = evaluate(con, candidate, start, end, zone).actions
            return (_contact(baseline, con, before, start, end).emitted,
                    _contact(candidate, con, after, start, end).emitted)
        return _split(baseline, candidate, con, before,
                      evaluate(con, candidate, start, end, zone, only=changed).actions,
                      changed, (start, end))


def _contact(plan: Plan, con: duckdb.DuckDBPyConnection, actions: list[dict[str, Any]],
             start: dt.date, end: dt.date) -> ContactResult:
    return in_memory(plan.contact, con, actions, start, end, decided_at_close(plan))


def _split(baseline: Plan, candidate: Plan, con: duckdb.DuckDBPyConnection,
           before: list[dict[str, Any]], fresh: list[dict[str, Any]], changed: frozenset[str],
           span: tuple[dt.date, dt.date]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both sets' emitted actions when only the `changed` policies differ and the
    contact rules are the same. The rules decide each customer's actions apart from
    everyone else's (consent, caps, merges and deferrals are per customer), so a
    customer with no action of a changed policy in either set gets the same decisions
    in both: those are decided once, and only the other customers' twice."""
    touched = {a["customer_id"] for a in before if a["policy"] in changed}
    touched.update(a["customer_id"] for a in fresh)
    shared = _contact(baseline, con, [a for a in before if a["customer_id"] not in touched],
                      *span)
    mine = [a for a in before if a["customer_id"] in touched]
    theirs = [dict(a, bundle=candidate.bundle) for a in mine if a["policy"] not in changed]
    old = _contact(baseline, con, mine, *span)
    new = _contact(candidate, con, _by_date([*theirs, *fresh]), *span)
    restamped = {i: replace(d, record=dict(d.record, bundle=candidate.bundle))
                 if d.status == EMITTED else d for i, d in shared.decisions.items()}
    return (ContactResult({**shared.decisions, **old.decisions}).emitted,
            ContactResult({**restamped, **new.decisions}).emitted)


def _by_date(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """In the evaluator's order."""
    return sorted(actions, key=lambda a: (a["as_of"], a["policy"], a["customer_id"],
                                          a["action_id"]))


def changed_policies(baseline: Plan, candidate: Plan) -> frozenset[str] | None:
    """The candidate's policies to evaluate again: those not held unchanged by the
    baseline; None (all of them) when the tier ladder or a declared metric changed."""
    def content(policies: Iterable[CompiledPolicy]) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for p in policies:
            found.setdefault(p.id, []).append(
                (p.version, p.spec.model_dump(mode="json"), _overrides(p)))
        return found

    if metrics_content(baseline) != metrics_content(candidate):
        return None
    old, new = content(baseline.policies), content(candidate.policies)
    changed = frozenset(i for i in new if old.get(i) != new[i])
    ladder = candidate.ladder
    if ladder is not None and ladder.id in changed:
        return None
    if (baseline.ladder is None) != (ladder is None):
        return None
    return changed


def _overrides(policy: CompiledPolicy) -> list[Any]:
    return sorted((o.target_kind, o.target, sorted(o.params.items(), key=str), o.enabled)
                  for o in policy.overrides)
