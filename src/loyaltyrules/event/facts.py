"""Fact dicts for one event, named by fact path as the batch contexts name columns.

Mirrors engine/contexts.py: `purchase_facts` is a row of `lr_purchase_ctx` (values
right after the receipt), `state_facts` the schedule context's values at a date
(also the referrer's facts of a first purchase). Params resolve per scope as the
batch's CASE over store then region (engine/scope.py); the tier ladder's rungs for
the customer's own region and home store (engine/ladder.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from ..conditions import compile_python
from ..conditions.evaluate import Evaluator
from ..plan import CompiledPolicy
from ..validation.params import as_typed
from .view import ZERO, CustomerRecord, CustomerView, Receipt, rolled

RECORD_FIELDS = ("customer_id", "birthday", "region", "home_store", "joined_on", "referred_by",
                 "staff_id", "consent_sms", "consent_call", "consent_mail", "consent_visit",
                 "has_address", "has_phone", "has_email")
Scope = tuple[str | None, str | None]  # (region, store)


class Params:
    """A policy's params and enabled flag per (region, store), resolved once each."""

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self._cache: dict[Scope, tuple[dict[str, Any], bool]] = {}

    def at(self, region: str | None, store: str | None) -> tuple[dict[str, Any], bool]:
        found = self._cache.get((region, store))
        if found is None:
            raw, enabled = self.policy.params_at(region, store)
            specs = self.policy.spec.params
            typed = {name: self.policy.defaults[name] if raw[name] is self.policy.defaults[name]
                     else as_typed(specs[name].type, raw[name]) for name in specs}
            found = (typed, enabled)
            self._cache[(region, store)] = found  # same value from any thread: a benign race
        return found


class Ladder:
    """customer.tier: the rung reached by the points, for the customer's own scope."""

    def __init__(self, policy: CompiledPolicy | None) -> None:
        self.policy = policy
        self.params = Params(policy) if policy else None
        tiers = policy.spec.trigger.tiers if policy else []  # type: ignore[union-attr]
        nodes = policy.trigger_nodes if policy else {}
        self.names = tuple(t.name for t in tiers)
        self.minimums = tuple(compile_python(nodes[f"tiers.{i}.min"]) for i in range(len(tiers)))
        self.discounts: tuple[Evaluator | None, ...] = tuple(
            compile_python(nodes[k]) if (k := f"tiers.{i}.discount_pct") in nodes else None
            for i in range(len(tiers)))
        self._low_cache: dict[Scope, tuple[Any, ...]] = {}

    def _params(self, region: str | None, store: str | None) -> Mapping[str, Any]:
        return self.params.at(region, store)[0] if self.params else {}

    def _lows(self, region: str | None, store: str | None) -> tuple[Any, ...]:
        """The rungs' minimums at a scope, highest rung first (resolved once each)."""
        lows = self._low_cache.get((region, store))
        if lows is None:
            params = self._params(region, store)
            lows = tuple(m({}, params) for m in reversed(self.minimums))
            self._low_cache[(region, store)] = lows
        return lows

    def index(self, points: int, region: str | None, store: str | None) -> int | None:
        if self.policy is None:
            return None
        top = len(self.minimums) - 1
        for i, low in enumerate(self._lows(region, store)):
            if low is not None and points >= low:
                return top - i
        return 0

    def name(self, index: int | None) -> str | None:
        return self.names[index] if index is not None and index < len(self.names) else None

    def discount(self, index: int, region: str | None, store: str | None) -> Any:
        rung = self.discounts[index] if index < len(self.discounts) else None
        return rung({}, self._params(region, store)) if rung else None

    def tier(self, points: int, record: CustomerRecord | None) -> str | None:
        region, store = (record.region, record.home_store) if record else (None, None)
        return self.name(self.index(points, region, store))


def record_facts(group: str, record: CustomerRecord | None) -> dict[str, Any]:
    if record is None:
        return {f"{group}.{n}": None for n in RECORD_FIELDS}
    return {f"{group}.{n}": getattr(record, n) for n in RECORD_FIELDS}


def _days(day: dt.date, since: dt.date | None) -> int | None:
    return (day - since).days if since is not None else None


def purchase_facts(after: CustomerView, receipt: Receipt, ladder: Ladder) -> dict[str, Any]:
    """A row of the purchase context: the receipt and the values right after it."""
    day = receipt.day
    facts = {
        "as_of": day,
        "purchase.purchase_id": receipt.purchase_id, "purchase.store_id": receipt.store_id,
        "purchase.staff_id": receipt.staff_id, "purchase.amount": receipt.amount,
        "purchase.date": day, "purchase.currency": receipt.currency,
        "purchase.return_of": receipt.return_of, "purchase.is_return": receipt.amount < 0,
        **record_facts("customer", after.record),
        "customer.lifetime_spend": after.lifetime_spend,
        "customer.spend_this_year": after.spend_this_year,
        "customer.spend_last_year": after.last_year_spend,
        "customer.points_this_year": after.points_this_year,
        "customer.points_last_year": math.floor(after.last_year_spend),
        "customer.first_purchase_date": after.first_purchase_date,
        "customer.last_purchase_date": day,
        "customer.last_positive_purchase_date": after.last_positive_date,
        "customer.days_since_last_purchase": 0,
        "customer.days_since_last_positive_purchase": _days(day, after.last_positive_date),
        "customer.purchase_count": after.purchase_count,
        "customer.last_store_id": after.last_positive_store,
        "customer.last_staff_id": after.last_positive_staff,
        "customer.tier": ladder.tier(max(after.year_max_points, after.last_year_max_points),
                                     after.record),
    }
    return facts


def state_facts(group: str, view: CustomerView | None, record: CustomerRecord | None,
                day: dt.date, ladder: Ladder) -> dict[str, Any]:
    """A customer's facts at `day` from their view so far (schedule context)."""
    facts = record_facts(group, record)
    if view is None or view.year is None:
        view = CustomerView(record.customer_id if record else "")
    seen = rolled(view, day.year)
    this_year = seen.year == day.year
    spend = seen.spend_this_year if this_year else ZERO
    facts.update({
        f"{group}.lifetime_spend": seen.lifetime_spend,
        f"{group}.spend_this_year": spend,
        f"{group}.spend_last_year": seen.last_year_spend,
        f"{group}.points_this_year": math.floor(spend),
        f"{group}.points_last_year": math.floor(seen.last_year_spend),
        f"{group}.first_purchase_date": seen.first_purchase_date,
        f"{group}.last_purchase_date": seen.last_purchase_date,
        f"{group}.last_positive_purchase_date": seen.last_positive_date,
        f"{group}.days_since_last_purchase": _days(day, seen.last_purchase_date),
        f"{group}.days_since_last_positive_purchase": _days(day, seen.last_positive_date),
        f"{group}.purchase_count": seen.purchase_count,
        f"{group}.last_store_id": seen.last_positive_store,
        f"{group}.last_staff_id": seen.last_positive_staff,
        f"{group}.tier": ladder.tier(
            max(seen.year_max_points if this_year else 0, seen.last_year_max_points), record),
    })
    return facts
