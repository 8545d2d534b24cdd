"""The purchase history as running values: the set-based customer view.

Built once per run, in DuckDB, from the clean `purchases` and `customers` tables, with
the plan's declared metrics compiled by metrics/sql.py:

* `lr_events`: one row per receipt of a known customer up to the run's last date,
  in event order (purchased_at, then purchase_id), with each aggregate metric's value
  *after* that receipt (`m_<name>`), the receipt count as `seq`, the store of the last
  receipt above zero (the scope of schedules), and for the tier ladder the highest
  points reached this year after the receipt and before it;
* `lr_day_state`: the values at the end of each day a customer bought (the day's
  last receipt), for as-of lookups from schedules;
* `lr_years`: per customer and calendar year, the highest points reached in it (a
  year's tier is judged by that);
* `lr_period_<unit>`: per customer and period, the last-period metrics;
* `lr_days`: per customer and day, the buckets of the rolling-window metrics.

Only customers in `lr_scope` are built, unless the whole history is asked for.

Every later query reads these, so the history is scanned once however many policies
and metrics there are: one sort per window shape (metrics/sql.py).
"""

from __future__ import annotations

import datetime as dt

import duckdb
from sqlglot import exp

from ..metrics.sql import HistorySql, column
from ..plan import Plan

IN_SCOPE = "AND p.customer_id IN (SELECT customer_id FROM lr_scope)"

_EVENTS = """
CREATE OR REPLACE TEMP TABLE lr_events AS
WITH ordered AS (
    SELECT {receipt}, p.purchased_at, year(p.purchase_date) AS year,
           row_number() OVER w AS seq,
           last_value(CASE WHEN p.amount > 0 THEN p.store_id END IGNORE NULLS) OVER w
               AS positive_store,
           lead(p.purchase_date) OVER w IS DISTINCT FROM p.purchase_date AS last_of_day
           {first}
    FROM purchases AS p
    WHERE p.customer_id IS NOT NULL AND p.purchase_date <= $through {scope}
    WINDOW w AS (PARTITION BY p.customer_id ORDER BY p.purchased_at, p.purchase_id
                 ROWS UNBOUNDED PRECEDING)
), periodic AS (
    SELECT * {second} FROM ordered {windows}
)
SELECT * {ladder} FROM periodic {ladder_window}
"""

# The tier ladder: the highest points of the year after each receipt, and before it
# (points: the ladder metric rounded down; the floor of the highest is the highest floor).
_LADDER = """, CAST(floor(max(coalesce({points}, 0)) OVER wy) AS BIGINT) AS year_max_points,
    CAST(floor(max(coalesce({points}, 0))
               OVER (wy ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS BIGINT)
        AS prev_year_max_points"""
_NO_LADDER = ", 0 AS year_max_points, NULL::BIGINT AS prev_year_max_points"
_LADDER_WINDOW = "WINDOW wy AS (PARTITION BY customer_id, year ORDER BY seq)"

DAY_STATE = """
CREATE OR REPLACE TEMP VIEW lr_day_state AS
SELECT * FROM lr_events WHERE last_of_day
"""

YEARS = """
CREATE OR REPLACE TEMP TABLE lr_years AS
SELECT customer_id, year, max(year_max_points) AS max_points
FROM lr_events GROUP BY customer_id, year
"""


def history_sql(plan: Plan) -> HistorySql:
    """The history's SQL for a plan's metrics and the metric its tier ladder climbs."""
    return HistorySql(plan.metrics, plan.ladder_metric)


def events_sql(history: HistorySql, *, whole: bool) -> str:
    receipt = ", ".join(f"p.{c}" for c in history.receipt_columns())
    first = "".join(f",\n           {c}" for c in history.first_level())
    second, windows = history.second_level()
    ladder, ladder_window = _NO_LADDER, ""
    if history.ladder is not None:
        points = history.ladder_points(lambda name: exp.column(column(history.metrics[name])))
        ladder, ladder_window = _LADDER.format(points=points), _LADDER_WINDOW
    return _EVENTS.format(
        receipt=receipt, first=first, scope="" if whole else IN_SCOPE,
        second="".join(f",\n           {c}" for c in second),
        windows=f"WINDOW {', '.join(windows)}" if windows else "",
        ladder=ladder, ladder_window=ladder_window)


def build_history(con: duckdb.DuckDBPyConnection, through: dt.date, plan: Plan, *,
                  whole: bool, since: dt.date | None = None) -> None:
    """Create the running-value tables for every receipt dated up to `through`.

    Unless `whole`, only the customers listed in `lr_scope` (those a policy can reach
    in the evaluated range) are included: their histories are complete, the others'
    are not needed, so a night costs far less than the whole history. With `since`,
    the first evaluated date, only the customers who bought from then on get running
    values, the others one row of their state (summary.py), when the plan allows it.
    """
    from .summary import summarisable, summary_statements  # summary reads this module

    history = history_sql(plan)
    summarised = since is not None and summarisable(history)
    statements = (summary_statements(history, whole=whole) if summarised
                  else history_statements(history, whole=whole))
    values = {"through": through, "since": since}
    for statement in statements:
        con.execute(statement, {k: v for k, v in values.items() if f"${k}" in statement})


def history_statements(history: HistorySql, *, whole: bool) -> list[str]:
    """The statements that build the history tables, in order (`through` a parameter)."""
    periods = [history.periods(unit) for unit in ("year", "quarter", "month")]
    return [events_sql(history, whole=whole), DAY_STATE, YEARS,
            *[p for p in (*periods, history.days()) if p is not None]]
