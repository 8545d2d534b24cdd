"""A policy and its candidates compiled to one SELECT over the fact context.

The SELECT keeps the candidate rows where the policy is in force (effective window,
scope, not disabled by an override) and every condition holds, and projects what
the actions need: each action's `when`, fallback test, assignee, window and params,
and the facts the conditions read (the action's reason). For `explain` the same
SELECT keeps one customer and date and projects each condition's value instead of
filtering on it, so explain shows exactly what the run computed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

from sqlglot import exp

from ..conditions import ast
from ..conditions.checker import CheckResult, population_key
from ..conditions.sql import sql_value, to_sql
from ..conditions.types import DATE
from ..plan import CompiledAction, CompiledPolicy, Plan
from .ids import action_id_sql
from .scope import column, enabled, in_scope, param_resolver
from .segments import DETAILS, with_segments
from .triggers import Candidates, rank_keys, segment_keys

CONTEXT = "ctx"


@dataclass(frozen=True)
class PolicyQuery:
    policy: CompiledPolicy
    candidates: Candidates
    select: exp.Select
    reason_paths: tuple[str, ...]

    @cached_property
    def text(self) -> str:
        """The SELECT as DuckDB text, made once (a query may run on several inputs).

        The tree is this query's alone and nothing reads it after, so the generator may
        work on it in place instead of on a copy (a third of the building time)."""
        return self.select.sql("duckdb", copy=False)

    def sql(self) -> str:
        return self.text


def _with_ranks(policy: CompiledPolicy, relation: exp.Query) -> exp.Query:
    """Add RANK() columns over each date's whole population, before any filtering."""
    keys = rank_keys(policy)
    if not keys:
        return relation
    select = exp.select("*").from_(relation.subquery("ranked", copy=False), copy=False)
    for key in keys:
        metric = key.split(":", 1)[1]
        window = exp.Window(
            this=exp.func("rank"),
            partition_by=[column("customer.region"), column("as_of")],
            order=exp.Order(expressions=[exp.Ordered(this=column(metric), desc=True)]),
        )
        select = select.select(exp.alias_(window, exp.to_identifier(key, quoted=True)),
                               copy=False)
    return select


def value_spans(node: ast.Node | None) -> list[tuple[int, int, str]]:
    """(start, end, key) of each value an expression reads: facts, params, ranks.

    A rank_in_region(customer.m) or percentile_in(customer.m, "store") call is one
    value (its rank, percentile or class), not its argument.
    """
    if node is None:
        return []
    spans, inside = [], set()
    for n in ast.walk(node):
        key = population_key(n)
        if key is not None:
            spans.append((n.start, n.end, key))
            inside.add(id(n.args[0]))  # type: ignore[union-attr]
        elif isinstance(n, ast.Path) and id(n) not in inside:
            spans.append((n.start, n.end, n.path))
    return sorted(spans)


def _fact_paths(checked: CheckResult) -> list[str]:
    return [key for _s, _e, key in value_spans(checked.node)]


def reason_paths(policy: CompiledPolicy) -> tuple[str, ...]:
    paths: list[str] = []
    metric = getattr(policy.spec.trigger, "metric", None)
    if metric:
        paths.append(metric)
    for _text, checked in policy.conditions:
        paths.extend(_fact_paths(checked))
    return tuple(dict.fromkeys(paths))


class _Compiler:
    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.params = param_resolver(policy, column("scope_store"), column("scope_region"))

    def sql(self, checked: CheckResult, *, condition: bool = False) -> exp.Expr:
        return to_sql(checked, column, self.params, condition=condition)

    def value(self, path: str) -> exp.Expression:
        if path.startswith("params."):
            return self.params(path.removeprefix("params."))
        return column(path)


def _alias(node: exp.Expr, name: str) -> exp.Expr:
    return exp.alias_(node, exp.to_identifier(name, quoted=True))


def _effective(policy: CompiledPolicy) -> exp.Expr:
    tests: list[exp.Expr] = [exp.true()]
    window = policy.spec.effective
    if window.start:
        tests.append(exp.GTE(this=column("as_of"), expression=sql_value(window.start, DATE)))
    if window.end:
        tests.append(exp.LTE(this=column("as_of"), expression=sql_value(window.end, DATE)))
    return exp.and_(*tests)


def _all_hold(c: _Compiler, conditions: list[CheckResult]) -> exp.Expr:
    """Every condition holds, missing counting as false, as ONE conjunct of the filter:
    `COALESCE(c1 AND c2 AND ..., FALSE)`. DuckDB's optimizer takes time quadratic in
    the number of top-level conjuncts of a filter (3,000 conditions each wrapped in its
    own COALESCE took 28 s and 6 GB to plan); one conjunct is planned in linear time.
    Kleene AND is true exactly when every condition is true, so the meaning is the same."""
    if not conditions:
        return exp.true()
    each = [c.sql(checked) for checked in conditions]
    return exp.Coalesce(this=exp.Paren(this=exp.and_(*each, copy=False)),
                        expressions=[exp.false()])


def _narrowing(c: _Compiler, policy: CompiledPolicy, gates: list[exp.Expr]) -> exp.Expr:
    """The gates and the conditions that read no population segment, as one test: a
    candidate failing it fails the whole filter, so it may be dropped before the
    segments are ranked (engine/segments.py)."""
    plain = [checked for _text, checked in policy.conditions
             if checked.node is not None
             and not any(population_key(n) for n in ast.walk(checked.node))]
    return exp.and_(*gates, _all_hold(c, plain))


