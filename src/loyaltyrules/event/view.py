"""The customer view: one customer's record and metric states, advanced per receipt.

The per-event twin of the batch history tables (engine/history.py). A view holds what
the next receipt and the next date need: the receipt count (a first purchase is the
first receipt), the stores that scope schedules, the states of the plan's declared
metrics (metrics/fold.py), the tier ladder's highest points of this year and the two
before, and the crossing marks reached. Views are immutable; `Views.advance` returns
a new one. Money is exact Decimal with 3 places, as the batch's DECIMAL(18,3).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, NamedTuple

from ..metrics.declare import MetricSet
from ..metrics.fold import CENTS3, UNKNOWN, ZERO, Fold, money
from ..plan import Plan

__all__ = ["CENTS3", "UNKNOWN", "ZERO", "CustomerRecord", "CustomerView", "Points", "Receipt",
           "Views", "money"]


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """The customer's row as the engine sees it: contact details only as has_* flags."""

    customer_id: str
    birthday: dt.date | None = None
    region: str = "default"
    home_store: str | None = None
    joined_on: dt.date | None = None
    referred_by: str | None = None
    staff_id: str | None = None
    consent_sms: bool | None = True
    consent_call: bool | None = True
    consent_mail: bool | None = True
    consent_visit: bool | None = True
    has_address: bool = False
    has_phone: bool = False
    has_email: bool = False


class Receipt(NamedTuple):
    """One purchase or return, validated (see event/receipts.py).

    A NamedTuple, like CustomerView: immutable and cheap to build on every event."""

    purchase_id: str
    customer_id: str | None
    store_id: str
    purchased_at: dt.datetime
    amount: Decimal
    staff_id: str | None = None
    currency: str | None = None
    return_of: str | None = None

    @property
    def day(self) -> dt.date:
        return self.purchased_at.date()

    def facts(self) -> dict[str, Any]:
        """The receipt as purchase.* facts."""
        return {"purchase.purchase_id": self.purchase_id, "purchase.store_id": self.store_id,
                "purchase.staff_id": self.staff_id, "purchase.amount": self.amount,
                "purchase.date": self.purchased_at.date(), "purchase.currency": self.currency,
                "purchase.return_of": self.return_of, "purchase.is_return": self.amount < 0}


class Points(NamedTuple):
    """The tier ladder's points: the highest reached in `year` (the year of the last
    receipt) and in the two years before (a year's tier is judged by them)."""

    year: int
    year_max: int = 0
    last_year_max: int = 0
    year_before_max: int = 0

    def at(self, year: int) -> Points:
        """Seen from `year`: this year's values move back when the year is later."""
        gap = year - self.year
        if gap <= 0:
            return self
        last = self.year_max if gap == 1 else 0
        before = self.last_year_max if gap == 1 else (self.year_max if gap == 2 else 0)
        return Points(year, 0, last, before)


class CustomerView(NamedTuple):
    """A customer's record and states after their last receipt so far.

    `metrics` holds the fold's states in its order (empty: no receipt yet); `ladder` the
    tier ladder's points (None: no receipt, or no ladder); `crossed` the crossing
    marks reached ("metric|threshold", with ":year" for this-year metrics, kept only
    for the year of the last receipt). A NamedTuple rather than a frozen dataclass:
    as immutable, and several times cheaper to build per event.
    """

    customer_id: str
    record: CustomerRecord | None = None
    purchase_count: int = 0  # receipts of any amount
    last_purchased_at: dt.datetime | None = None
    last_receipt_store: str | None = None
    last_positive_store: str | None = None  # the store of the last receipt above zero
    metrics: tuple[Any, ...] = ()
    ladder: Points | None = None
    crossed: frozenset[str] = frozenset()

    @property
    def year(self) -> int | None:
        """The calendar year of the last receipt."""
        return self.last_purchased_at.year if self.last_purchased_at is not None else None


_RECORD_FIELDS = tuple(f.name for f in fields(CustomerRecord))
_new_view = tuple.__new__  # Views.advance builds views positionally, in this order:
if CustomerView._fields != ("customer_id", "record", "purchase_count", "last_purchased_at",
                            "last_receipt_store", "last_positive_store", "metrics", "ladder",
                            "crossed"):  # pragma: no cover - a field added without updating it
    raise ImportError("CustomerView's fields changed: update Views.advance")


def marks_at(view: CustomerView, year: int) -> frozenset[str]:
    """The crossing marks seen from `year`: this-year marks of earlier years are gone."""
    if view.year is None or year <= view.year:
        return view.crossed
    return frozenset(m for m in view.crossed if not m.endswith(f":{view.year}"))


