"""Declared metrics computed directly from DESIGN section 2b, in plain Python.

Written from the design's words, not from the engine: each metric of
tests/data/metrics-edges.yaml (and the pack's) is a list of receipts picked by its
window and filter, then aggregated. Windows on date D: all = dated up to D; Nd =
dated in (D-N, D]; this_year / quarter / month = the period of D, up to D; last_* =
the whole period before. Values as of the end of D, or right after a receipt (then
only the receipts up to it, in event order, count). Also percentiles and ABC classes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Receipt:
    purchase_id: str
    customer_id: str
    store_id: str
    staff_id: str | None
    at: dt.datetime
    amount: Decimal

    @property
    def day(self) -> dt.date:
        return self.at.date()


def _quarter(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3


def _previous(period: tuple[int, int], per_year: int) -> tuple[int, int]:
    year, index = period
    return (year, index - 1) if index else (year - 1, per_year - 1)


def in_window(window: str, receipt_day: dt.date, day: dt.date) -> bool:
    if receipt_day > day:
        return False
    if window == "all":
        return True
    if window.endswith("d"):
        return day - dt.timedelta(days=int(window[:-1])) < receipt_day
    which, unit = window.split("_")
    key: Callable[[dt.date], tuple[int, int]] = {
        "year": lambda d: (d.year, 0), "quarter": _quarter,
        "month": lambda d: (d.year, d.month - 1)}[unit]
    per_year = {"year": 1, "quarter": 4, "month": 12}[unit]
    want = key(day) if which == "this" else _previous(key(day), per_year)
    return key(receipt_day) == want


def _sum(values: list[Any]) -> Decimal:
    return sum((v for v in values if v is not None), Decimal("0"))


AGGREGATES: dict[str, Callable[[list[Receipt], Callable[[Receipt], Any]], Any]] = {
    "sum": lambda rs, f: _sum([f(r) for r in rs]),
    "count": lambda rs, f: len(rs),
    "count_days": lambda rs, f: len({r.day for r in rs}),
    "min": lambda rs, f: min((f(r) for r in rs if f(r) is not None), default=None),
    "max": lambda rs, f: max((f(r) for r in rs if f(r) is not None), default=None),
    "last": lambda rs, f: f(rs[-1]) if rs else None,  # rs in event order
}

Field = Callable[[Receipt], Any]
AMOUNT: Field = lambda r: r.amount  # noqa: E731
DATE: Field = lambda r: r.day  # noqa: E731
STORE: Field = lambda r: r.store_id  # noqa: E731
STAFF: Field = lambda r: r.staff_id  # noqa: E731
ANY: Callable[[Receipt], bool] = lambda r: True  # noqa: E731

# name -> (aggregate, field, window, which receipts count), as metrics-edges.yaml says
# and as the pack's metrics.yaml says.
AGGREGATE_METRICS: dict[str, tuple[str, Field, str, Callable[[Receipt], bool]]] = {
    "lifetime_spend": ("sum", AMOUNT, "all", ANY),
    "spend_this_year": ("sum", AMOUNT, "this_year", ANY),
    "spend_last_year": ("sum", AMOUNT, "last_year", ANY),
    "purchase_count": ("count", AMOUNT, "all", ANY),
    "first_purchase_date": ("min", DATE, "all", ANY),
    "last_purchase_date": ("max", DATE, "all", ANY),
    "last_positive_purchase_date": ("max", DATE, "all", lambda r: r.amount > 0),
    "last_store_id": ("last", STORE, "all", lambda r: r.amount > 0),
    "last_staff_id": ("last", STAFF, "all", lambda r: r.amount > 0),
    "spend_30d": ("sum", AMOUNT, "30d", ANY),
    "spend_365d": ("sum", AMOUNT, "365d", ANY),
    "visit_days_90d": ("count_days", AMOUNT, "90d", lambda r: r.amount > 0),
    "receipts_today": ("count", AMOUNT, "1d", ANY),
    "biggest_90d": ("max", AMOUNT, "90d", ANY),
    "smallest_s1_30d": ("min", AMOUNT, "30d", lambda r: r.store_id == "S1"),
    "last_staff_30d": ("last", STAFF, "30d", ANY),
    "returns_this_quarter": ("count", AMOUNT, "this_quarter", lambda r: r.amount < 0),
    "spend_last_quarter": ("sum", AMOUNT, "last_quarter", ANY),
    "spend_this_month": ("sum", AMOUNT, "this_month", ANY),
    "spend_last_month": ("sum", AMOUNT, "last_month", ANY),
    "first_e1_date_this_year": ("min", DATE, "this_year", lambda r: r.staff_id == "E1"),
    "visit_days": ("count_days", AMOUNT, "all", ANY),
    "visit_days_last_year": ("count_days", AMOUNT, "last_year", ANY),
    "last_store_this_month": ("last", STORE, "this_month", ANY),
    "busiest_store_last_month": ("max", STORE, "last_month", lambda r: r.amount >= 0),
}


def _days(since: dt.date | None, day: dt.date) -> int | None:
    return (day - since).days if since is not None else None


def _minus(a: Decimal, b: Decimal) -> Decimal:
    return a - b


DERIVED: dict[str, Callable[[dict[str, Any], dt.date], Any]] = {
    "points_this_year": lambda v, d: math.floor(v["spend_this_year"]),
    "points_last_year": lambda v, d: math.floor(v["spend_last_year"]),
    "days_since_last_purchase": lambda v, d: _days(v["last_purchase_date"], d),
    "days_since_last_positive_purchase":
        lambda v, d: _days(v["last_positive_purchase_date"], d),
    "month_growth": lambda v, d: _minus(v["spend_this_month"], v["spend_last_month"]),
    "days_since_e1": lambda v, d: _days(v["first_e1_date_this_year"], d),
    "points_365d": lambda v, d: math.floor(v["spend_365d"]),
}


def values(receipts: Sequence[Receipt], day: dt.date) -> dict[str, Any]:
    """Every metric on `day` from a customer's receipts (in event order, those that
    count so far)."""
    found: dict[str, Any] = {}
    for name, (aggregate, field, window, counts) in AGGREGATE_METRICS.items():
        picked = [r for r in receipts if in_window(window, r.day, day) and counts(r)]
        found[name] = AGGREGATES[aggregate](picked, field)
    for name, derive in DERIVED.items():
        found[name] = derive(found, day)
    return found


# -- segments -------------------------------------------------------------------------
def percentile(values: Sequence[Any], mine: Any) -> Decimal | None:
    """100 x (values strictly lower) / (values present), truncated to 3 places."""
    present = [v for v in values if v is not None]
    if mine is None or not present:
        return None
    lower = sum(1 for v in present if v < mine)
    return Decimal(math.floor(Decimal(100 * lower) / len(present) * 1000)) / 1000


def abc_class(values: Sequence[Any], mine: Any) -> str:
    """A while the customers above hold less than 80% of the positive total, B below
    95%, else C; zero, negative or missing is C."""
    if mine is None or mine <= 0:
        return "C"
    total = sum((v for v in values if v is not None and v > 0), Decimal(0))
    above = sum((v for v in values if v is not None and v > mine), Decimal(0))
    if above < Decimal("0.8") * total:
        return "A"
    return "B" if above < Decimal("0.95") * total else "C"
