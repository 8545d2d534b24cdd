"""The purchase history as running values: the set-based customer view.

Built once per run, in DuckDB, from the clean `purchases` and `customers` tables:

* `lr_events`: one row per receipt of a known customer up to the run's last date,
  in event order (purchased_at, then purchase_id), with the customer's running
  values *after* that receipt (lifetime spend, this year's spend and points, the
  highest points reached this year, purchase count as `seq`, first and last dates).
  It is kept narrow: a receipt's rarely read columns (currency, return_of) are
  joined back only for policies that read them;
* `lr_day_state`: the running values at the end of each day a customer bought
  (the last receipt of the day), for as-of lookups from schedules;
* `lr_years`: per customer and calendar year, the year's net spend and the highest
  points reached in it (a year's tier is judged by that).

Only customers in `lr_scope` are built, unless the whole history is asked for.

Every later query reads these, so the history is scanned once however many
policies there are. This SQL is fixed text of ours; nothing from policy files is in it.
"""

from __future__ import annotations

import datetime as dt

import duckdb

IN_SCOPE = "AND p.customer_id IN (SELECT customer_id FROM lr_scope)"

EVENTS = """
CREATE OR REPLACE TEMP TABLE lr_events AS
WITH ordered AS (
    SELECT p.purchase_id, p.customer_id, p.store_id, p.staff_id, p.purchase_date, p.amount,
           year(p.purchase_date) AS year,
           row_number() OVER w AS seq,
           sum(p.amount) OVER w AS lifetime_spend,
           sum(p.amount) OVER wy AS spend_this_year,
           min(p.purchase_date) OVER w AS first_purchase_date,
           max(CASE WHEN p.amount > 0 THEN p.purchase_date END) OVER w
               AS last_positive_purchase_date,
           last_value(CASE WHEN p.amount > 0
                           THEN {'store_id': p.store_id, 'staff_id': p.staff_id} END
                      IGNORE NULLS) OVER w AS last_positive
    FROM purchases AS p
    WHERE p.customer_id IS NOT NULL AND p.purchase_date <= $through {scope}
    WINDOW w AS (PARTITION BY p.customer_id ORDER BY p.purchased_at, p.purchase_id
                 ROWS UNBOUNDED PRECEDING),
           wy AS (PARTITION BY p.customer_id, year(p.purchase_date)
                  ORDER BY p.purchased_at, p.purchase_id ROWS UNBOUNDED PRECEDING)
)
SELECT * EXCLUDE (last_positive),
       CAST(floor(spend_this_year) AS BIGINT) AS points_this_year,
       max(CAST(floor(spend_this_year) AS BIGINT)) OVER (
           PARTITION BY customer_id, year ORDER BY seq ROWS UNBOUNDED PRECEDING
       ) AS year_max_points,
       max(CAST(floor(spend_this_year) AS BIGINT)) OVER (
           PARTITION BY customer_id, year ORDER BY seq
           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
       ) AS prev_year_max_points,
       -- the day's last receipt carries the state at the end of the day (a year's
       -- last receipt is always its day's last, so the year partition suffices)
       lead(purchase_date) OVER (PARTITION BY customer_id, year ORDER BY seq)
           IS DISTINCT FROM purchase_date AS last_of_day,
       last_positive.store_id AS last_store_id,
       last_positive.staff_id AS last_staff_id
FROM ordered
"""

DAY_STATE = """
CREATE OR REPLACE TEMP VIEW lr_day_state AS
SELECT * FROM lr_events WHERE last_of_day
"""

YEARS = """
CREATE OR REPLACE TEMP TABLE lr_years AS
SELECT customer_id, year, sum(amount) AS spend, max(year_max_points) AS max_points
FROM lr_events GROUP BY customer_id, year
"""


def build_history(con: duckdb.DuckDBPyConnection, through: dt.date, *, whole: bool) -> None:
    """Create the running-value tables for every receipt dated up to `through`.

    Unless `whole`, only the customers listed in `lr_scope` (those a policy can reach
    in the evaluated range) are included: their histories are complete, the others'
    are not needed, so a night costs far less than the whole history.
    """
    con.execute(EVENTS.replace("{scope}", "" if whole else IN_SCOPE), {"through": through})
    con.execute(DAY_STATE)
    con.execute(YEARS)
