"""Fact contexts: relations whose columns are named by fact path.

A condition's fact `customer.lifetime_spend` is the column "customer.lifetime_spend"
of its trigger's context, so compiling an expression needs no per-fact knowledge:

* `lr_purchase_ctx`: one row per receipt of a known customer (purchase-driven
  triggers), with the customer's values right after that receipt;
* `schedule_context(candidates)`: one row per (customer, as_of) candidate of a
  schedule, with the customer's values at the end of as_of (an ASOF join on the
  per-day state, plus the period and day-bucket tables for windowed metrics).

Both carry `scope_store` and `scope_region`, the store and region whose params and
overrides apply, and `cust_store`/`cust_region`, the customer's own (for tiers).
The customer metrics are the plan's declarations compiled by metrics/sql.py; the
tier ladder enters through the `lr_tier_index` macro built from the plan (ladder.py).
"""

from __future__ import annotations

import duckdb
from sqlglot import exp

from ..metrics.sql import HistorySql, Point, context_values
from ..plan import Plan
from .history import history_sql

# The customers table as the engine sees it: contact details reduced to has_* flags.
CUSTOMERS = """
CREATE OR REPLACE TEMP VIEW lr_customers AS
SELECT customer_id, birthday, coalesce(region, 'default') AS region, home_store, joined_on,
       referred_by, staff_id, consent_sms, consent_call, consent_mail, consent_visit,
       address IS NOT NULL AS has_address, phone IS NOT NULL AS has_phone,
       email IS NOT NULL AS has_email
FROM customers
"""

RECORD_FIELDS = ("customer_id", "birthday", "region", "home_store", "joined_on", "referred_by",
                 "staff_id", "consent_sms", "consent_call", "consent_mail", "consent_visit",
                 "has_address", "has_phone", "has_email")


def record_columns(group: str, c: str) -> str:
    """The customer-record facts of `group` (customer or referrer) from alias `c`."""
    return ",\n    ".join(f'{c}.{n} AS "{group}.{n}"' for n in RECORD_FIELDS)


def metric_columns(history: HistorySql, point: Point, group: str, c: str) -> str:
    """Every plan metric of `group` at `point`, named by fact path."""
    values = context_values(history.metrics, point.value, lambda f: exp.column(f, table=c),
                            exp.maybe_parse(point.as_of, dialect="duckdb"))
    return "".join(f',\n    {sql.sql("duckdb")} AS "{group}.{name}"'
                   for name, sql in values.items())


def _tier(group: str, c: str, this_year: str, last_year: str) -> str:
    return (f'lr_tier_name(lr_tier_index(greatest({this_year}, {last_year}), {c}.region, '
            f'{c}.home_store)) AS "{group}.tier"')


def state_columns(history: HistorySql, group: str, c: str, s: str, ly: str,
                  as_of: str, *, moment: bool = False) -> tuple[str, str]:
    """The metric facts of `group` at the end of `as_of`, from the as-of day state `s`,
    and the joins they need (`moment`: at the instant of `s`'s row instead, a host
    event's). A customer with no receipts yet has empty sums and counts, missing
    dates, and the lowest tier."""
    point = Point(history, s, f"{c}.customer_id", as_of, f"{group}_at", moment=moment)
    this_year = f"CASE WHEN {s}.year = year({as_of}) THEN {s}.year_max_points ELSE 0 END"
    tier = _tier(group, c, this_year, f"coalesce({ly}.max_points, 0)")
    return metric_columns(history, point, group, c) + f",\n    {tier}", point.joins()


_SCHEDULE = """
SELECT
    lr_candidates.customer_id, lr_candidates.as_of, year(lr_candidates.as_of) AS year,
    CASE WHEN s.year = year(lr_candidates.as_of) THEN s.year_max_points ELSE 0 END
        AS year_max_points,
    coalesce(ly.max_points, 0) AS last_year_max_points,
    coalesce(l2.max_points, 0) AS year_before_max_points,
    coalesce(c.home_store, s.positive_store, s.store_id) AS scope_store,
    coalesce(st.region, c.region) AS scope_region,
    c.home_store AS cust_store, c.region AS cust_region,
    lr_candidates.as_of AS "as_of",
    {record}{state}
FROM {candidates}
JOIN lr_customers AS c ON c.customer_id = lr_candidates.customer_id
ASOF LEFT JOIN (SELECT * FROM lr_day_state
                WHERE customer_id IN (SELECT customer_id FROM lr_candidates)) AS s
  ON s.customer_id = lr_candidates.customer_id AND lr_candidates.as_of >= s.purchase_date
LEFT JOIN lr_years AS ly
  ON ly.customer_id = lr_candidates.customer_id AND ly.year = year(lr_candidates.as_of) - 1
LEFT JOIN lr_years AS l2
  ON l2.customer_id = lr_candidates.customer_id AND l2.year = year(lr_candidates.as_of) - 2
LEFT JOIN stores AS st ON st.store_id = coalesce(c.home_store, s.positive_store, s.store_id)
{joins}
"""