# Triggers whose rows are not receipts: no purchase_id, and a moment of their own.
NOT_RECEIPTS = ("schedule", "downgrade", "complaint", "event")
DAY_STARTS = ("schedule", "downgrade")  # windows in hours count from midnight of D


def _base_columns(cand: Candidates) -> list[exp.Expr]:
    purchase_driven = cand.event not in NOT_RECEIPTS
    trigger_purchase = column("purchase.purchase_id") if purchase_driven else exp.Null()
    moment = (exp.cast(column("as_of"), "TIMESTAMP") if cand.event in DAY_STARTS
              else column("lr_at"))
    columns = [
        _alias(column("customer_id"), "customer_id"),
        _alias(column("as_of"), "as_of"),
        _alias(column("scope_store"), "store_id"),
        _alias(column("scope_region"), "region"),
        _alias(column("lr_key"), "lr_key"),
        _alias(column("customer.referred_by"), "lr_referrer"),
        _alias(trigger_purchase, "lr_purchase"),
        _alias(moment, "lr_at"),
    ]
    return columns


def _keyed(relation: exp.Query, key: exp.Expr) -> exp.Query:
    """The candidates with their trigger key as a column, for ids and the record."""
    keyed = relation.subquery("keyed", copy=False)
    return exp.select("*", _alias(key, "lr_key")).from_(keyed, copy=False)


def _action_columns(c: _Compiler, cand: Candidates) -> list[exp.Expr]:
    columns = []
    for action in cand.actions:
        prefix = f"a{action.index}"
        key = exp.DPipe(this=column("lr_key"), expression=exp.Literal.string(f"#{action.index}"))
        columns.append(
            _alias(action_id_sql(c.policy.id, column("customer_id"), key), f"{prefix}.id")
        )
        for name, checked in action.nodes.items():
            is_test = name in ("when", "fallback.when")
            columns.append(_alias(c.sql(checked, condition=is_test), f"{prefix}.{name}"))
        for name, checked in action.params:
            columns.append(_alias(c.sql(checked), f"{prefix}.params.{name}"))
        if "invitation.capacity" in action.nodes:
            columns.append(_alias(_seat(c, action), f"{prefix}.seat"))
    return columns


def _seat(c: _Compiler, action: CompiledAction) -> exp.Expr:
    """The customer's place among those invited to one event by one store on one date:
    the highest lifetime spend first (ties: customer id). The invitation goes out when
    the place is within the capacity (docs/policy-format.md, Invitations)."""
    partition = [column("scope_store"), c.sql(action.nodes["invitation.event"]), column("as_of")]
    if "when" in action.nodes:
        partition.append(c.sql(action.nodes["when"], condition=True))
    order = [exp.Ordered(this=column("customer.lifetime_spend"), desc=True),
             exp.Ordered(this=column("customer_id"))]
    return exp.Window(this=exp.func("row_number"), partition_by=partition,
                      order=exp.Order(expressions=order))


def build_query(
    plan: Plan, policy: CompiledPolicy, cand: Candidates, *,
    explain_for: tuple[str, dt.date] | None = None, covering: bool = False,
    direct: bool = True
) -> PolicyQuery:
    """The policy's SELECT over its candidates. `explain_for` keeps one customer and date
    and projects the gates and each condition (`c.0`, `c.1`, ...) instead of testing
    them; `covering` keeps every candidate past the gates and projects each condition,
    for test coverage. `direct`: population values from the receipts (segments.py)."""
    c = _Compiler(policy)
    paths = reason_paths(policy)
    store, region = column("scope_store"), column("scope_region")
    gates = [_effective(policy), in_scope(policy, store, region), enabled(policy, store, region)]
    # Explain and coverage look at candidates that fail: only evaluation narrows early.
    narrowing = _narrowing(c, policy, gates) if explain_for is None and not covering else None
    relation = with_segments(plan, policy, _with_ranks(policy, cand.relation), narrowing,
                             direct=direct)
    columns = _base_columns(cand)
    relation = _keyed(relation, cand.key)
    columns += _action_columns(c, cand)
    columns += [_alias(c.value(p), f"v.{p}") for p in paths]
    conditions = [
        _alias(c.sql(checked), f"c.{i}") for i, (_t, checked) in enumerate(policy.conditions)
    ]
    if covering:
        columns += conditions
        tests = gates
    elif explain_for is None:
        tests = [*gates, _all_hold(c, [checked for _t, checked in policy.conditions])]
    else:
        customer, day = explain_for
        columns += [_alias(column(f"{key}#{d}"), f"v.{key}#{d}") for key in segment_keys(policy)
                    for d in DETAILS[key.split(":", 1)[0]]]
        columns += [_alias(g, f"gate.{i}") for i, g in enumerate(gates)]
        columns += conditions
        tests = [
            exp.EQ(this=column("customer_id"), expression=exp.Literal.string(customer)),
            exp.EQ(this=column("as_of"), expression=sql_value(day, DATE)),
        ]
    # Every tree here is built for this query alone, so the builders need not copy it
    # (copying the candidate relations was most of the time spent building the SQL).
    select = exp.select(*columns).from_(relation.subquery(CONTEXT, copy=False), copy=False)
    select = select.where(exp.and_(*tests), copy=False)
    return PolicyQuery(policy, cand, select, paths)
