"""Params, enabled flags and scope as SQL: HQ <- region <- store, per row.

A param with no overrides is a literal. With overrides it is a CASE over the row's
store and region, store first (the store's own file wins over its region's), so a
whole catch-up over many stores stays one query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp

from ..conditions.sql import sql_value
from ..conditions.types import type_named
from ..plan import CompiledPolicy
from ..validation.params import as_typed

Resolver = Callable[[str], exp.Expression]


def column(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True))


def _by_scope(
    policy: CompiledPolicy,
    store: exp.Expr,
    region: exp.Expr,
    pick: Callable[[Any], Any | None],
    default: exp.Expression,
) -> exp.Expression:
    """CASE over the overrides that set something (store overrides first)."""
    ifs = []
    for kind, col in (("store", store), ("region", region)):
        for override in policy.overrides:
            value = pick(override)
            if override.target_kind == kind and value is not None:
                test = exp.EQ(this=col.copy(), expression=exp.Literal.string(override.target))
                ifs.append(exp.If(this=test, true=value))
    return exp.Case(ifs=ifs, default=default) if ifs else default


def param_resolver(
    policy: CompiledPolicy, store: exp.Expr, region: exp.Expr
) -> Resolver:
    def resolve(name: str) -> exp.Expression:
        spec = policy.spec.params[name]
        kind = type_named(spec.type)
        assert kind is not None

        def pick(override: Any) -> exp.Expression | None:
            if name not in override.params:
                return None
            return sql_value(as_typed(spec.type, override.params[name]), kind)

        return _by_scope(policy, store, region, pick, sql_value(policy.defaults[name], kind))

    return resolve


def enabled(
    policy: CompiledPolicy, store: exp.Expr, region: exp.Expr
) -> exp.Expr:
    def pick(override: Any) -> exp.Expression | None:
        if override.enabled is None:
            return None
        return exp.true() if override.enabled else exp.false()

    return _by_scope(policy, store, region, pick, exp.true())


def in_scope(
    policy: CompiledPolicy, store: exp.Expr, region: exp.Expr
) -> exp.Expr:
    tests: list[exp.Expr] = [exp.true()]
    scope = policy.spec.scope
    if scope.regions:
        tests.append(
            exp.In(this=region.copy(), expressions=[exp.Literal.string(r) for r in scope.regions])
        )
    if scope.stores:
        tests.append(
            exp.In(this=store.copy(), expressions=[exp.Literal.string(s) for s in scope.stores])
        )
    return exp.and_(*tests)


def possible_values(policy: CompiledPolicy, name: str) -> list[Any]:
    """Every value a param can take anywhere: its default and each override's value."""
    spec = policy.spec.params[name]
    values = [policy.defaults[name]]
    values += [as_typed(spec.type, o.params[name]) for o in policy.overrides if name in o.params]
    return sorted(set(values), key=str)