def schedule_context(plan: Plan, candidates: str) -> str:
    """SELECT of the schedule context over a relation of (customer_id, as_of) rows.

    `candidates` is the name of a temp table made by the schedule compiler.
    """
    history = history_sql(plan)
    state, joins = state_columns(history, "customer", "c", "s", "ly", "lr_candidates.as_of")
    return _SCHEDULE.format(record=record_columns("customer", "c"), state=state,
                            candidates=candidates, joins=joins)


# Facts that need the receipt row itself, joined back from `purchases`.
RECEIPT_EXTRAS = ("purchase.currency", "purchase.return_of")
LEAN, FULL = "lr_purchase_ctx", "lr_purchase_ctx_full"

_PURCHASE = """
CREATE OR REPLACE TEMP VIEW {view} AS
SELECT
    e.customer_id, e.purchase_date AS as_of, e.seq, e.year, e.purchase_id AS trigger_purchase,
    e.purchased_at AS lr_at,
    e.year_max_points AS year_max_points,
    coalesce(ly.max_points, 0) AS last_year_max_points,
    coalesce(l2.max_points, 0) AS year_before_max_points,
    e.prev_year_max_points,
    e.store_id AS scope_store, coalesce(st.region, c.region) AS scope_region,
    c.home_store AS cust_store, c.region AS cust_region,
    e.purchase_date AS "as_of",
    e.purchase_id AS "purchase.purchase_id", e.store_id AS "purchase.store_id",
    e.staff_id AS "purchase.staff_id", e.amount AS "purchase.amount",
    e.purchase_date AS "purchase.date", {extras}
    e.amount < 0 AS "purchase.is_return",
    {record}{metrics},
    {tier}
FROM lr_events AS e {join}
JOIN lr_customers AS c ON c.customer_id = e.customer_id
LEFT JOIN lr_years AS ly ON ly.customer_id = e.customer_id AND ly.year = e.year - 1
LEFT JOIN lr_years AS l2 ON l2.customer_id = e.customer_id AND l2.year = e.year - 2
LEFT JOIN stores AS st ON st.store_id = e.store_id
{joins}
"""

_FIRST_PURCHASE = """
CREATE OR REPLACE TEMP VIEW lr_first_purchase_ctx AS
SELECT p.*,
    {record}{state}
FROM (SELECT * FROM lr_purchase_ctx_full WHERE seq = 1) AS p
LEFT JOIN lr_customers AS r ON r.customer_id = p."customer.referred_by"
ASOF LEFT JOIN lr_day_state AS rs ON rs.customer_id = r.customer_id AND p.as_of >= rs.purchase_date
LEFT JOIN lr_years AS rly ON rly.customer_id = r.customer_id AND rly.year = year(p.as_of) - 1
{joins}
"""


def build_customers(con: duckdb.DuckDBPyConnection) -> None:
    """The customers view; made first, since the history's scope reads it."""
    con.execute(CUSTOMERS)


def build_contexts(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """The purchase contexts over the history tables (build_customers came first)."""
    history = history_sql(plan)
    point = Point(history, "e", "e.customer_id", "e.purchase_date", "after", receipt=True)
    common = {
        "record": record_columns("customer", "c"),
        "metrics": metric_columns(history, point, "customer", "c"),
        "tier": _tier("customer", "c", "e.year_max_points", "coalesce(ly.max_points, 0)"),
        "joins": point.joins(),
    }
    con.execute(_PURCHASE.format(view=LEAN, extras="", join="", **common))
    con.execute(_PURCHASE.format(
        view=FULL, extras='p.currency AS "purchase.currency", '
        'p.return_of AS "purchase.return_of",',
        join="JOIN purchases AS p ON p.purchase_id = e.purchase_id "
             "AND p.purchase_date = e.purchase_date", **common))
    state, joins = state_columns(history, "referrer", "r", "rs", "rly", "p.as_of")
    con.execute(_FIRST_PURCHASE.format(record=record_columns("referrer", "r"), state=state,
                                       joins=joins))
