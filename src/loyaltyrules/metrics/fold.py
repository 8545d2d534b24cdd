"""Declared metrics compiled to the per-event fold: bounded state, advanced per receipt.

The Python twin of metrics/sql.py for the point of sale. A plan's aggregate metrics
become accumulators, shared by metrics of the same aggregate, field and filter:

* window all: the running value (count_days: the count and the last day counted);
* a calendar unit (this_/last_ year, quarter, month): the latest period a receipt
  counted in, its value and the value of the period before: (pid, current, previous);
* rolling windows: one bucket per day a receipt counted, kept for the longest window
  of the accumulator, [(day, bucket), ...]: the state stays bounded by that window.

A receipt changes an accumulator only when it counts (its `where` holds). Values on a
date D follow DESIGN 2b exactly as the SQL does; expression metrics are compiled
closures over the others. States are plain tuples and values (immutable); a view
keeps them in the fold's order. UNKNOWN stands for a state the stored view lacks
(the metrics changed since the last nightly rebuild): nothing that reads it is
evaluated at the point of sale until the rebuild.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from ..conditions import compile_python
from ..conditions.types import DATE, DECIMAL, Type
from .declare import RECEIPT_FIELDS, Metric, MetricSet, period_id

CENTS3 = Decimal("0.001")
ZERO = Decimal("0.000")


class _Unknown:
    """The state of an accumulator a stored view does not have."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
Facts = Mapping[str, Any]
_NO_PARAMS: Mapping[str, Any] = {}  # shared, never written
Test = Callable[[Facts], bool]


def money(value: Decimal) -> Decimal:
    """Money as DECIMAL(18,3) holds it (DuckDB rounds half away from zero)."""
    return value.quantize(CENTS3, rounding=ROUND_HALF_UP)


# -- aggregates: the running state of one window, and a day's bucket -----------------
def _add_sum(state: Any, x: Any, day: int) -> Any:
    return state if x is None else money(state + x)


def _add_min(state: Any, x: Any, day: int) -> Any:
    return state if x is None else (x if state is None or x < state else state)


def _add_max(state: Any, x: Any, day: int) -> Any:
    return state if x is None else (x if state is None or x > state else state)


def _add_days(state: Any, x: Any, day: int) -> Any:
    count, last = state
    return state if last == day else (count + 1, day)


@dataclass(frozen=True)
class Op:
    """How an aggregate starts, takes one more counting receipt, and is read."""

    empty: Any
    add: Callable[[Any, Any, int], Any]
    read: Callable[[Any], Any] = lambda state: state


OPS: Mapping[str, Op] = {
    "sum": Op(ZERO, _add_sum),
    "count": Op(0, lambda state, x, day: state + 1),
    "min": Op(None, _add_min),
    "max": Op(None, _add_max),
    "last": Op(None, lambda state, x, day: x),
    "count_days": Op((0, 0), _add_days, lambda state: state[0]),
}


def _combine(kind: str, buckets: list[Any]) -> Any:
    """The value over the buckets of a rolling window, oldest first."""
    if kind == "sum":
        return money(sum(buckets, ZERO))
    if kind == "count":
        return sum(buckets)
    if kind == "count_days":
        return len(buckets)
    if kind == "last":
        return buckets[-1] if buckets else None
    present = [b for b in buckets if b is not None]
    if not present:
        return None
    return min(present) if kind == "min" else max(present)


# -- accumulators ------------------------------------------------------------------------
@dataclass(frozen=True)
class Acc:
    """One shared state: an aggregate of a field over receipts passing a filter, for a
    window shape ("all", a period unit, or "days" kept `keep` days)."""

    kind: str
    of: str | None
    where: str  # the filter's text ("" for none): part of the key
    shape: str
    keep: int = 0
    # a metric declaring it (its checked filter, for the SQL of the same accumulator)
    metric: Metric | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        where = hashlib.sha256(self.where.encode()).hexdigest()[:8] if self.where else "-"
        shape = f"{self.keep}d" if self.shape == "days" else self.shape
        return f"{self.kind}:{self.of or '-'}:{shape}:{where}"

    @property
    def op(self) -> Op:
        return OPS[self.kind]

    def empty(self) -> Any:
        if self.shape == "all":
            return self.op.empty
        return () if self.shape == "days" else None

    def adder(self) -> Callable[[Any, Any, dt.date], Any]:
        """`add` specialised to this accumulator's shape and aggregate (per receipt, the
        fold calls it for every accumulator: no dispatch left for the call)."""
        op = self.op
        add, empty, shape = op.add, op.empty, self.shape
        if shape == "all" and self.kind != "count_days":
            # only count_days reads the day: the others take the aggregate's own add
            return cast(Callable[[Any, Any, dt.date], Any], add)
        if shape == "all":
            return lambda state, x, day: add(state, x, day.toordinal())
        if shape == "days":
            return lambda state, x, day: self._add_day(state, x, day.toordinal())

        def period(state: Any, x: Any, day: dt.date) -> Any:
            pid = day.year if shape == "year" else period_id(shape, day)
            if state is None or pid > state[0]:
                previous = state[1] if state is not None and pid == state[0] + 1 else empty
                state = (pid, empty, previous)
            return (state[0], add(state[1], x, day.toordinal()), state[2])

        return period

    def _add_day(self, state: Any, x: Any, ordinal: int) -> Any:
        op = OPS["count"] if self.kind == "count_days" else self.op
        kept = tuple(b for b in state if b[0] > ordinal - self.keep)
        if kept and kept[-1][0] == ordinal:
            return (*kept[:-1], (ordinal, op.add(kept[-1][1], x, ordinal)))
        return (*kept, (ordinal, op.add(op.empty, x, ordinal)))

    def value(self, state: Any, window_days: int, last: bool, day: dt.date) -> Any:
        """The value on `day` for a metric of this accumulator's shape."""
        op = self.op
        if self.shape == "all":
            return op.read(state)
        if self.shape == "days":
            ordinal = day.toordinal()
            inside = [b for d, b in state if ordinal - window_days < d <= ordinal]
            return _combine(self.kind, inside)
        if state is None:
            return op.read(op.empty)
        pid, current, previous = state
        want = period_id(self.shape, day) - (1 if last else 0)
        if want == pid:
            return op.read(current)
        if last and want == pid - 1:
            return op.read(previous)
        return op.read(op.empty)


