"""Fact dicts for one event, named by fact path as the batch contexts name columns.

Mirrors engine/contexts.py: `PurchaseFacts` is a row of `lr_purchase_ctx` (values
right after the receipt), `state_facts` the schedule context's values at a date
(also the referrer's facts of a first purchase); the declared metrics come from the
plan's fold (metrics/fold.py). Params resolve per scope as the
batch's CASE over store then region (engine/scope.py); the tier ladder's rungs for
the customer's own region and home store (engine/ladder.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..conditions import compile_python
from ..conditions.evaluate import Evaluator
from ..plan import CompiledPolicy
from ..validation.params import as_typed
from .view import CustomerRecord, CustomerView, Receipt, Views

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


Reader = Callable[["PurchaseFacts"], Any]


def _record_getter(name: str) -> Reader:
    def read(facts: PurchaseFacts) -> Any:
        record = facts.after.record
        return getattr(record, name) if record is not None else None
    return read


# The receipt's own facts, as the purchase context's columns.
RECEIPT_READERS: dict[str, Reader] = {
    "as_of": lambda f: f.receipt.purchased_at.date(),
    "purchase.purchase_id": lambda f: f.receipt.purchase_id,
    "purchase.store_id": lambda f: f.receipt.store_id,
    "purchase.staff_id": lambda f: f.receipt.staff_id,
    "purchase.amount": lambda f: f.receipt.amount,
    "purchase.date": lambda f: f.receipt.purchased_at.date(),
    "purchase.currency": lambda f: f.receipt.currency,
    "purchase.return_of": lambda f: f.receipt.return_of,
    "purchase.is_return": lambda f: f.receipt.amount < 0,
    **{f"customer.{n}": _record_getter(n) for n in RECORD_FIELDS},
}


class Readers:
    """How a row of the purchase context is computed from (view after the receipt,
    receipt): the receipt's facts, the record, the plan's metrics and the tier."""

    def __init__(self, views: Views, ladder: Ladder) -> None:
        self.views, self.ladder = views, ladder
        fold = views.fold
        self.readers: dict[str, Reader] = dict(RECEIPT_READERS)
        for metric in views.fold.metrics.metrics.values():
            self.readers[metric.path] = (
                self._aggregate(metric.name) if metric.name in fold.slot
                else self._derived(metric.name))
        self.readers["customer.tier"] = self._tier

    def _aggregate(self, name: str) -> Reader:
        fold, views = self.views.fold, self.views
        return lambda f: fold.aggregate(views.states(f.after), name, f.receipt.purchased_at.date())

    def _derived(self, name: str) -> Reader:
        expression = self.views.fold.derived(name)
        return lambda f: expression(f, {})

    def _tier(self, f: PurchaseFacts) -> Any:
        points = self.views.points(f.after, f.receipt.purchased_at.year)
        return self.ladder.tier(max(points.year_max, points.last_year_max), f.after.record)


class PurchaseFacts(Mapping[str, Any]):
    """A row of the purchase context, each fact computed when first read.

    A receipt's conditions read one or two facts and most receipts fire nothing, so
    laying out all the facts per receipt would be most of the per-event cost.
    `known` holds what was read so far and facts added by the trigger (the
    referrer's, the tier change's), which take precedence."""

    __slots__ = ("after", "known", "readers", "receipt")
    after: CustomerView
    receipt: Receipt
    readers: Readers
    known: dict[str, Any]

    def __init__(self, after: CustomerView, receipt: Receipt, readers: Readers,
                 values: dict[str, Any] | None = None) -> None:
        self.after, self.receipt, self.readers = after, receipt, readers
        self.known: dict[str, Any] = {} if values is None else values

    def get(self, key: str, default: Any = None) -> Any:
        known = self.known
        if key in known:
            return known[key]
        read = self.readers.readers.get(key)
        if read is None:
            return default
        value = known[key] = read(self)
        return value

    def __getitem__(self, key: str) -> Any:
        if key in self.known or key in self.readers.readers:
            return self.get(key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self.readers.readers), **self.known})

    def __len__(self) -> int:
        return len({**dict.fromkeys(self.readers.readers), **self.known})

    def extended(self, extra: Mapping[str, Any]) -> PurchaseFacts:
        """The same row with more facts (the referrer's, the tier change's)."""
        return PurchaseFacts(self.after, self.receipt, self.readers, {**self.known, **extra})


class WithGroup(Mapping[str, Any]):
    """A row with one more group of facts (`referrer.*`), laid out when first read.

    A first purchase's conditions read one referrer fact, if any, and most first
    purchases fire nothing; laying out the referrer's every metric per first
    purchase cost more than the rest of the receipt. Facts of the group come from
    `make()` (called once), the others from `base`."""

    __slots__ = ("_values", "base", "make", "prefix")

    def __init__(self, base: Mapping[str, Any], prefix: str,
                 make: Callable[[], Mapping[str, Any]]) -> None:
        self.base, self.prefix, self.make = base, prefix, make
        self._values: Mapping[str, Any] | None = None

    def _group(self) -> Mapping[str, Any]:
        if self._values is None:
            self._values = self.make()
        return self._values

    def get(self, key: str, default: Any = None) -> Any:
        if key.startswith(self.prefix):
            return self._group().get(key, default)
        return self.base.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._group()[key] if key.startswith(self.prefix) else self.base[key]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self.base), **dict.fromkeys(self._group())})

    def __len__(self) -> int:
        return len({**dict.fromkeys(self.base), **dict.fromkeys(self._group())})


def state_facts(group: str, view: CustomerView | None, record: CustomerRecord | None,
                day: dt.date, readers: Readers) -> dict[str, Any]:
    """A customer's facts at `day` from their view so far (schedule context)."""
    views = readers.views
    if view is None:
        view = CustomerView(record.customer_id if record else "")
    facts = record_facts(group, record)
    facts.update(views.fold.values(views.states(view), day,
                                   record=record_facts("customer", record), group=group))
    points = views.points(view, day.year)
    this_year = points.year_max if points.year == day.year else 0
    facts[f"{group}.tier"] = readers.ladder.tier(max(this_year, points.last_year_max), record)
    return facts
