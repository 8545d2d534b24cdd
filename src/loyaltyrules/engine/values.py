"""The declared metrics of some customers on some dates, as the nightly run sees them.

The same schedule context every schedule policy reads (contexts.py), over candidate
(customer, date) rows given here: `explain` shows a customer's published metrics
with it, and tests compare it with the point of sale's fold and with a model written
from the design. `prepare` (batch.py) must have built the history through the
latest date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import duckdb
from sqlglot import exp

from ..conditions.sql import sql_value
from ..conditions.types import DATE
from ..plan import Plan
from .scope import column
from .triggers import schedule_relation

Key = tuple[str, dt.date]


def _candidates(pairs: Iterable[Key]) -> exp.Query:
    rows = [exp.Tuple(expressions=[exp.Literal.string(c), sql_value(d, DATE)])
            for c, d in pairs]
    values = exp.Values(expressions=rows, alias=exp.TableAlias(
        this=exp.to_identifier("v"),
        columns=[exp.to_identifier("customer_id"), exp.to_identifier("as_of")]))
    return exp.select("customer_id", "as_of").from_(values)


def metric_values(con: duckdb.DuckDBPyConnection, plan: Plan, pairs: Iterable[Key],
                  names: Iterable[str] | None = None) -> dict[Key, dict[str, Any]]:
    """{(customer, date): {metric: value at the end of the date}} for customers with a
    record; `names` defaults to every metric of the plan."""
    pairs = list(dict.fromkeys(pairs))
    if not pairs:
        return {}
    wanted = list(names) if names is not None else list(plan.metrics.metrics)
    context = schedule_relation(plan, _candidates(pairs)).subquery("ctx")
    query = exp.select(column("customer_id"), column("as_of"),
                       *(column(f"customer.{n}") for n in wanted)).from_(context)
    rows = con.execute(query.sql("duckdb")).fetchall()
    return {(r[0], r[1]): dict(zip(wanted, r[2:], strict=True)) for r in rows}


def receipt_values(con: duckdb.DuckDBPyConnection, plan: Plan,
                   names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """{purchase_id: {metric: value right after the receipt}}, from the purchase context
    of the receipts in the history (customers with a record)."""
    wanted = list(names) if names is not None else list(plan.metrics.metrics)
    cols = ", ".join(f'"customer.{n}"' for n in wanted)
    rows = con.execute(f'SELECT "purchase.purchase_id", {cols} FROM lr_purchase_ctx').fetchall()
    return {r[0]: dict(zip(wanted, r[1:], strict=True)) for r in rows}
