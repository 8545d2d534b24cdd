"""The set-based evaluator: a Plan over the history up to a date range, on DuckDB.

One pass for the whole range: the running-value tables are built once, and every
policy is one query whose rows are (customer, date) pairs across the range. The
actions equal those of running each date in turn, because every fact of a date
is computed only from receipts up to that date.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
from sqlglot import exp

from ..plan import CompiledPolicy, Plan
from .actions import Assembler
from .bulk import collector_paused
from .compile import PolicyQuery, _Compiler, build_query
from .contexts import build_contexts, build_customers
from .history import build_history
from .ladder import build_ladder
from .occasions import MOMENTS
from .triggers import Candidates, crossing, host, purchase, schedule, scope, tier_ladder
from .windows import Zones

DIRECT_DAYS = 7  # see direct_population
EMPTY_STORES = "CREATE TABLE IF NOT EXISTS stores (store_id VARCHAR, region VARCHAR)"
# Optional tables a connection made by hand may lack (a source always has them).
EMPTY_OCCASIONS = (
    "CREATE TABLE IF NOT EXISTS calendar (date DATE, name VARCHAR, kind VARCHAR, region VARCHAR)",
    "CREATE TABLE IF NOT EXISTS complaints (complaint_id VARCHAR, customer_id VARCHAR, "
    "store_id VARCHAR, received_at TIMESTAMP, channel VARCHAR, topic VARCHAR, "
    "severity VARCHAR)",
    "CREATE TABLE IF NOT EXISTS events (event_id VARCHAR, kind VARCHAR, customer_id VARCHAR, "
    "store_id VARCHAR, occurred_at TIMESTAMP, attributes VARCHAR)",
)


def _crossing(plan: Plan, policy: CompiledPolicy, start: dt.date, end: dt.date
              ) -> list[Candidates]:
    threshold = _Compiler(policy).sql(policy.trigger_nodes["threshold"])
    return crossing(plan, policy, start, end, threshold)


CANDIDATES: dict[str, Callable[[Plan, CompiledPolicy, dt.date, dt.date], list[Candidates]]] = {
    "purchase": purchase,
    "first_purchase": purchase,
    "crossing": _crossing,
    "tier_ladder": tier_ladder,
    "schedule": schedule,
    "complaint": host,
    "event": host,
}


@dataclass
class Evaluation:
    actions: list[dict[str, Any]] = field(default_factory=list)
    per_policy: Counter[str] = field(default_factory=Counter)


def prepare(
    con: duckdb.DuckDBPyConnection, plan: Plan, start: dt.date, end: dt.date, *,
    whole: bool = False, only: frozenset[str] | None = None
) -> None:
    """The running values and fact contexts for the dates from start to end.

    Histories are built only for customers some policy can reach in the range (a
    yearly schedule, or a daily one not pinned to dates, reaches all), and running
    values only for those with a receipt in it, the others having one row of their
    state (summary.py); `whole` asks for every customer's running values instead
    (explain, and the values after every receipt).
    `only` names the policies to be evaluated (None: all of them); the tier ladder is
    built in any case, since customer.tier reads it.
    """
    con.execute(EMPTY_STORES)
    for statement in EMPTY_OCCASIONS:
        con.execute(statement)
    build_ladder(con, plan)
    build_customers(con)
    direct = direct_population(start, end)
    scopes = [scope(plan, policy, start, end, direct=direct) for policy in chosen(plan, only)]
    everyone = whole or any(s is None for s in scopes)
    con.execute("CREATE OR REPLACE TEMP TABLE lr_scope (customer_id VARCHAR)")
    if not everyone and scopes:
        distinct = list({s.sql("duckdb"): s for s in scopes if s is not None}.values())
        union = distinct[0]
        for other in distinct[1:]:  # the scopes are built for this union alone: no copies
            union = exp.union(union, other, distinct=False, copy=False)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE lr_scope AS SELECT DISTINCT customer_id FROM "
            + union.subquery("reached", copy=False).sql("duckdb")
        )
    build_history(con, end, plan, whole=everyone, since=None if whole else start)
    con.execute(MOMENTS)
    build_contexts(con, plan)


def store_zones(con: duckdb.DuckDBPyConnection, default: str | None = None) -> Zones:
    """The stores' time zones (stores.timezone, else `default`, the source's)."""
    columns = {r[0] for r in con.execute("DESCRIBE stores").fetchall()}
    if "timezone" not in columns:
        return Zones({}, default)
    rows = con.execute("SELECT store_id, timezone FROM stores").fetchall()
    return Zones(dict(rows), default)


def chosen(plan: Plan, only: frozenset[str] | None) -> tuple[CompiledPolicy, ...]:
    """The plan's policies named in `only` (None: every one)."""
    if only is None:
        return plan.policies
    return tuple(p for p in plan.policies if p.id in only)


def direct_population(start: dt.date, end: dt.date) -> bool:
    """Whether the range takes population values (percentile_in, abc_class) straight from
    the receipts, one scan per date, so its history need not hold every customer: a
    range of a few days. A longer one reads them from the history of everyone."""
    return (end - start).days < DIRECT_DAYS


def queries(plan: Plan, start: dt.date, end: dt.date, only: frozenset[str] | None = None
            ) -> list[PolicyQuery]:
    direct = direct_population(start, end)
    return [
        build_query(plan, policy, cand, direct=direct)
        for policy in chosen(plan, only)
        for cand in CANDIDATES[policy.kind](plan, policy, start, end)
    ]


def fetch(con: duckdb.DuckDBPyConnection, query: PolicyQuery) -> list[dict[str, Any]]:
    """The query's rows as dicts by column name (explain and tests)."""
    names, rows = fetch_rows(con, query)
    return [dict(zip(names, row, strict=True)) for row in rows]


def fetch_rows(
    con: duckdb.DuckDBPyConnection, query: PolicyQuery
) -> tuple[list[str], list[tuple[Any, ...]]]:
    cursor = con.execute(query.sql())
    return [d[0] for d in cursor.description], cursor.fetchall()


def evaluate(
    con: duckdb.DuckDBPyConnection, plan: Plan, start: dt.date, end: dt.date,
    timezone: str | None = None, only: frozenset[str] | None = None,
    built: Sequence[PolicyQuery] | None = None
) -> Evaluation:
    """Candidate actions of every date from start to end, ordered by date.

    `timezone` is the source's: the zone of stores whose own is not known, for
    windows in hours. `only` limits the evaluation to the policies it names. `built`
    are `queries(plan, start, end, only)` made before, for another input."""
    prepare(con, plan, start, end, only=only)
    zones = store_zones(con, timezone)
    result = Evaluation()
    with collector_paused():  # the records are acyclic: see engine/bulk.py
        for query in queries(plan, start, end, only) if built is None else built:
            names, rows = fetch_rows(con, query)
            cand = query.candidates
            assemble = Assembler(
                query.policy, cand.actions, cand.event, names, query.reason_paths, plan.bundle,
                zones
            )
            before = len(result.actions)
            for row in rows:
                result.actions.extend(assemble(row))
            result.per_policy[query.policy.id] += len(result.actions) - before
        result.actions.sort(
            key=lambda a: (a["as_of"], a["policy"], a["customer_id"], a["action_id"]))
    return result
