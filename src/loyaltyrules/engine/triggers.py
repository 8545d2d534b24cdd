"""Trigger kinds as candidate relations: which (customer, as_of) rows a policy sees.

Each function returns a `Candidates`: a SQL relation whose columns are the trigger's
fact context (see contexts.py), the key that makes the action id unique for the
trigger (a receipt, a threshold, a year and tier, a date), and the actions of the
policy that this relation feeds (tier ladders feed upgrades and downgrades apart).

Schedules are the costly kind: "every customer, every day" is a cross product. When
a top-level condition pins the date to something per customer (a birthday, a fixed
number of days after a purchase) or to dates whatever the customer (a pre-season
call's two days a year: datepins.py), only those dates are generated. That is a
superset of where the condition can hold, and the full conditions still run, so the
result is the same as the cross product's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlglot import exp

from ..conditions import ast, fact_paths, population_key
from ..conditions.catalog import RANK_PREFIX
from ..conditions.checker import CheckResult
from ..conditions.sql import sql_value
from ..conditions.types import DATE
from ..metrics.sql import Aggregate
from ..model import ScheduleTrigger
from ..plan import CompiledAction, CompiledPolicy, Plan
from ..sqltrees import parse
from .contexts import FULL, LEAN, RECEIPT_EXTRAS, schedule_context
from .datepins import pinned_dates
from .dates import dates_in, is_date_rule
from .occasions import (
    NO_CALENDAR,
    calendar_context,
    calendar_days_sql,
    dates_sql,
    host_context,
    host_scope_sql,
    rule_dates_sql,
)
from .scope import column, possible_values


@dataclass(frozen=True)
class Candidates:
    relation: exp.Query
    key: exp.Expr
    actions: tuple[CompiledAction, ...]
    event: str  # reason.trigger of the actions: purchase, crossing, upgrade, schedule ...


def _sql(
    text: str, tables: Mapping[str, exp.Query] | None = None, /, **values: exp.Expr
) -> exp.Query:
    """Fixed SQL of ours, with plan values put in as SQLGlot nodes (never as text).

    `:name` placeholders take values; tables named in `tables` are replaced by the
    given relations (aliased with the table's name).
    """
    tree = exp.replace_placeholders(parse(text), copy=False, **values)  # ours: no copy
    for table in list(tree.find_all(exp.Table)):
        if tables and table.name in tables:
            table.replace(tables[table.name].subquery(table.alias_or_name))
    assert isinstance(tree, exp.Query)
    return tree


def _range(start: dt.date, end: dt.date) -> dict[str, exp.Expr]:
    return {"a": sql_value(start, DATE), "b": sql_value(end, DATE)}


def _as_text(*parts: exp.Expr) -> exp.Expr:
    casts: list[exp.Expr] = [exp.cast(p, "VARCHAR") for p in parts]
    if len(casts) == 1:
        return casts[0]
    return exp.func("concat_ws", exp.Literal.string(":"), *casts)


def purchase_view(policy: CompiledPolicy) -> str:
    """The lean purchase context, or the full one when the policy reads its extras."""
    reads = {
        key for checked in _all_checked(policy) if checked.node for key in fact_paths(checked.node)
    }
    return FULL if reads & set(RECEIPT_EXTRAS) else LEAN


def purchase(plan: Plan, policy: CompiledPolicy, start: dt.date, end: dt.date
             ) -> list[Candidates]:
    view = "lr_first_purchase_ctx" if policy.kind == "first_purchase" else purchase_view(policy)
    relation = _sql(f"SELECT * FROM {view} WHERE as_of BETWEEN :a AND :b", **_range(start, end))
    return [
        Candidates(relation, _as_text(column("purchase.purchase_id")), policy.actions, policy.kind)
    ]


def crossing(
    plan: Plan, policy: CompiledPolicy, start: dt.date, end: dt.date, threshold: exp.Expr
) -> list[Candidates]:
    """The first receipt after which the running metric reaches the threshold.

    Once ever per (customer, threshold); for this-year metrics, once per year.
    """
    metric = policy.spec.trigger.metric  # type: ignore[union-attr]
    yearly = plan.metrics.yearly(metric.removeprefix("customer."))
    partition = "customer_id, lr_threshold, year" if yearly else "customer_id, lr_threshold"
    inner = _sql(
        f"SELECT * FROM (SELECT *, :thr AS lr_threshold FROM {purchase_view(policy)} "
        # only customers who bought in the range can cross in it
        "WHERE customer_id IN (SELECT customer_id FROM purchases "
        "WHERE purchase_date BETWEEN :a AND :b)) "
        f"WHERE :metric >= lr_threshold QUALIFY row_number() OVER (PARTITION BY {partition} "
        "ORDER BY seq) = 1",
        thr=threshold,
        metric=column(metric),
        **_range(start, end),
    )
    relation = _sql(
        "SELECT * FROM crossings WHERE as_of BETWEEN :a AND :b",
        {"crossings": inner},
        **_range(start, end),
    )
    parts = [column("lr_threshold")] + ([column("year")] if yearly else [])
    return [Candidates(relation, _as_text(*parts), policy.actions, "crossing")]


# Upgrades and downgrades compare the tier held after a receipt (or 1 January) with
# the tier held just before it; only the "before" and the direction differ.
_TIER_CHANGE = """
SELECT *, lr_tier_name(lr_after) AS "tier.name", lr_tier_name(lr_before) AS "tier.previous",
       lr_tier_discount(lr_after, cust_region, cust_store) AS "tier.discount_pct"
FROM (
    SELECT *,
        lr_tier_index(greatest(year_max_points, last_year_max_points), cust_region, cust_store)
            AS lr_after,
        {before} AS lr_before
    FROM {source}
) WHERE lr_after {compare} lr_before
"""

# After the previous receipt that day, else at the end of the previous day (31 December
# counts the year before last too).
_BEFORE_RECEIPT = """greatest(
            lr_tier_index(greatest(coalesce(prev_year_max_points, 0), last_year_max_points),
                          cust_region, cust_store),
            CASE WHEN month(as_of) = 1 AND day(as_of) = 1
                 THEN lr_tier_index(greatest(last_year_max_points, year_before_max_points),
                                    cust_region, cust_store)
                 ELSE 0 END)"""
_BEFORE_NEW_YEAR = """lr_tier_index(greatest(last_year_max_points, year_before_max_points),
                      cust_region, cust_store)"""

_UPGRADES = _TIER_CHANGE.format(
    before=_BEFORE_RECEIPT, source="lr_view WHERE as_of BETWEEN :a AND :b", compare=">")
_DOWNGRADES = _TIER_CHANGE.format(before=_BEFORE_NEW_YEAR, source="jan1", compare="<")

_DOWNGRADE_CANDIDATES = """
SELECT DISTINCT y.customer_id, d.as_of
FROM lr_years AS y
JOIN (SELECT CAST(g.generate_series AS DATE) AS as_of
      FROM generate_series(CAST(:a AS TIMESTAMP), CAST(:b AS TIMESTAMP), INTERVAL 1 DAY) AS g
      WHERE month(g.generate_series) = 1 AND day(g.generate_series) = 1) AS d
  ON y.year IN (year(d.as_of) - 1, year(d.as_of) - 2)
"""



def tier_ladder(plan: Plan, policy: CompiledPolicy, start: dt.date, end: dt.date
                ) -> list[Candidates]:
    """Upgrades the day the held tier rises; downgrade notices on 1 January.

    The tier held is the higher of this year's (the highest points reached so far)
    and last year's. Compared with the end of the previous day, so 1 January also
    counts the tier held on 31 December.
    """
    key = _as_text(column("year"), column("tier.name"))
    ups = tuple(a for a in policy.actions if a.spec.on == "upgrade")
    downs = tuple(a for a in policy.actions if a.spec.on == "downgrade")
    found = []
    if ups:
        upgrades = _sql(_UPGRADES.replace("lr_view", purchase_view(policy)), **_range(start, end))
        found.append(Candidates(upgrades, key, ups, "upgrade"))
    if downs:
        context = schedule_relation(plan, _sql(_DOWNGRADE_CANDIDATES, **_range(start, end)))
        relation = _sql(_DOWNGRADES, {"jan1": context})
        down_key = _as_text(column("year"), exp.Literal.string("down"))
        found.append(Candidates(relation, down_key, downs, "downgrade"))
    return found


def schedule_relation(plan: Plan, candidates: exp.Query, around: str | None = None,
                      values: Mapping[str, exp.Expr] | None = None) -> exp.Query:
    """The schedule context over candidate (customer_id, as_of) rows, materialised once
    (read twice).

    `around` wraps the context (`{context}` is its place): the calendar's entries, or
    the calendar facts left missing."""
    text = schedule_context(plan, "lr_candidates")
    if around is not None:
        text = around.replace("{context}", text)
    tree = exp.replace_placeholders(parse(text), copy=False, **(values or {}))
    assert isinstance(tree, exp.Select)
    return tree.with_("lr_candidates", as_=candidates, materialized=True, copy=False)


_DATES = """
SELECT CAST(g.generate_series AS DATE) AS as_of
FROM generate_series(CAST(:a AS TIMESTAMP), CAST(:b AS TIMESTAMP), INTERVAL 1 DAY) AS g
"""

_YEARLY = """
SELECT c.customer_id, d.as_of FROM lr_customers AS c
CROSS JOIN (SELECT as_of FROM lr_dates WHERE (month(as_of) = :month AND day(as_of) = :day)
            OR (:month = 2 AND :day = 29 AND month(as_of) = 2 AND day(as_of) = 28
                AND NOT (year(as_of) % 4 = 0 AND (year(as_of) % 100 <> 0 OR year(as_of) % 400 = 0)))
           ) AS d
"""

_DAILY = "SELECT c.customer_id, d.as_of FROM lr_customers AS c CROSS JOIN lr_dates AS d"

_BIRTHDAYS = """
SELECT customer_id, as_of FROM (
    SELECT c.customer_id,
        CASE WHEN month(c.birthday) = 2 AND day(c.birthday) = 29
                  AND NOT (y.year % 4 = 0 AND (y.year % 100 <> 0 OR y.year % 400 = 0))
             THEN make_date(CAST(y.year AS BIGINT), 2, 28)
             ELSE make_date(CAST(y.year AS BIGINT), month(c.birthday), day(c.birthday)) END
            AS as_of
    FROM lr_customers AS c
    CROSS JOIN (SELECT range AS year FROM range(year(:a), year(:b) + 1)) AS y
    WHERE c.birthday IS NOT NULL
) WHERE as_of BETWEEN :a AND :b
"""

# Loose form (for the history scope): every receipt date.
_DAYS_AFTER = """
SELECT DISTINCT customer_id, CAST(purchase_date + CAST(:days AS INTEGER) AS DATE) AS as_of
FROM purchases WHERE customer_id IS NOT NULL AND :counts
  AND purchase_date BETWEEN CAST(:a AS DATE) - CAST(:days AS INTEGER)
                        AND CAST(:b AS DATE) - CAST(:days AS INTEGER)
"""
# Tight form (the candidates): only receipts not followed by another within the days.
# Only receipts from `days` before the range on can be one or be the next: dates follow
# event order (purchase_date is the date part of purchased_at), so a next receipt dated
# after the range is past the days either way. Read from the receipts: the history
# keeps only the last row of customers without a receipt in the range (summary.py).
_DAYS_AFTER_LAST = """
SELECT DISTINCT customer_id, CAST(purchase_date + CAST(:days AS INTEGER) AS DATE) AS as_of
FROM (SELECT customer_id, purchase_date,
             lead(purchase_date) OVER (PARTITION BY customer_id
                                       ORDER BY purchased_at, purchase_id) AS next_date
      FROM purchases WHERE customer_id IS NOT NULL AND :counts
        AND purchase_date BETWEEN CAST(:a AS DATE) - CAST(:days AS INTEGER) AND :b)
WHERE purchase_date + CAST(:days AS INTEGER) BETWEEN :a AND :b
  AND (next_date IS NULL OR next_date > purchase_date + CAST(:days AS INTEGER))
"""


def _lapse_sql(template: str, counts: str) -> str:
    """A lapse template with the receipts that count (the latest-date metric's filter,
    fixed SQL compiled from its checked `where`)."""
    return template.replace(":counts", counts)


def schedule(
    plan: Plan, policy: CompiledPolicy, start: dt.date, end: dt.date, *, anchored: bool = True
) -> list[Candidates]:
    trigger = policy.spec.trigger
    assert isinstance(trigger, ScheduleTrigger)
    span = _range(start, end)
    dates = {"lr_dates": _sql(_DATES, **span)}
    key = _as_text(column("as_of"))
    if trigger.every == "year" and isinstance(trigger.on, str):
        month, day = (int(p) for p in trigger.on.split("-"))
        candidates = _sql(
            _YEARLY, dates, month=exp.Literal.number(month), day=exp.Literal.number(day)
        )
        key = _as_text(exp.func("year", column("as_of")))
    elif is_date_rule(trigger):  # monthly, quarterly, the n-th weekday of a month
        rule = {"lr_dates": _sql(rule_dates_sql(trigger, start, end))}
        candidates = _sql(_DAILY, rule)
        if trigger.every == "year":
            key = _as_text(exp.func("year", column("as_of")))
    elif trigger.every == "calendar":
        days = {"lr_dates": _sql(f"SELECT DISTINCT as_of FROM ({calendar_days_sql(trigger)})",
                                 **span)}
        context = schedule_relation(plan, _sql(_DAILY, days),
                                    calendar_context(trigger, "{context}"), span)
        key = _as_text(column("as_of"), column("calendar.name"))
        return [Candidates(context, key, policy.actions, "schedule")]
    else:
        pinned = _anchored(plan, policy, start, end) if anchored else None
        candidates = pinned or _sql(_DAILY, dates)
    return [Candidates(schedule_relation(plan, candidates, NO_CALENDAR), key, policy.actions,
                       "schedule")]


def host(plan: Plan, policy: CompiledPolicy, start: dt.date, end: dt.date) -> list[Candidates]:
    """A complaint or host event: one candidate per row dated in the range."""
    relation = _sql(host_context(plan, policy.kind, policy), **_range(start, end))
    return [Candidates(relation, _as_text(column("lr_ref")), policy.actions, policy.kind)]


def _anchored(
    plan: Plan, policy: CompiledPolicy, start: dt.date, end: dt.date, *, loose: bool = False
) -> exp.Query | None:
    """Candidate dates pinned by a top-level condition, or None to scan every day.

    `loose` reads only the input tables (for the history scope); otherwise the
    running-value tables narrow a lapse to the receipts that really are the last.
    """
    if rank_keys(policy):
        return None  # a rank is taken over the candidates: all of each date
    span = _range(start, end)
    for _text, checked in policy.conditions:
        for conjunct in _conjuncts(checked.node):
            if _is_birthday_today(conjunct):
                return _sql(_BIRTHDAYS, **span)
            days = pinned_dates(policy, conjunct, checked, start, end)
            if days is not None:
                return _sql(_DAILY, {"lr_dates": _sql(dates_sql(days))})
            lapse = _days_after(plan, policy, conjunct)
            if lapse is not None:
                counts, values = lapse
                sql = _lapse_sql(_DAYS_AFTER if loose else _DAYS_AFTER_LAST, counts)
                parts = [_sql(sql, days=exp.Literal.number(v), **span) for v in values]
                union = parts[0]
                for part in parts[1:]:
                    union = exp.union(union, part, distinct=True)
                return union
    return None


def _conjuncts(node: ast.Node | None) -> Iterator[ast.Node]:
    if isinstance(node, ast.Binary) and node.op == "&&":
        yield from _conjuncts(node.left)
        yield from _conjuncts(node.right)
    elif node is not None:
        yield node


def _is_birthday_today(node: ast.Node) -> bool:
    return (
        isinstance(node, ast.Call)
        and node.name == "is_birthday"
        and [getattr(a, "path", None) for a in node.args] == ["customer.birthday", "as_of"]
    )


def _days_after(plan: Plan, policy: CompiledPolicy, node: ast.Node
                ) -> tuple[str, list[int]] | None:
    """`customer.<days since a latest receipt> == N`, N a literal or a param: (the SQL
    test of the receipts that count, every N). See MetricSet.lapse."""
    if not (isinstance(node, ast.Binary) and node.op == "=="):
        return None
    for fact, other in ((node.left, node.right), (node.right, node.left)):
        if not (isinstance(fact, ast.Path) and fact.path.startswith("customer.")):
            continue
        latest = plan.metrics.lapse(fact.path.removeprefix("customer."))
        values = _constant_ints(policy, other) if latest is not None else None
        if latest is not None and values is not None:
            return Aggregate(latest).test, values
    return None


def _constant_ints(policy: CompiledPolicy, node: ast.Node) -> list[int] | None:
    if isinstance(node, ast.IntLit):
        return [node.value]
    if isinstance(node, ast.Path) and node.path.startswith("params."):
        name = node.path.removeprefix("params.")
        if policy.spec.params[name].type == "int":
            return [int(v) for v in possible_values(policy, name)]
    return None


_BUYERS = """
SELECT customer_id FROM purchases
WHERE customer_id IS NOT NULL AND purchase_date BETWEEN :a AND :b
"""

_BUYERS_AND_REFERRERS = (
    _BUYERS
    + """
UNION ALL
SELECT referred_by FROM customers
WHERE referred_by IS NOT NULL AND customer_id IN ("""
    + _BUYERS
    + ")"
)

# On 1 January a downgrade looks back two years: everyone who bought then.
_LAST_TWO_YEARS = """
SELECT customer_id FROM purchases
WHERE customer_id IS NOT NULL AND year(purchase_date) IN (
    SELECT year(CAST(g.generate_series AS DATE)) - k.back
    FROM generate_series(CAST(:a AS TIMESTAMP), CAST(:b AS TIMESTAMP), INTERVAL 1 DAY) AS g
    CROSS JOIN (VALUES (1), (2)) AS k(back)
    WHERE month(g.generate_series) = 1 AND day(g.generate_series) = 1)
"""


def scope(plan: Plan, policy: CompiledPolicy, start: dt.date, end: dt.date, *,
          direct: bool = False) -> exp.Query | None:
    """The customers this policy can reach from start to end, or None for everyone.

    The history is only built for them; each is a superset of the customers in the
    policy's candidates, so restricting changes no result. A policy that compares a
    customer with a population (percentile_in, abc_class) needs everyone's history,
    unless the population's values come `direct`ly from the receipts (segments.py).
    A date rule with no date in the range reaches nobody.
    """
    span = _range(start, end)
    trigger = policy.spec.trigger
    if isinstance(trigger, ScheduleTrigger) and is_date_rule(trigger) \
            and not dates_in(trigger, start, end):
        return _sql(_NOBODY)
    if segment_keys(policy) and not direct:
        return None
    if policy.kind == "first_purchase":
        return _sql(_BUYERS_AND_REFERRERS, **span)
    if policy.kind in ("purchase", "crossing"):
        return _sql(_BUYERS, **span)
    if policy.kind == "tier_ladder":
        return exp.union(_sql(_BUYERS, **span), _sql(_LAST_TWO_YEARS, **span), distinct=False)
    if policy.kind in ("complaint", "event"):
        return _sql(host_scope_sql(policy.kind), **span)
    assert isinstance(trigger, ScheduleTrigger)
    if is_date_rule(trigger):
        return None
    if trigger.every == "calendar":  # everyone, when a matching calendar day is in range
        return _sql(f"SELECT customer_id FROM customers WHERE EXISTS "
                    f"(SELECT 1 FROM ({calendar_days_sql(trigger)}))", **span)
    pinned = _anchored(plan, policy, start, end, loose=True)
    return None if pinned is None else exp.select("customer_id").from_(pinned.subquery("pinned"))


_NOBODY = "SELECT NULL AS customer_id WHERE false"


def reads_rank(policy: CompiledPolicy) -> bool:
    """Whether the policy compares customers with others (a rank, percentile or class)."""
    return bool(population_keys(policy))


def population_keys(policy: CompiledPolicy) -> list[str]:
    """The population columns (rank_in_region:..., percentile_in:...) the policy reads."""
    keys: set[str] = set()
    for checked in _all_checked(policy):
        for node in ast.walk(checked.node) if checked.node else []:
            key = population_key(node)
            if key is not None:
                keys.add(key)
    return sorted(keys)


def rank_keys(policy: CompiledPolicy) -> list[str]:
    """The rank_in_region:customer.<metric> columns the policy's expressions read."""
    return [k for k in population_keys(policy) if k.startswith(RANK_PREFIX)]


def segment_keys(policy: CompiledPolicy) -> list[str]:
    """The percentile_in / abc_class columns the policy's expressions read."""
    return [k for k in population_keys(policy) if not k.startswith(RANK_PREFIX)]


def _all_checked(policy: CompiledPolicy) -> Iterator[CheckResult]:
    yield from (c for _t, c in policy.conditions)
    yield from policy.trigger_nodes.values()
    for action in policy.actions:
        yield from action.nodes.values()
        yield from (c for _n, c in action.params)


__all__ = ["Candidates", "crossing", "host", "purchase", "rank_keys", "schedule",
           "segment_keys", "tier_ladder"]
