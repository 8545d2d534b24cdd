"""Candidate rows become action records (DESIGN section 3).

Kept in Python because only rows that fired reach here: the history never does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from ..ledger import action_id
from ..plan import CompiledAction, CompiledPolicy
from .triggers import Candidates


def format_value(value: Any) -> str:
    """A fact's value for reasons and explain: money with cents, dates ISO."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value.normalize())
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def json_value(value: Any) -> Any:
    """A param's value in the action record: JSON numbers, strings, booleans, null."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _assignee(action: CompiledAction, row: Mapping[str, Any]) -> dict[str, Any]:
    spec = action.spec.assignee
    staff = row.get(f"a{action.index}.assignee.source") if spec.source else None
    if spec.source and staff is None and spec.fallback:
        return {"role": spec.fallback, "id": None}
    return {"role": spec.role, "id": staff}


def _channel(action: CompiledAction, row: Mapping[str, Any]) -> tuple[str, str | None]:
    """The action type and template, switched to the fallback when its test holds."""
    fallback = action.spec.fallback
    if fallback is not None and (fallback.when is None or row.get(f"a{action.index}.fallback.when")):
        return fallback.type, fallback.template or action.spec.template
    return action.spec.type, action.spec.template


def _days(row: Mapping[str, Any], action: CompiledAction, bound: str) -> int:
    value = row.get(f"a{action.index}.window.{bound}")
    return int(value) if value is not None else 0


def assemble(policy: CompiledPolicy, cand: Candidates, row: Mapping[str, Any],
             reason_paths: tuple[str, ...], bundle: str) -> Iterator[dict[str, Any]]:
    as_of: dt.date = row["as_of"]
    reason: dict[str, Any] = {"trigger": cand.event}
    if row.get("lr_purchase") is not None:
        reason["purchase_id"] = row["lr_purchase"]
    reason["values"] = {p: format_value(row.get(f"v.{p}")) for p in reason_paths}
    for action in cand.actions:
        if action.spec.when is not None and not row.get(f"a{action.index}.when"):
            continue
        recipient = row["lr_referrer"] if action.spec.recipient == "referrer" else row["customer_id"]
        if recipient is None:
            continue
        kind, template = _channel(action, row)
        key = f"{row['lr_key']}#{action.index}"
        yield {
            "action_id": action_id(policy.id, row["customer_id"], key),
            "policy": policy.id,
            "policy_version": policy.version,
            "bundle": bundle,
            "type": kind,
            "customer_id": recipient,
            "store_id": row["store_id"],
            "region": row["region"],
            "assignee": _assignee(action, row),
            "not_before": (as_of + dt.timedelta(days=_days(row, action, "not_before"))).isoformat(),
            "due_by": (as_of + dt.timedelta(days=_days(row, action, "due_by"))).isoformat(),
            "as_of": as_of.isoformat(),
            "priority": action.spec.priority,
            "template": template or policy.id,
            "params": {name: json_value(row.get(f"a{action.index}.params.{name}"))
                       for name, _c in action.params},
            "reason": reason,
        }
