"""The nightly run: data in, the day's new actions out, recorded once in the ledger.

    source -> clean tables (+ rejects) -> plan over the history -> candidate actions
           -> contact rules, date by date (emitted, deferred, merged or expired)
           -> ledger (every decision and the outbox, one transaction with the run record)
           -> delivery (each date's files rebuilt from the ledger, then marked delivered)
           -> the point-of-sale views refreshed (those whose inputs changed)

A range of dates is one set-based pass of the evaluator; the contact rules then go
through its dates in order, so a range and its nights agree. Re-running any date
emits nothing new and writes its files again, the same bytes. The views come last:
a crash there leaves every action delivered, and the next run refreshes them.

A run for one store (`store`, several stores sharing a ledger) keeps the candidates
of that store (its `store_id`), decides them against the store's own rows, delivers
the store's actions and rebuilds its customers' views (docs/postgresql.md, Stores).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .config import Config
from .configkeys import boolean
from .contact import STATUSES, ContactResult, in_memory, recorded
from .crashpoints import reached
from .delivery import Delivery, SheetText, Target, dates_of, deliver, enqueue
from .engine.batch import Evaluation, evaluate
from .engine.bulk import collector_paused
from .engine.occasions import occasion_table
from .event import rebuild
from .event.evaluator import decided_at_close
from .ledger import Ledger, RunRecord
from .lifecycle import escalations, routing_actions
from .plan import Plan
from .sinks.directory import Directory, directory_from
from .sources import LoadedSource, ingest, open_source
from .state import Connection, StateStore
from .state.sqlite import SqliteState
from .statefile import as_state
from .validation.targets import known_targets, unknown_targets

Progress = Callable[[str], None]
# The set-based evaluation of a range: DuckDB in-process by default, or the same plan
# on Spark (engine/spark.py, `--engine spark`).
Evaluator = Callable[[LoadedSource, Plan, dt.date, dt.date], Evaluation]


def on_duckdb(source: LoadedSource, plan: Plan, as_of: dt.date, through: dt.date
              ) -> Evaluation:
    return evaluate(source.connection, plan, as_of, through, source.config.timezone)


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
    run_id: str | None = None
    delivery: Delivery | None = None
    missing_tables: list[str] = field(default_factory=list)  # "policy: table" never firing

    def to_json(self) -> dict[str, Any]:
        counts = self.source.counts if self.source else {}
        return {
            "run_id": self.run_id,
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
            "delivered": _delivery_json(self.delivery),
            "missing_tables": self.missing_tables,
        }


def _delivery_json(delivery: Delivery | None) -> dict[str, Any] | None:
    if delivery is None:
        return None
    return {"target": str(delivery.target), "dates": len(delivery.days),
            "actions": delivery.actions, "redelivered": delivery.redelivered,
            "owed_elsewhere": delivery.elsewhere}


def sheet_text(plan: Plan, directory: Directory | None = None) -> SheetText:
    """The task sheets' template texts and policy titles, from the policy set, and who
    is who, from the data (sinks/directory.py)."""
    return SheetText(plan.templates, {p.id: p.spec.title for p in plan.policies},
                     directory=directory)


def sheet_directory(source: LoadedSource, config: Config | None) -> Directory:
    """Names and locales from the source; contact details when `[sheets] enrich`."""
    sections = config.sections if config is not None else {}
    return directory_from(source.connection, boolean(sections, "sheets", "enrich"))


def load_source(data: Path | Config, through: dt.date, rejects: Path | None,
                kept: Path | None = None) -> LoadedSource:
    """Rows dated after the real today are rejected as future dates; rows after the
    run's last date are simply not evaluated yet (the engine stops at `through`).
    With `kept`, that ingest store reads only new or changed files (sources/ingest.py)."""
    limit = max(dt.date.today(), through)
    return open_source(data, as_of_limit=limit, rejects_path=rejects, store=kept)


def ingest_store(state: StateStore, store: str | None) -> Path | None:
    """The ingest store beside a SQLite state file; none beside a PostgreSQL ledger (the
    run keeps no local files there) or a private in-memory state."""
    if isinstance(state, SqliteState) and str(state.path) != ":memory:":
        return ingest.store_path(state.path, store)
    return None


def run_range(plan: Plan, source: LoadedSource, as_of: dt.date, through: dt.date,
              state: StateStore | Path | None, progress: Progress = lambda _m: None,
              config: Config | None = None, target: Target | None = None, *,
              store: str | None = None, evaluator: Evaluator = on_duckdb) -> RunSummary:
    """Evaluate every date from as_of to through, apply the contact rules, record,
    deliver to `target`, refresh the point-of-sale views (event/rebuild.py).

    With a ledger, escalations of overdue follow-ups and routed feedback (from the
    ledger and the outcomes as they stand when the run starts) join the candidates,
    and the caller holds the state's run lock (runlock.py). With a `target`, every
    date of the range is written to it from the ledger, with whatever earlier runs
    left owed to it; a file that cannot be written raises DeliveryFailed after the
    commit (what was recorded stays owed). With no `state` (backtest) nothing is
    recorded or written and the contact rules start from an empty history. With a
    `store`, only that store's actions are kept (see the module doc). `evaluator`
    finds the candidates (the contact rules, ledger and sinks are the same on any).
    """
    located = None if state is None else as_state(state)
    if target is not None and store is not None:
        target = replace(target, store=store)  # the store's own outbox
    with collector_paused():  # every record of the run is kept to its end: engine/bulk.py
        return _run_range(plan, source, as_of, through, located, progress, config, target,
                          store, evaluator)


def _run_range(plan: Plan, source: LoadedSource, as_of: dt.date, through: dt.date,
               state: StateStore | None, progress: Progress, config: Config | None,
               target: Target | None, store: str | None, evaluator: Evaluator
               ) -> RunSummary:
    summary = RunSummary(as_of, through, source=source)
    overrides = [o for p in plan.policies for o in p.overrides]
    if overrides:  # reading the data's stores and regions costs a scan: only when needed
        summary.unknown_targets = unknown_targets(overrides, known_targets(source.connection))
    summary.missing_tables = missing_tables(plan, source.present)
    progress(f"evaluating {len(plan.policies)} policies from {as_of} to {through}")
    evaluation = evaluator(source, plan, as_of, through)
    if store is not None:
        _keep_store(evaluation, store)
    if state is not None:
        for task in routing_actions(state, as_of, through, config, store):
            evaluation.actions.append(task)  # escalations come day by day, below
            evaluation.per_policy[task["policy"]] += 1
    summary.candidates = Counter({p.id: 0 for p in plan.policies}) + evaluation.per_policy
    summary.candidates.update({p.id: 0 for p in plan.policies if p.id not in summary.candidates})
    if state is None:
        result = in_memory(plan.contact, source.connection, evaluation.actions, as_of, through,
                           decided_at_close(plan))
    else:
        progress(f"applying the contact rules and recording in the ledger {state}")
        with Ledger.open(state, store) as ledger:
            result = recorded(
                plan.contact, source.connection, evaluation.actions, as_of, through, ledger,
                lambda r: _record(plan, source, as_of, through, summary, r, store),
                delivered_on=through,  # a run is delivered on the night of its last date
                follow_ups=lambda conn, start, end: escalations(conn, start, end, config,
                                                                plan.contact, store),
                also=lambda conn, run_id: _owe(conn, run_id, target, summary),
                at_close=decided_at_close(plan))
    summary.actions = result.emitted
    summary.contact, summary.contact_reasons = result.counts, result.reasons
    summary.new = Counter(a["policy"] for a in summary.actions)
    if state is not None:
        reached("after-commit")
        _deliver(plan, state, as_of, through, target, summary, progress,
                 lambda: sheet_directory(source, config))
        progress("refreshing the customer views for the point of sale")
        rebuild(state, source.connection, through, plan, source.config.timezone, store)
    return summary


def _keep_store(evaluation: Evaluation, store: str) -> None:
    """Only the candidates of `store`: the others are other stores' runs' to decide."""
    evaluation.actions[:] = [a for a in evaluation.actions if a.get("store_id") == store]
    evaluation.per_policy.clear()
    evaluation.per_policy.update(a["policy"] for a in evaluation.actions)


def _owe(conn: Connection, run_id: str, target: Target | None, summary: RunSummary) -> None:
    """Inside the decision transaction: the run's id, and what it owes its target."""
    summary.run_id = run_id
    if target is not None:
        enqueue(conn, run_id, target)


