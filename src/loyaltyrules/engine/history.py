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

# Two sorts: the customer's receipts in event order, then each (customer, year) run of
# them. purchase_date is the date part of purchased_at (sources/finish.py), so in event
# order a customer's years come in runs: this year's spend after a receipt is the
# lifetime spend minus the lifetime spend before the year's first receipt, and the
# highest points reached so far is the floor of the highest lifetime spend so far minus
# that same base (floor is monotonic, so the floor of the highest is the highest floor).
EVENTS = """
CREATE OR REPLACE TEMP TABLE lr_events AS
WITH ordered AS (
    SELECT p.purchase_id, p.customer_id, p.store_id, p.staff_id, p.purchase_date, p.amount,
           p.purchased_at,
           year(p.purchase_date) AS year,
           row_number() OVER w AS seq,
           sum(p.amount) OVER w AS lifetime_spend,
           min(p.purchase_date) OVER w AS first_purchase_date,
           max(CASE WHEN p.amount > 0 THEN p.purchase_date END) OVER w
               AS last_positive_purchase_date,
           last_value(CASE WHEN p.amount > 0
                           THEN {'store_id': p.store_id, 'staff_id': p.staff_id} END
                      IGNORE NULLS) OVER w AS last_positive
    FROM purchases AS p
    WHERE p.customer_id IS NOT NULL AND p.purchase_date <= $through {scope}
    WINDOW w AS (PARTITION BY p.customer_id ORDER BY p.purchased_at, p.purchase_id
                 ROWS UNBOUNDED PRECEDING)
),
yearly AS (
    SELECT *,
           first_value(lifetime_spend - amount) OVER wy AS year_base,
           max(lifetime_spend) OVER wy AS year_high,
           max(lifetime_spend) OVER (PARTITION BY customer_id, year ORDER BY seq
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
               AS prev_year_high,
           -- the day's last receipt carries the state at the end of the day (a year's
           -- last receipt is always its day's last, so the year partition suffices)
           lead(purchase_date) OVER wy IS DISTINCT FROM purchase_date AS last_of_day
    FROM ordered
    WINDOW wy AS (PARTITION BY customer_id, year ORDER BY seq ROWS UNBOUNDED PRECEDING)
)
SELECT purchase_id, customer_id, store_id, staff_id, purchase_date, purchased_at, amount,
       year, seq,
       lifetime_spend,
       lifetime_spend - year_base AS spend_this_year,
       first_purchase_date, last_positive_purchase_date,
       CAST(floor(lifetime_spend - year_base) AS BIGINT) AS points_this_year,
       CAST(floor(year_high - year_base) AS BIGINT) AS year_max_points,
       CAST(floor(prev_year_high - year_base) AS BIGINT) AS prev_year_max_points,
       last_of_day,
       last_positive.store_id AS last_store_id,
       last_positive.staff_id AS last_staff_id
FROM yearly
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
