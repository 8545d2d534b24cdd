"""The set-based evaluator: a Plan over the history up to a date range, on DuckDB.

One pass for the whole range: the running-value tables are built once, and every
policy is one query whose rows are (customer, date) pairs across the range. The
actions equal those of running each date in turn, because every fact of a date
is computed only from receipts up to that date.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ..plan import CompiledPolicy, Plan
from .actions import assemble
from .compile import PolicyQuery, _Compiler, build_query
from .contexts import build_contexts
from .history import build_history
from .ladder import build_ladder
from .triggers import Candidates, crossing, purchase, schedule, tier_ladder

EMPTY_STORES = "CREATE TABLE IF NOT EXISTS stores (store_id VARCHAR, region VARCHAR)"


def _crossing(policy: CompiledPolicy, start: dt.date, end: dt.date) -> list[Candidates]:
    threshold = _Compiler(policy).sql(policy.trigger_nodes["threshold"])
    return crossing(policy, start, end, threshold)


CANDIDATES: dict[str, Callable[[CompiledPolicy, dt.date, dt.date], list[Candidates]]] = {
    "purchase": purchase,
    "first_purchase": purchase,
    "crossing": _crossing,
    "tier_ladder": tier_ladder,
    "schedule": schedule,
}


@dataclass
class Evaluation:
    actions: list[dict[str, Any]] = field(default_factory=list)
    per_policy: Counter[str] = field(default_factory=Counter)


def prepare(con: duckdb.DuckDBPyConnection, plan: Plan, through: dt.date) -> None:
    """The running values and fact contexts for every date up to `through`."""
    con.execute(EMPTY_STORES)
    build_history(con, through)
    build_ladder(con, plan)
    build_contexts(con)


def queries(plan: Plan, start: dt.date, end: dt.date) -> list[PolicyQuery]:
    return [build_query(policy, cand)
            for policy in plan.policies
            for cand in CANDIDATES[policy.kind](policy, start, end)]


def fetch(con: duckdb.DuckDBPyConnection, query: PolicyQuery) -> list[dict[str, Any]]:
    cursor = con.execute(query.sql())
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def evaluate(con: duckdb.DuckDBPyConnection, plan: Plan, start: dt.date, end: dt.date
             ) -> Evaluation:
    """Candidate actions of every date from start to end, ordered by date."""
    prepare(con, plan, end)
    result = Evaluation()
    for query in queries(plan, start, end):
        for row in fetch(con, query):
            for action in assemble(query.policy, query.candidates, row, query.reason_paths,
                                   plan.bundle):
                result.actions.append(action)
                result.per_policy[action["policy"]] += 1
    result.actions.sort(key=lambda a: (a["as_of"], a["policy"], a["customer_id"], a["action_id"]))
    return result
