"""Fired rows become action records (DESIGN section 3).

Ids, dates and every expression are computed by the query; here each row is only
laid out as a record, with column positions worked out once per query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any

from ..plan import CompiledAction, CompiledPolicy
from .windows import Zones, window

DAY = dt.timedelta(days=1)
# Triggers whose key is the id of the row that fired them, named in the reason.
ROW_IDS = {"complaint": "complaint_id", "event": "event_id"}


def invitation(event: Any, day: Any, capacity: Any) -> dict[str, Any] | None:
    """The record's invitation; None (no action) when its event or date is missing."""
    if event is None or day is None:
        return None
    return {"event_id": str(event), "date": day.isoformat(),
            "capacity": None if capacity is None else int(capacity)}


def seated(seat: Any, capacity: Any) -> bool:
    """Within the capacity (none set, or a missing one, limits nothing)."""
    return seat is None or capacity is None or seat <= capacity


def format_value(value: Any) -> str:
    """A fact's value for reasons and explain: money with cents, dates ISO."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return (
            f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value.normalize())
        )
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


def valid_until(declared: str | None, due_by: str, stated: dt.date) -> str | None:
    """The record's valid_until: the date a policy states, none for `never`, else the
    due date (docs/contact-rules.md, Time-bound actions)."""
    if declared is None:
        return due_by
    return None if declared == "never" else stated.isoformat()


@dataclass(frozen=True)
class _Layout:
    """Where one action's values sit in a row, and what it fixes in advance."""

    action: CompiledAction
    id: int
    when: int | None
    fallback: int | None
    source: int | None
    not_before: int | None
    due_by: int | None
    valid_until: int | None
    params: tuple[tuple[str, int], ...]
    invitation: tuple[int | None, int | None, int | None, int | None]  # event, date, seats

    def window(self, row: Sequence[Any], day: dt.date, at: dt.datetime, zones: Zones,
               store: str | None) -> dict[str, str]:
        if not self.action.hours:  # days from D alone: what window() gives without a zone
            return {"not_before": _shifted(day, _value(row, self.not_before)),
                    "due_by": _shifted(day, _value(row, self.due_by))}
        hours = self.action.in_hours
        return window(day, at, (_value(row, self.not_before), hours("not_before")),
                      (_value(row, self.due_by), hours("due_by")), zones.of(store))

    def valid(self, row: Sequence[Any], due_by: str, day: dt.date) -> str | None:
        """The record's valid_until (the module's valid_until)."""
        declared = self.action.spec.window.valid_until
        if declared is None or declared == "never":
            return valid_until(declared, due_by, day)
        return valid_until(declared, due_by, day + _days(row, self.valid_until))

    def invited(self, row: Sequence[Any]) -> tuple[bool, dict[str, Any] | None]:
        """(whether the action goes out, its invitation) for invitation actions."""
        if self.action.spec.invitation is None:
            return True, None
        event, day, capacity, seat = (_value(row, i) for i in self.invitation)
        found = invitation(event, day, capacity)
        return found is not None and seated(seat, capacity), found

    def channel(self, row: Sequence[Any]) -> tuple[str, str | None]:
        """The action type and template, switched to the fallback when its test holds."""
        spec = self.action.spec
        fallback = spec.fallback
        if fallback is not None and (self.fallback is None or row[self.fallback]):
            return fallback.type, fallback.template or spec.template
        return spec.type, spec.template

    def assignee(self, row: Sequence[Any]) -> dict[str, Any]:
        spec = self.action.spec.assignee
        staff = row[self.source] if self.source is not None else None
        if spec.source and staff is None and spec.fallback:
            return {"role": spec.fallback, "id": None}
        return {"role": spec.role, "id": staff}


def _value(row: Sequence[Any], index: int | None) -> Any:
    return row[index] if index is not None else None


@lru_cache(maxsize=1024)
def _shifted(day: dt.date, days: int | None) -> str:
    """`day` moved by a window bound in days, as windows.bound_date counts it (missing:
    0), in ISO form: the records of a night share a few, so each is worked out once."""
    return (day + dt.timedelta(days=days or 0)).isoformat()


def _days(row: Sequence[Any], index: int | None) -> dt.timedelta:
    value = _value(row, index)
    return dt.timedelta(days=int(value)) if value is not None else dt.timedelta(0)


class Assembler:
    """Turns the rows of one compiled policy query into action records."""

    def __init__(
        self,
        policy: CompiledPolicy,
        actions: Sequence[CompiledAction],
        event: str,
        columns: Sequence[str],
        reason_paths: Sequence[str],
        bundle: str,
        zones: Zones | None = None,
    ) -> None:
        at = {name: i for i, name in enumerate(columns)}
        self.policy, self.event, self.bundle = policy, event, bundle
        self.zones = zones or Zones()
        self.base = itemgetter(*(
            at[n]
            for n in ("customer_id", "as_of", "store_id", "region", "lr_referrer", "lr_purchase",
                      "lr_key", "lr_at")
        ))
        self.row_id = ROW_IDS.get(event)
        self.reason = [(p, at[f"v.{p}"]) for p in reason_paths]
        self.layouts = [self._layout(a, at) for a in actions]

    @staticmethod
    def _layout(action: CompiledAction, at: dict[str, int]) -> _Layout:
        prefix = f"a{action.index}."
        return _Layout(
            action,
            at[prefix + "id"],
            at.get(prefix + "when"),
            at.get(prefix + "fallback.when"),
            at.get(prefix + "assignee.source"),
            at.get(prefix + "window.not_before"),
            at.get(prefix + "window.due_by"),
            at.get(prefix + "window.valid_until"),
            tuple((name, at[f"{prefix}params.{name}"]) for name, _c in action.params),
            (at.get(f"{prefix}invitation.event"), at.get(f"{prefix}invitation.date"),
             at.get(f"{prefix}invitation.capacity"), at.get(f"{prefix}seat")),
        )

    def __call__(self, row: Sequence[Any]) -> Iterator[dict[str, Any]]:
        customer, as_of, store, region, referrer, purchase, key, moment = self.base(row)
        reason: dict[str, Any] = {"trigger": self.event}
        if purchase is not None:
            reason["purchase_id"] = purchase
        if self.row_id is not None:
            reason[self.row_id] = key
        reason["values"] = {path: format_value(row[i]) for path, i in self.reason}
        day = as_of.isoformat()
        for layout in self.layouts:
            spec = layout.action.spec
            if layout.when is not None and not row[layout.when]:
                continue
            recipient = referrer if spec.recipient == "referrer" else customer
            if recipient is None:
                continue
            goes, invited = layout.invited(row)
            if not goes:
                continue
            kind, template = layout.channel(row)
            fields = layout.window(row, as_of, moment, self.zones, store)
            yield {
                "action_id": row[layout.id],
                "policy": self.policy.id,
                "policy_version": self.policy.version,
                "bundle": self.bundle,
                "type": kind,
                "customer_id": recipient,
                "store_id": store,
                "region": region,
                "assignee": layout.assignee(row),
                **fields,
                "valid_until": layout.valid(row, fields["due_by"], as_of),
                "as_of": day,
                "priority": spec.priority,
                "template": template or self.policy.id,
                "params": {name: json_value(row[i]) for name, i in layout.params},
                **({"invitation": invited} if invited is not None else {}),
                "reason": reason,
            }