def _deliver(plan: Plan, state: StateStore, as_of: dt.date, through: dt.date, target: Target | None,
             summary: RunSummary, progress: Progress,
             directory: Callable[[], Directory]) -> None:
    if target is None or summary.run_id is None:
        return
    progress(f"writing the actions of {as_of} .. {through} to {target}")
    people = directory() if target.per_day else None  # only task sheets show people
    summary.delivery = deliver(state, target, dates_of(as_of, through), summary.run_id,
                               sheet_text(plan, people))


def _record(plan: Plan, source: LoadedSource, as_of: dt.date, through: dt.date,
            summary: RunSummary, contact: ContactResult, store: str | None = None
            ) -> RunRecord:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    summary.candidates.update(d.record["policy"] for d in contact.decisions.values()
                              if d.record["reason"]["trigger"] == "escalation")
    return RunRecord(
        run_id=f"{now}-{uuid.uuid4().hex[:8]}",
        started_at=now,
        bundle=plan.bundle,
        as_of=as_of.isoformat(),
        through=through.isoformat(),
        counts={"candidates": sum(summary.candidates.values()),
                "per_policy": dict(sorted(summary.candidates.items())),
                "rejects": source.reject_total,
                "contact": {**contact.counts, "reasons": contact.reasons}},
        input_fingerprint=source.input_fingerprint,
        store=store,
    )


def missing_tables(plan: Plan, present: frozenset[str]) -> list[str]:
    """Policies whose occasions come from a table the data lacks: they never fire
    (a warning, not an error: a store may have no complaints table yet)."""
    found = []
    for policy in plan.policies:
        table = occasion_table(policy.spec.trigger)
        if table is not None and table not in present:
            found.append(f"{policy.id}: no {table} table")
    return sorted(set(found))


def last_through(state: StateStore | Path, store: str | None = None) -> dt.date | None:
    """The last date a previous run covered (of `store`, or of any store's and every
    store's runs when None), for catch-up after missed nights."""
    located = as_state(state)
    if not located.exists():
        return None
    with Ledger.open(located) as ledger:
        dates = [r.run.through or r.run.as_of for r in ledger.runs()
                 if store is None or r.run.store in (store, None)]
    return max((dt.date.fromisoformat(d) for d in dates), default=None)