class Views:
    """A plan's views: the fold of its metrics and its tier ladder, advance and JSON.

    Immutable after construction; safe to share between threads."""

    def __init__(self, metrics: MetricSet, ladder: str | None) -> None:
        self.fold = Fold(metrics)
        self.ladder_metric = ladder
        self.ladder_key = _ladder_key(metrics, ladder, self.fold)
        self._needs_facts = bool(self.fold.filters) or any(a.of for a in self.fold.accs)

    @classmethod
    def of(cls, plan: Plan) -> Views:
        """The views of a plan: its metrics, and the metric its tier ladder climbs."""
        return cls(plan.metrics, plan.ladder_metric)

    def states(self, view: CustomerView) -> tuple[Any, ...]:
        return view.metrics if view.metrics else self.fold.empty

    def advance(self, view: CustomerView, receipt: Receipt) -> CustomerView:
        """The view after one more receipt (event order is the caller's concern)."""
        day = receipt.purchased_at.date()
        facts = receipt.facts() if self._needs_facts else {}
        states = self.fold.advance(self.states(view), facts, day)
        ladder = view.ladder
        if self.ladder_metric is not None and ladder is not UNKNOWN:
            ladder = self._climb(ladder, states, day)
        positive = receipt.store_id if receipt.amount > 0 else view.last_positive_store
        crossed = marks_at(view, day.year)
        # positionally, in field order: _replace costs more than the rest of this line
        return _new_view(CustomerView, (view.customer_id, view.record, view.purchase_count + 1,
                                        receipt.purchased_at, receipt.store_id, positive,
                                        states, ladder, crossed))

    def _climb(self, ladder: Points | None, states: tuple[Any, ...], day: dt.date) -> Points:
        assert self.ladder_metric is not None
        value = self.fold.value(states, self.ladder_metric, day)
        points = math.floor(value) if value is not None else 0
        if ladder is None or day.year > ladder.year:  # the year's first receipt
            return (ladder or Points(day.year)).at(day.year)._replace(year_max=points)
        return ladder._replace(year_max=max(ladder.year_max, points))

    def points(self, view: CustomerView, year: int) -> Points:
        """The ladder seen from `year` (all zeros before any receipt)."""
        ladder = view.ladder if view.ladder not in (None, UNKNOWN) else None
        return ladder.at(year) if ladder is not None else Points(year)

    def unknown(self, view: CustomerView) -> bool:
        """Whether the view lacks a state of this plan (its metrics changed since the
        view was built): policies reading it are left to the nightly run."""
        return UNKNOWN in view.metrics or view.ladder is UNKNOWN

    # -- persistence as JSON (the state store keeps one text per customer) ------------
    def to_json(self, view: CustomerView) -> str:
        # by hand: dataclasses.asdict deep-copies every value, a cost on every event
        record = None
        if view.record is not None:
            record = {name: getattr(view.record, name) for name in _RECORD_FIELDS}
            record["birthday"] = _iso(view.record.birthday)
            record["joined_on"] = _iso(view.record.joined_on)
        data = {
            "crossed": sorted(view.crossed),
            "customer_id": view.customer_id,
            "ladder": self._ladder_json(view.ladder),
            "last_positive_store": view.last_positive_store,
            "last_purchased_at": _iso(view.last_purchased_at),
            "last_receipt_store": view.last_receipt_store,
            "metrics": self.fold.to_json(self.states(view)) if view.purchase_count else {},
            "purchase_count": view.purchase_count,
            "record": record,
        }
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    def _ladder_json(self, ladder: Points | None) -> Any:
        if self.ladder_key is None or ladder is None or ladder is UNKNOWN:
            return None
        return {"b": ladder.year_before_max, "k": self.ladder_key, "l": ladder.last_year_max,
                "m": ladder.year_max, "y": ladder.year}

    def from_json(self, text: str) -> CustomerView:
        """A stored view; states it lacks (another metrics file, or a view stored before
        metrics were declared: no `metrics` key) are UNKNOWN until the next rebuild."""
        data = json.loads(text)
        at = data["last_purchased_at"]
        count = data["purchase_count"]
        record = data["record"]
        if record is not None:
            record["birthday"] = _date(record["birthday"])
            record["joined_on"] = _date(record["joined_on"])
        return CustomerView(
            data["customer_id"], CustomerRecord(**record) if record is not None else None,
            count, dt.datetime.fromisoformat(at) if at else None, data["last_receipt_store"],
            data["last_positive_store"],
            self.fold.from_json(data.get("metrics", {})) if count else (),
            self._ladder_from_json(data.get("ladder"), count), frozenset(data["crossed"]))

    def _ladder_from_json(self, data: Mapping[str, Any] | None, count: int) -> Any:
        if self.ladder_key is None or not count:
            return None
        if data is None or data.get("k") != self.ladder_key:
            return UNKNOWN
        return Points(data["y"], data["m"], data["l"], data["b"])


def _ladder_key(metrics: MetricSet, ladder: str | None, fold: Fold) -> str | None:
    """What the ladder's points are computed from: the metric's accumulators and the
    expressions in between (a stored ladder of another definition is unknown)."""
    if ladder is None:
        return None
    parts = [fold.keys[fold.slot[m.name]] if m.name in fold.slot else m.expression_text
             for m in metrics.closure({ladder})]
    return hashlib.sha256("|".join([ladder, *parts]).encode()).hexdigest()[:12]


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None
