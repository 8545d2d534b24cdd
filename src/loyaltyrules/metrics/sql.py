"""Declared metrics compiled to DuckDB SQL: one pass over the history per window shape.

Every aggregate of one window shape is a column of the same SELECT over the same
window, so DuckDB sorts the receipts once per shape however many metrics there are:

* `all`: the customer's receipts in event order (the running value after each one);
* this_year / this_quarter / this_month: the receipts of each (customer, period);
* `Nd`: the days before the receipt's day (a RANGE frame over day numbers) plus the
  receipts of its own day so far (one more window per customer and day);
* last_year / last_quarter / last_month: one GROUP BY per (customer, period) unit,
  the table `lr_period_<unit>`, read at the period before the evaluated date's;
* on a date without a receipt, a rolling value is the sum (min, max, ...) of the
  per-day buckets of `lr_days` in (D - N, D].

Expression metrics are inlined where they are read. Filters (`where`) and the
expressions of expression metrics enter as SQLGlot trees compiled from their checked
ASTs; metric names are identifiers of the metrics file's pattern ([a-z][a-z0-9_]*).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlglot import exp

from ..conditions import metric_paths
from ..conditions.sql import to_sql
from ..sqltrees import parse
from .declare import RECEIPT_COLUMNS, Metric, MetricSet

# Values of an aggregate over no receipts; the others are missing (NULL).
_EMPTY = {"sum": "0", "count": "0", "count_days": "0"}
_PERIOD_ID = {
    "year": "year({d})",
    "quarter": "(year({d}) * 4 + (month({d}) - 1) // 3)",
    "month": "(year({d}) * 12 + month({d}) - 1)",
}
DAY_ZERO = "DATE '2000-01-01'"  # day numbers for the RANGE frames of rolling windows
# Event order over the receipts themselves, where there is no running seq (an
# aggregate's ordering key: purchased_at, then purchase_id).
EVENT_ORDER = "{'t': purchased_at, 'i': purchase_id}"


def period_id(unit: str, day: str) -> str:
    return _PERIOD_ID[unit].format(d=day)


def column(metric: Metric) -> str:
    """The history column of an aggregate metric (prefixed: names never clash)."""
    return f"m_{metric.name}"


def _receipt(path: str) -> exp.Expression:
    """A receipt field as a column of the history (`purchase.is_return`: amount < 0)."""
    if path == "purchase.is_return":
        return parse("amount < 0")
    return parse(RECEIPT_COLUMNS[path])


def receipt_sql(path: str) -> str:
    return _receipt(path).sql("duckdb")


def _no_params(name: str) -> exp.Expression:
    raise ValueError(f"a metric reads no params ({name})")


@dataclass(frozen=True)
class Aggregate:
    """One aggregate metric's SQL pieces over a receipt row (unqualified columns)."""

    metric: Metric

    @property
    def kind(self) -> str:
        return self.metric.aggregate or "count"

    @property
    def test(self) -> str:
        """The SQL test of the receipts that count (missing counts as false)."""
        where = self.metric.where
        if where is None:
            return "TRUE"
        return to_sql(where, _receipt, _no_params, condition=True).sql("duckdb")

    @property
    def filter(self) -> str:
        """The aggregate's FILTER clause ("" when every receipt counts)."""
        return f" FILTER (WHERE {self.test})" if self.metric.where is not None else ""

    @property
    def field(self) -> str:
        return _receipt(self.metric.of).sql("duckdb") if self.metric.of else "NULL"

    def window(self, over: str) -> str:
        """The running value over a window (`over` is `OVER ...`); `last` as a struct
        {'v': value} so that a matching receipt with a NULL field is not skipped."""
        kind, f, x = self.kind, self.filter, self.field
        if kind == "last":
            return f"last_value(CASE WHEN {self.test} THEN {{'v': {x}}} END IGNORE NULLS) {over}"
        if kind == "count":
            return f"count(*){f} {over}"
        if kind == "count_days":
            return f"count(DISTINCT purchase_date){f} {over}"
        return f"{kind}({x}){f} {over}"

    def group(self, order: str = "seq") -> str:
        """The value over a group of receipts (GROUP BY); `last` by event order (`order`:
        the history's seq, or EVENT_ORDER over the receipts themselves)."""
        kind, f, x = self.kind, self.filter, self.field
        if kind == "last":
            return f"arg_max({{'v': {x}}}, {order}){f}"
        return self.window("").strip()

    def value(self, sql: str) -> str:
        """A running or grouped value as the metric's value (`last` unwrapped, empty
        sums and counts zero)."""
        if self.kind == "last":
            return f"({sql}).v"
        empty = _EMPTY.get(self.kind)
        return f"coalesce({sql}, {empty})" if empty else sql

    def combine(self, before: str, today: str) -> str:
        """A rolling value: the earlier days of the window and the day so far."""
        kind = self.kind
        if kind == "last":
            return f"coalesce({today}, {before}).v"
        if kind in ("min", "max"):
            return f"{'least' if kind == 'min' else 'greatest'}({before}, {today})"
        if kind == "count_days":
            return f"coalesce({before}, 0) + CAST(coalesce({today}, 0) > 0 AS INTEGER)"
        return f"coalesce({before}, 0) + coalesce({today}, 0)"

    def today(self) -> str:
        """The day-so-far part of a rolling value (count_days: receipts that count)."""
        over = "OVER (PARTITION BY customer_id, purchase_date ORDER BY seq " \
            "ROWS UNBOUNDED PRECEDING)"
        if self.kind == "count_days":
            return f"count(*){self.filter} {over}"
        return self.window(over)

    def before(self) -> str:
        window = self.metric.window
        assert window is not None
        frame = f"RANGE BETWEEN {window.days - 1} PRECEDING AND 1 PRECEDING"
        return self.window(f"OVER (PARTITION BY customer_id ORDER BY lr_day {frame})")

    def bucket(self, order: str = "seq") -> str:
        """A day's bucket for the rolling windows (count_days: the day's receipts)."""
        if self.kind == "count_days":
            return f"count(*){self.filter}"
        return self.group(order)

    def over_buckets(self, days: int) -> str:
        """The value at the evaluated date from the buckets `d.<col>` of its last `days`
        days (`d.age`: the bucket's days before that date)."""
        col, kind = f"d.{column(self.metric)}", self.kind
        inside = f"d.age < {days}"
        if kind == "last":
            return f"arg_max({col}, d.day) FILTER (WHERE {inside} AND {col} IS NOT NULL)"
        if kind == "count_days":
            return f"count(*) FILTER (WHERE {inside} AND {col} > 0)"
        combine = "sum" if kind in ("sum", "count") else kind
        return f"{combine}({col}) FILTER (WHERE {inside})"


