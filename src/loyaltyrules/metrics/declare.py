"""Declared metrics, typed: what `customer.<name>` means (DESIGN section 2b).

A metric is either an aggregate of a receipt field over a window, with an optional
filter, or an expression over other metrics, the customer's record and `as_of`. This
module holds the checked declarations of a policy set (`MetricSet`); the metrics
file is read and checked by validation/metrics.py, compiled to SQL by metrics/sql.py
and to the per-event fold by metrics/fold.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ..conditions.ast import Call, Node, Path, walk
from ..conditions.catalog import PURCHASE
from ..conditions.checker import CheckResult
from ..conditions.types import DATE, DECIMAL, DYN, INT, STRING, Type

PERIODS = ("year", "quarter", "month")
# History a window needs at most, in days, for the value on any date.
_PERIOD_SPAN = {("year", False): 366, ("year", True): 731, ("quarter", False): 92,
                ("quarter", True): 184, ("month", False): 31, ("month", True): 62}
_DAYS = re.compile(r"^([1-9][0-9]*)d$")
DEFAULT_HISTORY_DAYS = 1096

# The receipt fields a metric can aggregate, by fact path, with their columns.
RECEIPT_FIELDS: Mapping[str, Type] = {f"purchase.{name}": t for name, t in PURCHASE.items()}
RECEIPT_COLUMNS: Mapping[str, str] = {
    "purchase.purchase_id": "purchase_id", "purchase.store_id": "store_id",
    "purchase.staff_id": "staff_id", "purchase.amount": "amount",
    "purchase.date": "purchase_date", "purchase.currency": "currency",
    "purchase.return_of": "return_of", "purchase.is_return": "is_return",
}
ORDERED = (INT, DECIMAL, STRING, DATE)


@dataclass(frozen=True)
class Window:
    """Which receipts count for the value on date D.

    unit "all": every receipt up to D; "days": dated in (D - days, D]; a period unit
    (year, quarter, month): the period of D up to D, or with `last` the whole period
    before it."""

    text: str
    unit: str
    days: int = 0
    last: bool = False

    @classmethod
    def parse(cls, text: str) -> Window:
        found = _DAYS.match(text)
        if found:
            return cls(text, "days", days=int(found[1]))
        if text == "all":
            return cls(text, "all")
        which, unit = text.split("_", 1)
        return cls(text, unit, last=which == "last")

    @property
    def span_days(self) -> int | None:
        """Days of history the value on a date can need (None: all there is)."""
        if self.unit == "all":
            return None
        if self.unit == "days":
            return self.days
        return _PERIOD_SPAN[(self.unit, self.last)]

    @property
    def period(self) -> str | None:
        return self.unit if self.unit in PERIODS else None


def period_id(unit: str, day: dt.date) -> int:
    """Consecutive numbers for consecutive periods: the year, year*4 + quarter, ..."""
    if unit == "year":
        return day.year
    if unit == "quarter":
        return day.year * 4 + (day.month - 1) // 3
    return day.year * 12 + day.month - 1


def aggregate_type(aggregate: str, field_type: Type | None) -> Type:
    """The value type of an aggregate over a field (count and count_days are ints)."""
    if aggregate in ("count", "count_days") or field_type is None:
        return INT
    return field_type


def aggregate_problem(aggregate: str, of: str | None) -> str | None:
    """Why an aggregate cannot take this field, or None."""
    kind = RECEIPT_FIELDS.get(of or "")
    if aggregate == "sum" and kind not in (INT, DECIMAL):
        return f"sum needs a number; {of} is {kind}"
    if aggregate in ("min", "max") and kind not in ORDERED:
        return f"{aggregate} needs values that can be ordered; {of} is {kind}"
    return None


@dataclass(frozen=True)
class Metric:
    """One checked declaration. `where` and `expression` are checked expressions."""

    name: str
    type: Type
    aggregate: str | None = None
    of: str | None = None
    window: Window | None = None
    where: CheckResult | None = None
    expression: CheckResult | None = None
    where_text: str = ""  # as written (part of the fold state's key)
    expression_text: str = ""
    publish: bool = False
    description: str | None = None
    reads: frozenset[str] = frozenset()  # the metrics an expression metric reads

    @property
    def path(self) -> str:
        return f"customer.{self.name}"

    @property
    def derived(self) -> bool:
        return self.expression is not None

    @property
    def reads_as_of(self) -> bool:
        node = self.expression.node if self.expression is not None else None
        return node is not None and any(isinstance(n, Path) and n.path == "as_of"
                                        for n in walk(node))


def metric_reads(node: Node | None) -> frozenset[str]:
    """The customer metrics and record fields an expression names, without `customer.`."""
    if node is None:
        return frozenset()
    return frozenset(n.path.removeprefix("customer.") for n in walk(node)
                     if isinstance(n, Path) and n.path.startswith("customer."))


@dataclass(frozen=True)
class MetricSet:
    """The metrics of a policy set, every dependency before its dependents.

    `declared` is False when the set has no metrics file and uses the default pack's.
    `history` is the days of receipt history the stores keep (the file's `history:`).
    """

    metrics: Mapping[str, Metric] = field(default_factory=dict)
    history: int = DEFAULT_HISTORY_DAYS
    declared: bool = True
    broken: frozenset[str] = frozenset()  # declared with errors: reported where declared

    def types(self) -> dict[str, Type]:
        """The catalog's customer metrics; a broken one accepts any use (DYN), so its
        error is reported once, at its declaration."""
        return {**dict.fromkeys(self.broken, DYN),
                **{name: m.type for name, m in self.metrics.items()}}

    def __getitem__(self, name: str) -> Metric:
        return self.metrics[name]

    def __contains__(self, name: object) -> bool:
        return name in self.metrics

    def closure(self, names: Iterator[str] | frozenset[str] | set[str]) -> list[Metric]:
        """The named metrics and every metric they read, dependencies first."""
        wanted: set[str] = set()
        stack = [n for n in names if n in self.metrics]
        while stack:
            name = stack.pop()
            if name not in wanted:
                wanted.add(name)
                stack.extend(r for r in self.metrics[name].reads if r in self.metrics)
        return [m for name, m in self.metrics.items() if name in wanted]

    def needed(self, names: set[str]) -> MetricSet:
        """Only the named metrics and what they read (what a plan computes)."""
        kept = {m.name: m for m in self.closure(names)}
        return MetricSet(kept, self.history, self.declared)

    def published(self) -> set[str]:
        return {name for name, m in self.metrics.items() if m.publish}

    def windows(self, name: str) -> frozenset[Window]:
        """The windows of the aggregates a metric is computed from."""
        return frozenset(m.window for m in self.closure({name}) if m.window is not None)

    def yearly(self, name: str) -> bool:
        """Whether a metric counts this calendar year's receipts only (it starts again
        each year: crossings of it fire once a year)."""
        windows = self.windows(name)
        return bool(windows) and all(w.unit == "year" and not w.last for w in windows)

    def lapse(self, name: str) -> Metric | None:
        """For `days_between(customer.X, as_of)` with X the latest receipt date (max of
        purchase.date over all receipts, maybe filtered): X. Such a fact equals N only
        N days after a receipt X counts, which lets schedules skip the other dates."""
        metric = self.metrics.get(name)
        node = metric.expression.node if metric and metric.expression else None
        if not (isinstance(node, Call) and node.name == "days_between"):
            return None
        first, second = node.args
        if not (isinstance(first, Path) and isinstance(second, Path) and second.path == "as_of"):
            return None
        latest = self.metrics.get(first.path.removeprefix("customer."))
        if latest is None or not first.path.startswith("customer."):
            return None
        window = latest.window
        plain = latest.aggregate == "max" and latest.of == "purchase.date"
        return latest if plain and window is not None and window.unit == "all" else None