def _acc_of(metric: Metric, keep: int) -> Acc:
    window = metric.window
    assert window is not None and metric.aggregate is not None
    shape = window.unit
    return Acc(metric.aggregate, metric.of, metric.where_text, shape,
               keep if shape == "days" else 0, metric)


def _receipt_value(path: str) -> Callable[[Facts], Any]:
    return lambda facts: facts.get(path)


# -- the fold of a plan ---------------------------------------------------------------------
class Fold:
    """A plan's metrics as per-event state. Immutable; safe to share between threads."""

    def __init__(self, metrics: MetricSet) -> None:
        self.metrics = metrics
        aggregates = [m for m in metrics.metrics.values() if not m.derived]
        longest: dict[tuple[str | None, str | None, str], int] = {}
        for m in aggregates:
            if m.window is not None and m.window.unit == "days":
                k = (m.aggregate, m.of, m.where_text)
                longest[k] = max(longest.get(k, 0), m.window.days)
        accs: dict[str, Acc] = {}
        self.slot: dict[str, int] = {}  # aggregate metric -> accumulator index
        for m in aggregates:
            acc = _acc_of(m, longest.get((m.aggregate, m.of, m.where_text), 0))
            accs.setdefault(acc.key, acc)
            self.slot[m.name] = list(accs).index(acc.key)
        self.accs = tuple(accs.values())
        self.keys = tuple(accs)
        self.empty = tuple(a.empty() for a in self.accs)
        self._tests = self._compile_tests(aggregates)
        self._fields = tuple(_receipt_value(a.of) if a.of else None for a in self.accs)
        self._steps = tuple(zip((a.adder() for a in self.accs), self._tests, self._fields,
                                strict=True))
        self._codecs = tuple(state_codec(a) for a in self.accs)
        # each metric with what it reads, dependencies first (read on every receipt)
        self.closures = {name: metrics.closure({name}) for name in metrics.metrics}
        self._derived = {m.name: compile_python(m.expression).fn
                         for m in metrics.metrics.values() if m.expression is not None}
        self.needs = {name: frozenset(self.slot[m.name] for m in self.closures[name]
                                      if m.name in self.slot) for name in metrics.metrics}

    def _compile_tests(self, aggregates: list[Metric]) -> tuple[int | None, ...]:
        """Per accumulator, the index of its filter in `self.filters` (one per text)."""
        by_text: dict[str, int] = {}
        filters: list[Callable[[Facts, Mapping[str, Any]], Any]] = []
        for m in aggregates:
            if m.where is not None and m.where_text not in by_text:
                by_text[m.where_text] = len(filters)
                filters.append(compile_python(m.where).fn)
        self.filters = tuple(filters)
        return tuple(by_text.get(a.where) if a.where else None for a in self.accs)

    # -- advancing -------------------------------------------------------------------
    def advance(self, states: tuple[Any, ...], facts: Facts, day: dt.date) -> tuple[Any, ...]:
        """The states after one receipt (`facts`: its purchase.* values)."""
        passed = [f(facts, _NO_PARAMS) is True for f in self.filters] if self.filters else ()
        return tuple(
            state if state is UNKNOWN or (test is not None and not passed[test])
            else add(state, read(facts) if read else None, day)
            for (add, test, read), state in zip(self._steps, states, strict=True))

    # -- reading -----------------------------------------------------------------------
    def aggregate(self, states: tuple[Any, ...], name: str, day: dt.date) -> Any:
        metric = self.metrics[name]
        index = self.slot[name]
        window = metric.window
        assert window is not None
        return self.accs[index].value(states[index], window.days, window.last, day)

    def value(self, states: tuple[Any, ...], name: str, day: dt.date,
              facts: Facts | None = None) -> Any:
        """A metric's value on `day`; an expression metric reads `facts` (which must give
        the customer's record fields and the other metrics, as a fact context does),
        else the metrics it needs are computed here."""
        if name in self.slot:
            return self.aggregate(states, name, day)
        if facts is None:
            facts = self.values(states, day, self.closures[name])
        return self._derived[name](facts, _NO_PARAMS)

    def values(self, states: tuple[Any, ...], day: dt.date, metrics: list[Metric] | None = None,
               record: Facts | None = None, group: str = "customer") -> dict[str, Any]:
        """Metrics on `day` as facts (`<group>.<name>`), dependencies first."""
        facts: dict[str, Any] = {"as_of": day, **(record or {})}
        for metric in self.metrics.metrics.values() if metrics is None else metrics:
            key = f"customer.{metric.name}"
            facts[key] = (self.aggregate(states, metric.name, day) if metric.name in self.slot
                          else self._derived[metric.name](facts, {}))
        if group == "customer":
            return facts
        return {f"{group}.{k.removeprefix('customer.')}": v for k, v in facts.items()
                if k.startswith("customer.")}

    def derived(self, name: str) -> Callable[[Facts, Mapping[str, Any]], Any]:
        """The compiled expression of an expression metric (reads customer.* facts)."""
        return self._derived[name]

    def unknown(self, states: tuple[Any, ...]) -> frozenset[int]:
        return frozenset(i for i, s in enumerate(states) if s is UNKNOWN)

    # -- persistence (the view's JSON) ------------------------------------------------
    def to_json(self, states: tuple[Any, ...]) -> dict[str, Any]:
        return {key: to(state) for key, (to, _back), state
                in zip(self.keys, self._codecs, states, strict=True) if state is not UNKNOWN}

    def from_json(self, data: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(back(data[key]) if key in data else UNKNOWN
                     for key, (_to, back) in zip(self.keys, self._codecs, strict=True))


def field_type(acc: Acc) -> Type | None:
    """The type of the values an accumulator holds (None for counts)."""
    if acc.kind in ("count", "count_days"):
        return None
    return RECEIPT_FIELDS.get(acc.of or "")


Codec = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _encoder(kind: Type | None) -> Codec:
    """A value of `kind` as the view's JSON holds it (None stays None)."""
    if kind == DECIMAL:
        return lambda value: None if value is None else f"{value:f}"
    if kind == DATE:
        return lambda value: None if value is None else value.isoformat()
    return _same


def _decoder(kind: Type | None) -> Codec:
    if kind == DECIMAL:
        return lambda value: None if value is None else Decimal(value)
    if kind == DATE:
        return lambda value: None if value is None else dt.date.fromisoformat(value)
    return _same


@functools.lru_cache(maxsize=8192)
def _iso_day(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


@functools.lru_cache(maxsize=8192)
def _day_ordinal(text: str) -> int:
    return dt.date.fromisoformat(text).toordinal()


def _value_codec(acc: Acc) -> tuple[Codec, Codec]:
    """One value of an accumulator (a running value, a period's) to and from JSON."""
    if acc.kind == "count_days":
        def days_to(value: Any) -> Any:
            count, last = value
            return {"d": _iso_day(last) if last else None, "n": count}

        def days_from(data: Any) -> Any:
            return (data["n"], _day_ordinal(data["d"]) if data["d"] else 0)

        return days_to, days_from
    kind = DECIMAL if acc.kind == "sum" else field_type(acc)
    return _encoder(kind), _decoder(kind)


def _bucket_type(acc: Acc) -> Type | None:
    """The type of a day bucket's value (count_days: the day's count)."""
    if acc.kind == "sum":
        return DECIMAL
    return None if acc.kind in ("count", "count_days") else field_type(acc)


def state_codec(acc: Acc) -> tuple[Codec, Codec]:
    """An accumulator's state to and from the view's JSON, built once per fold (a
    view is encoded on every write: no type tests per value)."""
    if acc.shape == "all":
        return _value_codec(acc)
    if acc.shape == "days":
        put, get = _encoder(_bucket_type(acc)), _decoder(_bucket_type(acc))
        return (lambda state: [{"d": _iso_day(day), "v": put(b)} for day, b in state],
                lambda data: tuple((_day_ordinal(b["d"]), get(b["v"])) for b in data))
    to, back = _value_codec(acc)

    def period_to(state: Any) -> Any:
        if state is None:
            return None
        pid, current, previous = state
        return {"c": to(current), "l": to(previous), "p": pid}

    def period_from(data: Any) -> Any:
        return None if data is None else (data["p"], back(data["c"]), back(data["l"]))

    return period_to, period_from