# -- the history: lr_events, lr_period_<unit>, lr_days -----------------------------
@dataclass(frozen=True)
class HistorySql:
    """The history's metric columns for a plan's metrics and tier-ladder metric."""

    metrics: MetricSet
    ladder: str | None = None  # the metric name the tier ladder climbs

    def aggregates(self, unit: str | None = None, last: bool | None = None) -> list[Aggregate]:
        found = []
        for m in self.metrics.metrics.values():
            w = m.window
            if w is None or (unit is not None and w.unit != unit):
                continue
            if last is not None and w.last != last:
                continue
            found.append(Aggregate(m))
        return found

    def units(self) -> list[str]:
        """The calendar period units some metric's window is in."""
        return sorted({w.unit for m in self.metrics.metrics.values()
                       if (w := m.window) is not None and w.period is not None})

    def receipt_columns(self) -> list[str]:
        """The receipt columns the history keeps: the fixed ones and those metrics read."""
        cols = ["purchase_id", "customer_id", "store_id", "staff_id", "purchase_date", "amount"]
        for m in self.metrics.metrics.values():
            paths = [m.of] if m.of else []
            if m.where is not None and m.where.node is not None:
                paths += metric_paths(m.where.node)
            for path in paths:
                name = RECEIPT_COLUMNS.get(path or "")
                if name and name != "is_return" and name not in cols:
                    cols.append(name)
        return cols

    def first_level(self) -> list[str]:
        """Columns of the first SELECT (window w: the customer's receipts)."""
        found = [f"{period_id(u, 'p.purchase_date')} AS pid_{u}" for u in self.units()]
        if self.aggregates("days"):
            # whole days (not DATE - DATE, which Spark reads as an interval: docs/spark.md)
            found.append(f"date_diff('day', {DAY_ZERO}, p.purchase_date) AS lr_day")
        found += [f"{a.value(a.window('OVER w'))} AS {column(a.metric)}"
                  for a in self.aggregates("all")]
        return found

    def second_level(self) -> tuple[list[str], list[str]]:
        """Columns and named windows of the second SELECT: periods and rolling days."""
        cols, windows = [], []
        for unit in self.units():
            this = self.aggregates(unit, last=False)
            if this:
                windows.append(f"w_{unit} AS (PARTITION BY customer_id, pid_{unit} "
                               "ORDER BY seq ROWS UNBOUNDED PRECEDING)")
                cols += [f"{a.value(a.window(f'OVER w_{unit}'))} AS {column(a.metric)}"
                         for a in this]
        cols += [f"{a.combine(a.before(), a.today())} AS {column(a.metric)}"
                 for a in self.aggregates("days")]
        return cols, windows

    def ladder_points(self, values: Callable[[str], exp.Expression]) -> str:
        """The ladder metric per receipt, over the history's columns."""
        assert self.ladder is not None
        return metric_sql(self.metrics, self.ladder, values).sql("duckdb")

    def periods(self, unit: str, source: str = "lr_events", order: str = "seq") -> str | None:
        """CREATE of lr_period_<unit>: each last-period metric per (customer, period),
        from the history (or `source`, receipts with pid_<unit>, in `order`)."""
        last = self.aggregates(unit, last=True)
        if not last:
            return None
        cols = ", ".join(f"{a.value(a.group(order))} AS {column(a.metric)}" for a in last)
        return (f"CREATE OR REPLACE TEMP TABLE lr_period_{unit} AS SELECT customer_id, "
                f"pid_{unit} AS pid, {cols} FROM {source} GROUP BY ALL")

    def days(self, source: str = "lr_events", order: str = "seq") -> str | None:
        """CREATE of lr_days: each rolling metric's bucket per (customer, day), from the
        history (or `source`, receipts, in `order`)."""
        rolling = self.aggregates("days")
        if not rolling:
            return None
        cols = ", ".join(f"{a.bucket(order)} AS {column(a.metric)}" for a in rolling)
        return (f"CREATE OR REPLACE TEMP TABLE lr_days AS SELECT customer_id, "
                f"purchase_date AS day, {cols} FROM {source} GROUP BY ALL")

    def longest(self) -> int:
        return max((a.metric.window.days for a in self.aggregates("days")
                    if a.metric.window is not None), default=0)


