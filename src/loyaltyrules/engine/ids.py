"""Action ids in SQL: the same 32 hex chars as loyaltyrules.ledger.action_id.

sha256 over len(policy):policy len(subject):subject key, lengths in UTF-8 bytes,
computed by DuckDB for every fired row at once instead of one Python call each.
"""

from __future__ import annotations

from sqlglot import exp


def _prefixed(part: exp.Expr) -> exp.Expr:
    length = exp.cast(exp.func("strlen", part.copy()), "VARCHAR")
    return exp.DPipe(
        this=exp.DPipe(this=length, expression=exp.Literal.string(":")), expression=part
    )


def action_id_sql(policy: str, subject: exp.Expr, key: exp.Expr) -> exp.Expr:
    encoded = exp.DPipe(
        this=exp.DPipe(this=_prefixed(exp.Literal.string(policy)), expression=_prefixed(subject)),
        expression=key,
    )
    digest = exp.func("sha256", encoded)
    return exp.Substring(this=digest, start=exp.Literal.number(1), length=exp.Literal.number(32))
