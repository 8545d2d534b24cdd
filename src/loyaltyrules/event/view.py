"""The customer view: one customer's record and running metrics, advanced per receipt.

The per-event twin of the batch history tables (engine/history.py): the values after
the customer's last receipt, plus what the next receipt needs to reproduce the
batch's facts (the highest points of this year and the two before, last year's net
spend, the crossings already reached). Everything here is pure: a view is immutable
and `advance` returns a new one. Money is exact Decimal with 3 places, as the batch's
DECIMAL(18,3); points are the floor of this year's net spend.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

ZERO = Decimal("0.000")
CENTS3 = Decimal("0.001")


def money(value: Decimal) -> Decimal:
    """Money as DECIMAL(18,3) holds it (DuckDB rounds half away from zero)."""
    return value.quantize(CENTS3, rounding=ROUND_HALF_UP)


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


class CustomerView(NamedTuple):
    """A customer's record and running values after their last receipt so far.

    `year` is the calendar year of the last receipt: `spend_this_year` and
    `year_max_points` belong to it, `last_year_*` to the year before, and
    `year_before_max_points` to the one before that (the 1 January tier rule).
    `crossed` holds the crossing marks reached ("metric|threshold", with ":year" for
    this-year metrics, kept only for the current year). A NamedTuple rather than a
    frozen dataclass: as immutable, and several times cheaper to build per event.
    """

    customer_id: str
    record: CustomerRecord | None = None
    year: int | None = None
    lifetime_spend: Decimal = ZERO
    spend_this_year: Decimal = ZERO
    year_max_points: int = 0
    last_year_spend: Decimal = ZERO
    last_year_max_points: int = 0
    year_before_max_points: int = 0
    purchase_count: int = 0
    first_purchase_date: dt.date | None = None
    last_purchase_date: dt.date | None = None
    last_purchased_at: dt.datetime | None = None
    last_receipt_store: str | None = None
    last_positive_date: dt.date | None = None
    last_positive_store: str | None = None
    last_positive_staff: str | None = None
    crossed: frozenset[str] = frozenset()

    @property
    def points_this_year(self) -> int:
        return math.floor(self.spend_this_year)


def rolled(view: CustomerView, year: int) -> CustomerView:
    """The view seen from `year`: this-year values move back when the year is later."""
    if view.year is None or year <= view.year:
        return view
    gap = year - view.year
    last_spend = view.spend_this_year if gap == 1 else ZERO
    last_max = view.year_max_points if gap == 1 else 0
    before_max = view.last_year_max_points if gap == 1 else (view.year_max_points if gap == 2
                                                             else 0)
    yearly = frozenset(m for m in view.crossed if not m.endswith(f":{view.year}"))
    return view._replace(year=year, spend_this_year=ZERO, year_max_points=0,
                   last_year_spend=last_spend, last_year_max_points=last_max,
                   year_before_max_points=before_max, crossed=yearly)


def first_of_year(view: CustomerView, day: dt.date) -> bool:
    """Whether a receipt on `day` is the first of its year for this view."""
    return view.year is None or day.year > view.year


def advance(view: CustomerView, receipt: Receipt) -> CustomerView:
    """The view after one more receipt (event order is the caller's concern).

    Runs on every receipt at the point of sale, hence written for speed: the view is
    unpacked into locals and the new one built positionally, in field order."""
    at = receipt.purchased_at
    day = at.date()
    year = day.year
    amount = receipt.amount
    seen = view.year
    fresh = seen is None or year > seen  # the receipt opens its year
    (customer_id, record, last_year, lifetime, spend, year_max, last_spend, last_max,
     before_max, count, first, _day, _at, _store, positive_date, positive_store,
     positive_staff, crossed) = rolled(view, year) if fresh and seen is not None else view
    spend = (spend + amount).quantize(CENTS3, ROUND_HALF_UP)
    points = math.floor(spend)
    store = receipt.store_id
    if amount > 0:
        positive_date, positive_store, positive_staff = day, store, receipt.staff_id
    return _new(CustomerView, (
        customer_id, record,
        year if last_year is None or year > last_year else last_year,
        (lifetime + amount).quantize(CENTS3, ROUND_HALF_UP),
        spend,
        points if fresh or points > year_max else year_max,
        last_spend, last_max, before_max,
        count + 1,
        day if first is None or day < first else first,
        day, at, store,
        positive_date, positive_store, positive_staff,
        crossed,
    ))


_new = tuple.__new__


# -- persistence as JSON (the state store keeps one text per customer) ------------
_DATES = ("first_purchase_date", "last_purchase_date", "last_positive_date")
_MONEY = ("lifetime_spend", "spend_this_year", "last_year_spend")


_FIELDS = CustomerView._fields
_RECORD_FIELDS = tuple(f.name for f in fields(CustomerRecord))


def view_to_json(view: CustomerView) -> str:
    # by hand: dataclasses.asdict deep-copies every value, a cost on every event
    data: dict[str, Any] = {name: getattr(view, name) for name in _FIELDS}
    if view.record is not None:
        data["record"] = {name: getattr(view.record, name) for name in _RECORD_FIELDS}
    for name in _DATES:
        data[name] = _iso(data[name])
    for name in _MONEY:
        data[name] = str(data[name])
    data["last_purchased_at"] = _iso(view.last_purchased_at)
    data["crossed"] = sorted(view.crossed)
    if view.record is not None:
        data["record"]["birthday"] = _iso(view.record.birthday)
        data["record"]["joined_on"] = _iso(view.record.joined_on)
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def view_from_json(text: str) -> CustomerView:
    data = json.loads(text)
    for name in _DATES:
        data[name] = _date(data[name])
    for name in _MONEY:
        data[name] = Decimal(data[name])
    at = data["last_purchased_at"]
    data["last_purchased_at"] = dt.datetime.fromisoformat(at) if at else None
    data["crossed"] = frozenset(data["crossed"])
    record = data["record"]
    if record is not None:
        record["birthday"] = _date(record["birthday"])
        record["joined_on"] = _date(record["joined_on"])
        data["record"] = CustomerRecord(**record)
    return CustomerView(**data)


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None