# -- values in a context ---------------------------------------------------------------
Values = Callable[[str], exp.Expression]


def metric_sql(metrics: MetricSet, name: str, aggregate_value: Values,
               record: Values | None = None, as_of: exp.Expression | None = None
               ) -> exp.Expression:
    """The SQL of metric `name`: an aggregate's value from `aggregate_value(name)`, an
    expression metric compiled with the others inlined (`record` gives the customer's
    record fields, `as_of` the evaluated date)."""
    metric = metrics[name]
    if not metric.derived:
        return aggregate_value(name)
    assert metric.expression is not None

    def resolve(path: str) -> exp.Expression:
        if path == "as_of":
            assert as_of is not None
            return as_of.copy()
        field = path.removeprefix("customer.")
        if field in metrics:
            return metric_sql(metrics, field, aggregate_value, record, as_of)
        assert record is not None, f"{path} needs the customer's record"
        return record(field)

    return to_sql(metric.expression, resolve, _no_params)


def context_values(metrics: MetricSet, aggregate_value: Values, record: Values,
                   as_of: exp.Expression) -> Mapping[str, exp.Expression]:
    """Every metric's SQL in a context, by name."""
    return {name: metric_sql(metrics, name, aggregate_value, record, as_of)
            for name in metrics.metrics}


def empty_value(metric: Metric) -> str:
    return _EMPTY.get(metric.aggregate or "", "NULL")


