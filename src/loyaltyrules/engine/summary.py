"""The history of a range, paying running values only for the range's buyers.

A customer without a receipt in the evaluated range is never a purchase trigger
there: only their values at the end of the range's dates are read, and those are the
values after their last receipt. So `lr_events` holds every receipt of the range's
buyers (running values, as history.py builds them) and ONE row for each other
customer, their state after their last receipt, computed as aggregates (a GROUP BY,
no sort per customer). The other history tables come straight from the receipts:

* `lr_years` from one window per (customer, year) over the ladder metric, for the
  years the range can read (the range's, and the two before: last year's tier and
  the one held on 31 December);
* `lr_period_<unit>` and `lr_days` as GROUP BYs (the days only from the longest
  rolling window before the range on).

Every reader sees the same values as with the full history: the ASOF joins find the
summary row as the customer's last row, and lr_years, lr_period_<unit> and lr_days
hold what the readers look up for dates in the range. This needs a tier ladder whose
metric counts this year's receipts only (or none); otherwise history.py builds all.
"""

from __future__ import annotations

from sqlglot import exp

from ..metrics.sql import (
    DAY_ZERO,
    EVENT_ORDER,
    Aggregate,
    HistorySql,
    column,
    period_id,
    value_at,
)
from .history import DAY_STATE, IN_SCOPE, events_sql

_BUYERS = """
CREATE OR REPLACE TEMP TABLE lr_buyers AS
SELECT DISTINCT p.customer_id FROM purchases AS p
WHERE p.customer_id IS NOT NULL AND p.purchase_date BETWEEN $since AND $through {scope}
"""

# Each customer's last receipt date before the range, for those without one in it.
_LAST = """
CREATE OR REPLACE TEMP TABLE lr_last AS
SELECT p.customer_id, max(p.purchase_date) AS last_day FROM purchases AS p
WHERE p.customer_id IS NOT NULL AND p.purchase_date < $since {scope}
  AND p.customer_id NOT IN (SELECT customer_id FROM lr_buyers)
GROUP BY p.customer_id
"""

# The highest points of each (customer, year) the range reads, from the running
# ladder metric of that year (its aggregates count this year's receipts only).
_YEARS = """
CREATE OR REPLACE TEMP TABLE lr_years AS
SELECT customer_id, year, CAST(floor(max(coalesce({points}, 0))) AS BIGINT) AS max_points
FROM (SELECT p.customer_id, year(p.purchase_date) AS year{running}
      FROM purchases AS p
      WHERE p.customer_id IS NOT NULL AND p.purchase_date <= $through
        AND year(p.purchase_date) >= year($since) - 2 {scope}
      WINDOW w_year AS (PARTITION BY p.customer_id, year(p.purchase_date)
                        ORDER BY p.purchased_at, p.purchase_id ROWS UNBOUNDED PRECEDING)
      ) AS r
GROUP BY customer_id, year
"""

_SUMMARY = """
SELECT {columns} FROM (
    SELECT l.customer_id AS lr_customer, l.last_day, count(*) AS seq,
           arg_max({{{receipt}}}, {order}) AS lr_receipt,
           arg_max(p.store_id, {order}) FILTER (WHERE p.amount > 0 AND p.store_id IS NOT NULL)
               AS positive_store{values}
    FROM purchases AS p JOIN lr_last AS l ON l.customer_id = p.customer_id
    WHERE p.purchase_date <= l.last_day
    GROUP BY l.customer_id, l.last_day
) AS s
LEFT JOIN lr_years AS y ON y.customer_id = s.lr_customer AND y.year = year(s.last_day)
"""


def _alias(column_sql: str) -> str:
    return column_sql.rsplit(" AS ", 1)[1].strip()


def event_columns(history: HistorySql) -> list[str]:
    """The columns of lr_events, in order (history.py events_sql's SELECT *)."""
    second, _windows = history.second_level()
    return [*history.receipt_columns(), "purchased_at", "year", "seq", "positive_store",
            "last_of_day", *(_alias(c) for c in history.first_level()),
            *(_alias(c) for c in second), "year_max_points", "prev_year_max_points"]


