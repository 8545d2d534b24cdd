"""Churn for a calendar year, and lifetime value the playbook's way.

For year Y: a customer is *active* in a year with at least one receipt above zero
dated in it (business date). *Lost* = active in Y-1 and not active in Y; churn rate =
lost / active in Y-1. Each customer active in Y-1 belongs to the store and associate
of their last receipt above zero up to 31 December of Y-1 (the last purchase before
they left, for the lost ones).

Lifetime value, per the playbook: average spend per visit x visits per year x
expected years, over the customers active in Y-1: spend is their net spend in Y-1
(returns subtract), visits their receipts above zero in Y-1. Value lost = lost x
lifetime value. Every row (all, per store, per store and associate) is computed the
same way over its own customers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from .model import Cell, Chart, Report

__all__ = ["DEFAULT_EXPECTED_YEARS", "ChurnRow", "churn_report", "churn_rows"]

DEFAULT_EXPECTED_YEARS = Decimal(3)
CENT, RATE = Decimal("0.01"), Decimal("0.0001")
ALL = "(all)"

_QUERY = """
WITH p AS (
    SELECT customer_id, store_id, staff_id, purchased_at, purchase_id, amount, purchase_date
    FROM purchases WHERE customer_id IS NOT NULL AND purchase_date <= $prev_end),
prev AS (
    SELECT customer_id, sum(amount) AS spend, count(*) FILTER (WHERE amount > 0) AS visits
    FROM p WHERE purchase_date >= $prev_start GROUP BY customer_id
    HAVING count(*) FILTER (WHERE amount > 0) > 0),
cur AS (
    SELECT DISTINCT customer_id FROM purchases
    WHERE customer_id IS NOT NULL AND amount > 0
      AND purchase_date BETWEEN $start AND $end),
last AS (
    SELECT customer_id, store_id, coalesce(staff_id, '(none)') AS staff_id FROM p
    WHERE amount > 0
    QUALIFY row_number() OVER (PARTITION BY customer_id
                               ORDER BY purchased_at DESC, purchase_id DESC) = 1)
SELECT l.store_id, l.staff_id, count(*) AS active,
       count(*) FILTER (WHERE c.customer_id IS NULL) AS lost,
       sum(v.spend) AS spend, sum(v.visits) AS visits
FROM prev v JOIN last l USING (customer_id) LEFT JOIN cur c USING (customer_id)
GROUP BY GROUPING SETS ((), (l.store_id), (l.store_id, l.staff_id))
ORDER BY l.store_id NULLS FIRST, l.staff_id NULLS FIRST
"""


@dataclass(frozen=True)
class ChurnRow:
    store_id: str
    staff_id: str
    active: int
    lost: int
    spend: Decimal
    visits: int

    def rate(self) -> Decimal:
        return (Decimal(self.lost) / self.active).quantize(RATE) if self.active else Decimal(0)

    def per_visit(self) -> Decimal:
        return (self.spend / self.visits).quantize(CENT) if self.visits else Decimal(0)

    def visits_per_year(self) -> Decimal:
        return (Decimal(self.visits) / self.active).quantize(CENT) if self.active else Decimal(0)

    def lifetime_value(self, years: Decimal) -> Decimal:
        """spend/visits x visits/active x years, rounded once at the end."""
        if not self.active:
            return Decimal(0)
        return (self.spend / self.active * years).quantize(CENT)


def churn_rows(con: duckdb.DuckDBPyConnection, year: int) -> list[ChurnRow]:
    """All customers first, then each store, then each store's associates."""
    params = {"prev_start": dt.date(year - 1, 1, 1), "prev_end": dt.date(year - 1, 12, 31),
              "start": dt.date(year, 1, 1), "end": dt.date(year, 12, 31)}
    rows = con.execute(_QUERY, params).fetchall()
    return [ChurnRow(store or ALL, staff or ALL, int(active), int(lost),
                     Decimal(spend or 0), int(visits or 0))
            for store, staff, active, lost, spend, visits in rows
            if active]


def churn_report(con: duckdb.DuckDBPyConnection, year: int,
                 expected_years: Decimal = DEFAULT_EXPECTED_YEARS) -> Report:
    rows = churn_rows(con, year)
    total = rows[0] if rows else ChurnRow(ALL, ALL, 0, 0, Decimal(0), 0)
    ltv = total.lifetime_value(expected_years)
    table: list[list[Cell]] = [
        [r.store_id, r.staff_id, r.active, r.lost, r.rate(), r.per_visit(),
         r.visits_per_year(), r.lifetime_value(expected_years),
         (r.lifetime_value(expected_years) * r.lost).quantize(CENT)] for r in rows]
    stores = [r for r in rows if r.store_id != ALL and r.staff_id == ALL]
    chart = Chart(f"Customers active in {year - 1}, by last store",
                  [r.store_id for r in stores],
                  {f"still active in {year}": [float(r.active - r.lost) for r in stores],
                   "lost": [float(r.lost) for r in stores]})
    associates = [r for r in rows if r.staff_id != ALL]
    lost_chart = Chart("Lost customers by last store and associate",
                       [f"{r.store_id} {r.staff_id}" for r in associates],
                       {"lost": [float(r.lost) for r in associates]})
    return Report(
        title=f"Churn {year}",
        subtitle=f"customers active in {year - 1} and not in {year}; lifetime value = "
                 f"average spend per visit x visits per year x {expected_years} years",
        columns=["store", "associate", f"active_{year - 1}", "lost", "churn_rate",
                 "avg_spend_per_visit", "visits_per_year", "lifetime_value", "value_lost"],
        rows=table,
        facts=[(f"active in {year - 1}", total.active), ("lost", total.lost),
               ("churn rate", f"{total.rate() * 100:.2f}%"),
               ("average spend per visit", total.per_visit()),
               ("visits per year", total.visits_per_year()),
               ("expected years", expected_years), ("lifetime value", ltv),
               ("value lost", (ltv * total.lost).quantize(CENT))],
        charts=[chart, lost_chart])
