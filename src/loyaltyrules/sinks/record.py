"""The action record's field order and a check that a dict is one (DESIGN section 3).

The order is the one of `schemas/action.schema.json` (a test keeps them equal), so
every output lists fields the same way whatever order the producer built them in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = [
    "ACTION_FIELDS",
    "ASSIGNEE_FIELDS",
    "MERGED_FIELDS",
    "MERGED_REASON_FIELDS",
    "REASON_FIELDS",
    "ActionRecordError",
    "in_schema_order",
    "json_default",
    "merged_items",
    "ordered_action",
    "reason_pairs",
]

ACTION_FIELDS: tuple[str, ...] = (
    "action_id", "policy", "policy_version", "bundle", "type", "customer_id", "store_id",
    "region", "assignee", "not_before", "due_by", "due_at", "valid_until", "as_of",
    "priority", "template", "params", "invitation", "reason",
)
# valid_until is optional: records made before actions carried one lack it; due_at and
# invitation are present only where they apply (windows in hours, invitations).
_ACTION_REQUIRED = frozenset(ACTION_FIELDS) - {"valid_until", "due_at", "invitation"}
ASSIGNEE_FIELDS: tuple[str, ...] = ("role", "id")
REASON_FIELDS: tuple[str, ...] = ("trigger", "purchase_id", "complaint_id", "event_id",
                                  "values", "merged")
_REASON_REQUIRED = frozenset({"trigger"})
# One entry of `reason.merged`: a staff task the contact rules merged into this one.
MERGED_FIELDS: tuple[str, ...] = (
    "action_id", "policy", "type", "due_by", "priority", "template", "params", "reason",
)
MERGED_REASON_FIELDS: tuple[str, ...] = ("trigger", "purchase_id", "complaint_id", "event_id",
                                         "values")
_MERGED_REQUIRED = frozenset({"action_id", "policy", "type", "reason"})


class ActionRecordError(ValueError):
    """A dict handed to a sink is not an action record (missing or unknown fields)."""


def _ordered(record: Mapping[str, Any], fields: tuple[str, ...], required: frozenset[str],
             where: str) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise ActionRecordError(f"{where}: expected an object, got {type(record).__name__}")
    unknown = [key for key in record if key not in fields]
    missing = [key for key in fields if key in required and key not in record]
    if unknown or missing:
        problems = [f"unknown field {key!r}" for key in unknown]
        problems += [f"missing field {key!r}" for key in missing]
        raise ActionRecordError(f"{where}: {', '.join(problems)}")
    return {key: record[key] for key in fields if key in record}


def ordered_action(action: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `action` with its fields (and the nested ones) in schema order."""
    where = f"action {action.get('action_id', '?')}"
    top = _ordered(action, ACTION_FIELDS, _ACTION_REQUIRED, where)
    top["assignee"] = _ordered(top["assignee"], ASSIGNEE_FIELDS, frozenset(ASSIGNEE_FIELDS),
                               f"{where}, assignee")
    reason = _ordered(top["reason"], REASON_FIELDS, _REASON_REQUIRED, f"{where}, reason")
    if "merged" in reason:
        reason["merged"] = _ordered_merged(reason["merged"], f"{where}, reason.merged")
    top["reason"] = reason
    return top


# Key sequences (record, assignee, reason) ordered_action found already in schema
# order, for records without merged tasks: a run's records share a few, so each shape
# is checked once.
_IN_ORDER: set[tuple[tuple[str, ...], ...]] = set()


def _shape(action: Any) -> tuple[tuple[str, ...], ...] | None:
    try:
        return tuple(action), tuple(action["assignee"]), tuple(action["reason"])
    except (KeyError, TypeError):
        return None


def in_schema_order(action: Mapping[str, Any]) -> Mapping[str, Any]:
    """`action` with its fields (and the nested ones) in schema order: itself when its
    shape was found in order before, else `ordered_action(action)`, which raises
    ActionRecordError if it is not an action record."""
    shape = _shape(action)
    if shape in _IN_ORDER and isinstance(action["assignee"], Mapping) \
            and isinstance(action["reason"], Mapping):
        return action
    ordered = ordered_action(action)
    if shape is not None and "merged" not in ordered["reason"] and _shape(ordered) == shape:
        _IN_ORDER.add(shape)
    return ordered


def _ordered_merged(merged: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(merged, (list, tuple)):
        raise ActionRecordError(f"{where}: expected a list, got {type(merged).__name__}")
    items = []
    for number, item in enumerate(merged):
        at = f"{where}[{number}]"
        entry = _ordered(item, MERGED_FIELDS, _MERGED_REQUIRED, at)
        entry["reason"] = _ordered(entry["reason"], MERGED_REASON_FIELDS, _REASON_REQUIRED,
                                   f"{at}, reason")
        items.append(entry)
    return items


def merged_items(action: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The tasks merged into `action` (an ordered record), in the record's order."""
    merged: list[dict[str, Any]] = action["reason"].get("merged") or []
    return merged


def merged_details(item: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A merged task's template, due date and priority, those it has, as (label, text)."""
    found = [("template", item.get("template")), ("due", item.get("due_by")),
             ("priority", item.get("priority"))]
    return [(label, str(value)) for label, value in found if value not in (None, "")]


def reason_pairs(action: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The reason's fact values as (fact path, value as text), in the record's order.

    `action` is a record or one of its `reason.merged` entries (both have a reason).
    """
    values: Mapping[str, Any] = action["reason"].get("values") or {}
    return [(str(path), str(value)) for path, value in values.items()]


def json_default(value: Any) -> Any:
    """JSON for values an in-process host may hand over that JSON has no type for."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