def _summary_value(history: HistorySql, name: str) -> str:
    """A summary row's column: the last receipt's field, or a value at its date."""
    receipt = history.receipt_columns()
    if name in receipt or name == "purchased_at":
        return f"s.lr_receipt.{name}"
    fixed = {
        "customer_id": "s.lr_customer", "year": "year(s.last_day)", "seq": "s.seq",
        "positive_store": "s.positive_store", "last_of_day": "TRUE",
        "lr_day": f"date_diff('day', {DAY_ZERO}, s.last_day)",
        "year_max_points": "coalesce(y.max_points, 0)",
        "prev_year_max_points": "CAST(NULL AS BIGINT)",
    }
    if name in fixed:
        return fixed[name]
    if name.startswith("pid_"):
        return period_id(name.removeprefix("pid_"), "s.last_day")
    return f"s.{name}"  # a metric's value, computed in the inner SELECT


def summary_sql(history: HistorySql) -> str:
    """The SELECT of the summary rows, lr_events' columns in order."""
    names = event_columns(history)
    receipt = ", ".join(f"'{c}': p.{c}" for c in [*history.receipt_columns(), "purchased_at"])
    metrics = [m for m in history.metrics.metrics.values()
               if not m.derived and m.window is not None and not m.window.last]
    values = "".join(f",\n           {value_at(m, 'l.last_day')} AS {column(m)}"
                     for m in metrics)
    columns = ", ".join(f"{_summary_value(history, n)} AS {n}" for n in names)
    return _SUMMARY.format(columns=columns, receipt=receipt, order=EVENT_ORDER, values=values)


def years_sql(history: HistorySql, scope: str) -> str:
    """CREATE of lr_years for the range's years (no ladder: every point count is 0)."""
    if history.ladder is None:
        return _YEARS.format(points="0", running="", scope=scope)
    ladder = history.metrics.closure({history.ladder})
    running = "".join(
        f",\n             {a.value(a.window('OVER w_year'))} AS {column(a.metric)}"
        for a in (Aggregate(m) for m in ladder if not m.derived))
    points = history.ladder_points(lambda name: exp.column(column(history.metrics[name])))
    return _YEARS.format(points=points, running=running, scope=scope)


def summarisable(history: HistorySql) -> bool:
    """Whether the tier ladder's metric (if any) counts this year's receipts only."""
    return history.ladder is None or history.metrics.yearly(history.ladder)


def _receipts(history: HistorySql, scope: str, since: str = "") -> str:
    pids = "".join(f", {period_id(u, 'p.purchase_date')} AS pid_{u}" for u in history.units())
    return (f"(SELECT p.*{pids} FROM purchases AS p WHERE p.customer_id IS NOT NULL "
            f"AND p.purchase_date <= $through {since}{scope}) AS r")


def summary_statements(history: HistorySql, *, whole: bool) -> list[str]:
    """The statements that build the history tables for the range from $since to
    $through (parameters), in order."""
    scope = "" if whole else IN_SCOPE
    windowed = events_sql(history, whole=False).replace(
        IN_SCOPE, "AND p.customer_id IN (SELECT customer_id FROM lr_buyers)")
    names = ", ".join(event_columns(history))
    body = windowed.split(" AS\n", 1)[1]
    events = (f"CREATE OR REPLACE TEMP TABLE lr_events AS\nSELECT {names} FROM ({body}) AS w\n"
              f"UNION ALL\n{summary_sql(history)}")
    recent = f"AND p.purchase_date > CAST($since AS DATE) - {history.longest()} "
    periods = [history.periods(u, _receipts(history, scope), EVENT_ORDER)
               for u in ("year", "quarter", "month")]
    days = history.days(_receipts(history, scope, recent), EVENT_ORDER)
    return [_BUYERS.format(scope=scope), _LAST.format(scope=scope), years_sql(history, scope),
            events, DAY_STATE, *[p for p in (*periods, days) if p is not None]]
