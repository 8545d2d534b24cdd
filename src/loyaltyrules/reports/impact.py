"""The impact of a policy change (simulation.py) as reports: what changed per policy,
store, week and associate; and the workload per store and associate."""

from __future__ import annotations

from ..simulation import Impact
from .model import Cell, Chart, Report

__all__ = ["changes_report", "workload_report"]


def _span(impact: Impact) -> str:
    return (f"{impact.start} .. {impact.end}; baseline bundle {impact.baseline_bundle}, "
            f"candidate bundle {impact.candidate_bundle}")


def changes_report(impact: Impact) -> Report:
    rows: list[list[Cell]] = [
        [*key, impact.added[key], impact.removed[key], impact.changed[key]]
        for key in impact.changed_keys()
    ]
    t = impact.totals
    facts: list[tuple[str, Cell]] = [
        ("actions, baseline", t["baseline"]), ("actions, candidate", t["candidate"]),
        ("added", t["added"]), ("removed", t["removed"]), ("changed", t["changed"]),
        ("customers newly contacted", len(impact.newly_contacted)),
        ("customers no longer contacted", len(impact.no_longer_contacted)),
    ]
    return Report("Impact of the candidate policies", _span(impact),
                  ["policy", "store", "week", "associate", "added", "removed", "changed"],
                  rows, facts, _charts(impact))


def _charts(impact: Impact) -> list[Chart]:
    by_policy: dict[str, list[float]] = {}
    for (policy, _s, _w, _a), n in impact.added.items():
        by_policy.setdefault(policy, [0.0, 0.0])[0] += n
    for (policy, _s, _w, _a), n in impact.removed.items():
        by_policy.setdefault(policy, [0.0, 0.0])[1] += n
    labels = sorted(by_policy)
    charts = [Chart("Actions added and removed, per policy", labels,
                    {"added": [by_policy[p][0] for p in labels],
                     "removed": [by_policy[p][1] for p in labels]})]
    people = impact.associates()
    charts.append(Chart("Busiest day per associate: calls and visits", people, {
        "baseline": [float(impact.baseline.peak(a)[1]) for a in people],
        "candidate": [float(impact.candidate.peak(a)[1]) for a in people]}))
    return charts


def workload_report(impact: Impact) -> Report:
    """Per store and associate: calls and visits added, and the workload before and
    after with its busiest day."""
    stores = {**impact.baseline.stores, **impact.candidate.stores}
    rows: list[list[Cell]] = []
    for who in impact.associates():
        day_b, peak_b = impact.baseline.peak(who)
        day_c, peak_c = impact.candidate.peak(who)
        store = stores.get(who)
        rows.append([store, who,
                     impact.added_by_type[(str(store), who, "call")],
                     impact.added_by_type[(str(store), who, "visit")],
                     impact.baseline.total(who), impact.candidate.total(who),
                     day_b, peak_b, day_c, peak_c])
    rows.sort(key=lambda r: (str(r[0]), str(r[1])))
    return Report("Workload per associate (calls and visits)", _span(impact),
                  ["store", "associate", "calls added", "visits added", "baseline",
                   "candidate", "baseline peak day", "baseline peak", "candidate peak day",
                   "candidate peak"], rows)