# -- the values at a point: after a receipt, or at the end of a date ------------------
@dataclass(frozen=True)
class Point:
    """Aggregate values for a customer at a point, from the history tables.

    After a receipt (`receipt=True`): the receipt's row `alias` of lr_events holds
    them, but last-period ones. At the end of `as_of`: `alias` is the customer's last
    lr_events row dated up to it (an ASOF join, NULL without one); this-period values
    count if that row is in the period of `as_of`, rolling ones come from the day
    buckets. `prefix` names the extra joins (one per period unit, one for buckets).
    """

    history: HistorySql
    alias: str
    customer: str
    as_of: str
    prefix: str
    receipt: bool = False
    moment: bool = False  # at an instant of `as_of`: later receipts that day not yet

    def value(self, name: str) -> exp.Expression:
        agg = Aggregate(self.history.metrics[name])
        window, col, empty = agg.metric.window, column(agg.metric), empty_value(agg.metric)
        assert window is not None
        if window.last:
            own = f"{self.prefix}_{window.unit}.{col}"
        elif window.unit == "days" and self.moment:  # that day's receipts so far, or none
            own = (f"CASE WHEN {self.alias}.purchase_date = {self.as_of} "
                   f"THEN {self.alias}.{col} ELSE {self.prefix}_days.{col} END")
        elif window.unit == "days" and not self.receipt:
            own = f"{self.prefix}_days.{col}"
        elif window.period and not self.receipt:
            same = f"{self.alias}.pid_{window.unit} = {period_id(window.unit, self.as_of)}"
            own = f"CASE WHEN {same} THEN {self.alias}.{col} END"
        else:
            own = f"{self.alias}.{col}"
        return parse(f"coalesce({own}, {empty})" if empty != "NULL" else own)

    def joins(self) -> str:
        found = []
        for unit in self.history.units():
            if self.history.aggregates(unit, last=True):
                pid = (f"{self.alias}.pid_{unit}" if self.receipt
                       else period_id(unit, self.as_of))
                name = f"{self.prefix}_{unit}"
                found.append(f"LEFT JOIN lr_period_{unit} AS {name} ON {name}.customer_id = "
                             f"{self.customer} AND {name}.pid = {pid} - 1")
        rolling = self.history.aggregates("days")
        if rolling and not self.receipt:
            found.append(self._buckets(rolling))
        return "\n".join(found)

    def _buckets(self, rolling: list[Aggregate]) -> str:
        """One lateral join for every rolling metric: the buckets of the longest window.

        The evaluated date enters only the inner SELECT (each bucket's age), so no
        aggregate mixes it with the buckets' columns: Spark refuses such correlated
        aggregates, DuckDB computes the same values either way."""
        cols = ", ".join(
            f"{a.value(a.over_buckets(a.metric.window.days))} AS {column(a.metric)}"
            for a in rolling if a.metric.window is not None)
        longest = self.history.longest()
        last = "<" if self.moment else "<="
        buckets = (f"SELECT b.*, date_diff('day', b.day, {self.as_of}) AS age FROM lr_days AS b "
                   f"WHERE b.customer_id = {self.customer} AND b.day > {self.as_of} - {longest} "
                   f"AND b.day {last} {self.as_of}")
        return (f"LEFT JOIN LATERAL (SELECT {cols} FROM ({buckets}) AS d) "
                f"AS {self.prefix}_days ON TRUE")


# -- the values at the end of a few dates, straight from the receipts -----------------
def _window_test(metric: Metric, as_of: str) -> str | None:
    """The test of the receipts in a metric's window at the end of `as_of` (None: all
    of them, the receipts being dated up to `as_of` already)."""
    window = metric.window
    assert window is not None
    if window.unit == "days":
        return f"date_diff('day', purchase_date, {as_of}) < {window.days}"
    if window.period is None:
        return None
    wanted = period_id(window.unit, as_of) + (" - 1" if window.last else "")
    return f"{period_id(window.unit, 'purchase_date')} = {wanted}"


def value_at(metric: Metric, as_of: str) -> str:
    """An aggregate metric's value at the end of `as_of`, as one aggregate over the
    customer's receipts dated up to it (no running values: a GROUP BY per date). `last`
    takes the latest receipt in event order (purchased_at, then purchase_id)."""
    agg = Aggregate(metric)
    tests = [t for t in (_window_test(metric, as_of), agg.test if metric.where else None) if t]
    where = f" FILTER (WHERE {' AND '.join(tests)})" if tests else ""
    kind, x = agg.kind, agg.field
    if kind == "last":
        return f"(arg_max({{'v': {x}}}, {EVENT_ORDER}){where}).v"
    if kind == "count":
        return agg.value(f"count(*){where}")
    if kind == "count_days":
        return agg.value(f"count(DISTINCT purchase_date){where}")
    return agg.value(f"{kind}({x}){where}")


def lookback(metrics: list[Metric]) -> int | None:
    """Days before a date whose receipts some of `metrics` read (None: all of them)."""
    spans = [m.window.span_days for m in metrics if m.window is not None]
    return None if None in spans else max((s for s in spans if s is not None), default=0)


def values_at(metrics: MetricSet, names: list[str], dates: str) -> str:
    """SELECT customer_id, as_of and each named metric's aggregates (`m_<name>`) at the
    end of each date of the relation `dates` (column as_of), for every customer with a
    receipt up to it: one scan of the receipts per date, for a few dates."""
    aggregates = [m for m in metrics.closure(set(names)) if not m.derived]
    cols = "".join(f",\n    {value_at(m, 'lr_d.as_of')} AS {column(m)}" for m in aggregates)
    days = lookback(aggregates)
    bound = "" if days is None else \
        f" AND date_diff('day', p.purchase_date, lr_d.as_of) < {days}"
    return (f"SELECT p.customer_id, lr_d.as_of{cols}\nFROM purchases AS p JOIN {dates} AS lr_d "
            f"ON p.purchase_date <= lr_d.as_of{bound}\nWHERE p.customer_id IS NOT NULL "
            "GROUP BY p.customer_id, lr_d.as_of")
