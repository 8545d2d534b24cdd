"""The nightly run: data in, the day's new actions out, recorded once in the ledger.

    source -> clean tables (+ rejects) -> plan over the history -> candidate actions
           -> contact rules, date by date (emitted, deferred, merged or expired)
           -> ledger (every decision, one transaction with the run record) -> sinks

A range of dates is one set-based pass of the evaluator; the contact rules then go
through its dates in order, so a range and its nights agree. Re-running any date
emits nothing new.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config
from .contact import STATUSES, ContactResult, in_memory, recorded
from .engine.batch import evaluate
from .engine.bulk import collector_paused
from .event import rebuild
from .ledger import Ledger, RunRecord
from .lifecycle import lifecycle_actions
from .plan import Plan
from .sources import LoadedSource, open_source
from .validation.targets import known_targets, unknown_targets

Progress = Callable[[str], None]


@dataclass
class RunSummary:
    as_of: dt.date
    through: dt.date
    candidates: Counter[str] = field(default_factory=Counter)
    new: Counter[str] = field(default_factory=Counter)
    actions: list[dict[str, Any]] = field(default_factory=list)  # the emitted ones
    source: LoadedSource | None = None
    contact: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    contact_reasons: dict[str, int] = field(default_factory=dict)
    unknown_targets: list[str] = field(default_factory=list)  # overrides that do nothing

    def to_json(self) -> dict[str, Any]:
        counts = self.source.counts if self.source else {}
        return {
            "as_of": self.as_of.isoformat(),
            "through": self.through.isoformat(),
            "candidates": sum(self.candidates.values()),
            "new": sum(self.new.values()),
            "per_policy": {p: {"candidates": self.candidates[p], "new": self.new[p]}
                           for p in sorted(self.candidates)},
            "contact": {"candidates": sum(self.contact.values()), **self.contact,
                        "reasons": self.contact_reasons},
            "input": {t: c.to_json() for t, c in counts.items()},
            "unknown_override_targets": self.unknown_targets,
        }


def load_source(data: Path | Config, through: dt.date, rejects: Path | None) -> LoadedSource:
    """Rows dated after the real today are rejected as future dates; rows after the
    run's last date are simply not evaluated yet (the engine stops at `through`)."""
    limit = max(dt.date.today(), through)
    return open_source(data, as_of_limit=limit, rejects_path=rejects)


def run_range(plan: Plan, source: LoadedSource, as_of: dt.date, through: dt.date,
              state: Path | None, progress: Progress = lambda _m: None,
              config: Config | None = None) -> RunSummary:
    """Evaluate every date from as_of to through, apply the contact rules, record.

    With a ledger, escalations of overdue follow-ups and routed feedback (from the
    ledger and the outcomes as they stand when the run starts) join the candidates.
    With no `state` (backtest) nothing is recorded and the contact rules start from
    an empty history.
    """
    with collector_paused():  # every record of the run is kept to its end: engine/bulk.py
        return _run_range(plan, source, as_of, through, state, progress, config)


def _run_range(plan: Plan, source: LoadedSource, as_of: dt.date, through: dt.date,
               state: Path | None, progress: Progress, config: Config | None) -> RunSummary:
    summary = RunSummary(as_of, through, source=source)
    overrides = [o for p in plan.policies for o in p.overrides]
    if overrides:  # reading the data's stores and regions costs a scan: only when needed
        summary.unknown_targets = unknown_targets(overrides, known_targets(source.connection))
    progress(f"evaluating {len(plan.policies)} policies from {as_of} to {through}")
    evaluation = evaluate(source.connection, plan, as_of, through)
    if state is not None:
        for task in lifecycle_actions(state, as_of, through, config):
            evaluation.actions.append(task)
            evaluation.per_policy[task["policy"]] += 1
    summary.candidates = Counter({p.id: 0 for p in plan.policies}) + evaluation.per_policy
    summary.candidates.update({p.id: 0 for p in plan.policies if p.id not in summary.candidates})
    if state is None:
        result = in_memory(plan.contact, source.connection, evaluation.actions, as_of, through)
    else:
        progress(f"applying the contact rules and recording in the ledger {state}")
        with Ledger.open(state) as ledger:
            result = recorded(plan.contact, source.connection, evaluation.actions, as_of,
                              through, ledger, lambda r: _record(
                                  plan, source, as_of, through, summary, evaluation.actions, r))
    if state is not None:
        progress("rebuilding the customer views for the point of sale")
        rebuild(state, source.connection, through, plan)
    summary.actions = result.emitted
    summary.contact, summary.contact_reasons = result.counts, result.reasons
    summary.new = Counter(a["policy"] for a in summary.actions)
    return summary


def _record(plan: Plan, source: LoadedSource, as_of: dt.date, through: dt.date,
            summary: RunSummary, actions: list[dict[str, Any]],
            contact: ContactResult) -> RunRecord:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return RunRecord(
        run_id=f"{now}-{uuid.uuid4().hex[:8]}",
        started_at=now,
        bundle=plan.bundle,
        as_of=as_of.isoformat(),
        through=through.isoformat(),
        counts={"candidates": len(actions),
                "per_policy": dict(sorted(summary.candidates.items())),
                "rejects": source.reject_total,
                "contact": {**contact.counts, "reasons": contact.reasons}},
        input_fingerprint=source.input_fingerprint,
    )


def last_through(state: Path) -> dt.date | None:
    """The last date a previous run covered, for catch-up after missed nights."""
    if not state.exists():
        return None
    with Ledger.open(state) as ledger:
        dates = [r.run.through or r.run.as_of for r in ledger.runs()]
    return max((dt.date.fromisoformat(d) for d in dates), default=None)
