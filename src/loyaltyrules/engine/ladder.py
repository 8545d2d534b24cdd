"""The tier ladder as three SQL macros, so every context can read customer.tier.

`lr_tier_index(points, region, store)` is the rung reached (0 = the lowest),
`lr_tier_name(index)` its name and `lr_tier_discount(index, region, store)` its
discount. The rungs' minimums and discounts are expressions over params, resolved
for the customer's own region and home store (a tier belongs to the customer, not
to the store where a purchase happened). Without a ladder policy the macros give
NULL, so customer.tier is missing.
"""

from __future__ import annotations

import duckdb
from sqlglot import exp

from ..conditions.checker import CheckResult
from ..conditions.sql import to_sql
from ..plan import CompiledPolicy, Plan
from .scope import param_resolver

POINTS, REGION, STORE, INDEX = "lr_points", "lr_region", "lr_store", "lr_index"


def _no_facts(path: str) -> exp.Expression:
    raise ValueError(f"tier rungs may only read params, not {path}")


def _rung_value(policy: CompiledPolicy, checked: CheckResult) -> exp.Expr:
    resolve = param_resolver(policy, exp.column(STORE), exp.column(REGION))
    return to_sql(checked, _no_facts, resolve)


def _index_sql(policy: CompiledPolicy | None) -> exp.Expr:
    if policy is None:
        return exp.Null()
    ifs = []
    tiers = policy.spec.trigger.tiers  # type: ignore[union-attr]
    for i in reversed(range(len(tiers))):
        minimum = _rung_value(policy, policy.trigger_nodes[f"tiers.{i}.min"])
        ifs.append(
            exp.If(
                this=exp.GTE(this=exp.column(POINTS), expression=minimum),
                true=exp.Literal.number(i),
            )
        )
    return exp.Case(ifs=ifs, default=exp.Literal.number(0))


def _name_sql(policy: CompiledPolicy | None) -> exp.Expr:
    if policy is None:
        return exp.Null()
    tiers = policy.spec.trigger.tiers  # type: ignore[union-attr]
    ifs = [
        exp.If(
            this=exp.EQ(this=exp.column(INDEX), expression=exp.Literal.number(i)),
            true=exp.Literal.string(t.name),
        )
        for i, t in enumerate(tiers)
    ]
    return exp.Case(ifs=ifs, default=exp.Null())


def _discount_sql(policy: CompiledPolicy | None) -> exp.Expr:
    if policy is None:
        return exp.Null()
    ifs = []
    for i, _tier in enumerate(policy.spec.trigger.tiers):  # type: ignore[union-attr]
        checked = policy.trigger_nodes.get(f"tiers.{i}.discount_pct")
        if checked is not None:
            ifs.append(
                exp.If(
                    this=exp.EQ(this=exp.column(INDEX), expression=exp.Literal.number(i)),
                    true=_rung_value(policy, checked),
                )
            )
    return exp.Case(ifs=ifs, default=exp.Null())


def build_ladder(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    policy = plan.ladder
    # Macro headers are fixed text; bodies are SQLGlot trees built from the plan.
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO lr_tier_index({POINTS}, {REGION}, {STORE}) AS "
        + _index_sql(policy).sql("duckdb")
    )
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO lr_tier_name({INDEX}) AS " + _name_sql(policy).sql("duckdb")
    )
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO lr_tier_discount({INDEX}, {REGION}, {STORE}) AS "
        + _discount_sql(policy).sql("duckdb")
    )
