"""Fact dicts for one event, named by fact path as the batch contexts name columns.

Mirrors engine/contexts.py: `PurchaseFacts` is a row of `lr_purchase_ctx` (values
right after the receipt), `state_facts` the schedule context's values at a date
(also the referrer's facts of a first purchase). Params resolve per scope as the
batch's CASE over store then region (engine/scope.py); the tier ladder's rungs for
the customer's own region and home store (engine/ladder.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Mapping
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


def _record_getter(name: str) -> Callable[[CustomerView, Receipt, Ladder], Any]:
    def read(after: CustomerView, _r: Receipt, _l: Ladder) -> Any:
        return getattr(after.record, name) if after.record is not None else None
    return read


# A row of the purchase context (lr_purchase_ctx): the receipt and the values right
# after it, each computed from (view after the receipt, receipt, ladder).
PURCHASE_FACTS: dict[str, Callable[[CustomerView, Receipt, Ladder], Any]] = {
    "as_of": lambda a, r, _l: r.purchased_at.date(),
    "purchase.purchase_id": lambda a, r, _l: r.purchase_id,
    "purchase.store_id": lambda a, r, _l: r.store_id,
    "purchase.staff_id": lambda a, r, _l: r.staff_id,
    "purchase.amount": lambda a, r, _l: r.amount,
    "purchase.date": lambda a, r, _l: r.purchased_at.date(),
    "purchase.currency": lambda a, r, _l: r.currency,
    "purchase.return_of": lambda a, r, _l: r.return_of,
    "purchase.is_return": lambda a, r, _l: r.amount < 0,
    **{f"customer.{n}": _record_getter(n) for n in RECORD_FIELDS},
    "customer.lifetime_spend": lambda a, r, _l: a.lifetime_spend,
    "customer.spend_this_year": lambda a, r, _l: a.spend_this_year,
    "customer.spend_last_year": lambda a, r, _l: a.last_year_spend,
    "customer.points_this_year": lambda a, r, _l: math.floor(a.spend_this_year),
    "customer.points_last_year": lambda a, r, _l: math.floor(a.last_year_spend),
    "customer.first_purchase_date": lambda a, r, _l: a.first_purchase_date,
    "customer.last_purchase_date": lambda a, r, _l: r.purchased_at.date(),
    "customer.last_positive_purchase_date": lambda a, r, _l: a.last_positive_date,
    "customer.days_since_last_purchase": lambda a, r, _l: 0,
    "customer.days_since_last_positive_purchase":
        lambda a, r, _l: _days(r.purchased_at.date(), a.last_positive_date),
    "customer.purchase_count": lambda a, r, _l: a.purchase_count,
    "customer.last_store_id": lambda a, r, _l: a.last_positive_store,
    "customer.last_staff_id": lambda a, r, _l: a.last_positive_staff,
    "customer.tier": lambda a, r, ladder: ladder.tier(
        max(a.year_max_points, a.last_year_max_points), a.record),
}


class PurchaseFacts(Mapping[str, Any]):
    """A row of the purchase context, each fact computed when first read.

    A receipt's conditions read one or two facts and most receipts fire nothing, so
    laying out all forty facts per receipt would be most of the per-event cost.
    `known` holds what was read so far and facts added by the trigger (the
    referrer's, the tier change's), which take precedence."""

    __slots__ = ("after", "known", "ladder", "receipt")

    def __init__(self, after: CustomerView, receipt: Receipt, ladder: Ladder,
                 values: dict[str, Any] | None = None) -> None:
        self.after, self.receipt, self.ladder = after, receipt, ladder
        self.known: dict[str, Any] = {} if values is None else values

    def get(self, key: str, default: Any = None) -> Any:
        known = self.known
        if key in known:
            return known[key]
        read = PURCHASE_FACTS.get(key)
        if read is None:
            return default
        value = known[key] = read(self.after, self.receipt, self.ladder)
        return value

    def __getitem__(self, key: str) -> Any:
        if key in self.known or key in PURCHASE_FACTS:
            return self.get(key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(PURCHASE_FACTS), **self.known})

    def __len__(self) -> int:
        return len({**dict.fromkeys(PURCHASE_FACTS), **self.known})

    def extended(self, extra: Mapping[str, Any]) -> PurchaseFacts:
        """The same row with more facts (the referrer's, the tier change's)."""
        return PurchaseFacts(self.after, self.receipt, self.ladder, {**self.known, **extra})


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
