"""Fact contexts: relations whose columns are named by fact path.

A condition's fact `customer.lifetime_spend` is the column "customer.lifetime_spend"
of its trigger's context, so compiling an expression needs no per-fact knowledge:

* `lr_purchase_ctx`: one row per receipt of a known customer (purchase-driven
  triggers), with the customer's values right after that receipt;
* `schedule_context(candidates)`: one row per (customer, as_of) candidate of a
  schedule, with the customer's values at the end of as_of (an ASOF join on the
  per-day state).

Both carry `scope_store` and `scope_region`, the store and region whose params and
overrides apply, and `cust_store`/`cust_region`, the customer's own (for tiers).
This SQL is fixed text of ours; the tier ladder enters through the `lr_tier_index`
macro built from the plan (see ladder.py).
"""

from __future__ import annotations

import duckdb

# The customers table as the engine sees it: contact details reduced to has_* flags.
CUSTOMERS = """
CREATE OR REPLACE TEMP VIEW lr_customers AS
SELECT customer_id, birthday, coalesce(region, 'default') AS region, home_store, joined_on,
       referred_by, staff_id, consent_sms, consent_call, consent_mail, consent_visit,
       address IS NOT NULL AS has_address, phone IS NOT NULL AS has_phone,
       email IS NOT NULL AS has_email
FROM customers
"""


def record_columns(group: str, c: str) -> str:
    """The customer-record facts of `group` (customer or referrer) from alias `c`."""
    names = (
        "customer_id",
        "birthday",
        "region",
        "home_store",
        "joined_on",
        "referred_by",
        "staff_id",
        "consent_sms",
        "consent_call",
        "consent_mail",
        "consent_visit",
        "has_address",
        "has_phone",
        "has_email",
    )
    return ",\n    ".join(f'{c}.{n} AS "{group}.{n}"' for n in names)


def state_columns(group: str, c: str, s: str, ly: str, as_of: str) -> str:
    """The metric facts of `group` at the end of `as_of`, from the as-of day state `s`.

    A customer with no receipts yet has zero spend and count, missing dates, and the
    lowest tier.
    """
    this_year = f"CASE WHEN {s}.year = year({as_of})"
    max_points = (
        f"greatest({this_year} THEN {s}.year_max_points ELSE 0 END, coalesce({ly}.max_points, 0))"
    )
    columns = {
        "lifetime_spend": f"coalesce({s}.lifetime_spend, 0)",
        "spend_this_year": f"{this_year} THEN {s}.spend_this_year ELSE 0 END",
        "spend_last_year": f"coalesce({ly}.spend, 0)",
        "points_this_year": f"{this_year} THEN {s}.points_this_year ELSE 0 END",
        "points_last_year": f"CAST(floor(coalesce({ly}.spend, 0)) AS BIGINT)",
        "first_purchase_date": f"{s}.first_purchase_date",
        "last_purchase_date": f"{s}.purchase_date",
        "last_positive_purchase_date": f"{s}.last_positive_purchase_date",
        "days_since_last_purchase": f"{as_of} - {s}.purchase_date",
        "days_since_last_positive_purchase": f"{as_of} - {s}.last_positive_purchase_date",
        "purchase_count": f"coalesce({s}.seq, 0)",
        "last_store_id": f"{s}.last_store_id",
        "last_staff_id": f"{s}.last_staff_id",
        "tier": f"lr_tier_name(lr_tier_index({max_points}, {c}.region, {c}.home_store))",
    }
    return ",\n    ".join(f'{sql} AS "{group}.{name}"' for name, sql in columns.items())


def schedule_context(candidates: str) -> str:
    """SELECT of the schedule context over a relation of (customer_id, as_of) rows.

    `candidates` is the name of a temp table made by the schedule compiler.
    """
    return f"""
SELECT
    lr_candidates.customer_id, lr_candidates.as_of, year(lr_candidates.as_of) AS year,
    CASE WHEN s.year = year(lr_candidates.as_of) THEN s.year_max_points ELSE 0 END
        AS year_max_points,
    coalesce(ly.max_points, 0) AS last_year_max_points,
    coalesce(l2.max_points, 0) AS year_before_max_points,
    coalesce(c.home_store, s.last_store_id, s.store_id) AS scope_store,
    coalesce(st.region, c.region) AS scope_region,
    c.home_store AS cust_store, c.region AS cust_region,
    lr_candidates.as_of AS "as_of",
    {record_columns("customer", "c")},
    {state_columns("customer", "c", "s", "ly", "lr_candidates.as_of")}
FROM {candidates}
JOIN lr_customers AS c ON c.customer_id = lr_candidates.customer_id
ASOF LEFT JOIN (SELECT * FROM lr_day_state
                WHERE customer_id IN (SELECT customer_id FROM lr_candidates)) AS s
  ON s.customer_id = lr_candidates.customer_id AND lr_candidates.as_of >= s.purchase_date
LEFT JOIN lr_years AS ly
  ON ly.customer_id = lr_candidates.customer_id AND ly.year = year(lr_candidates.as_of) - 1
LEFT JOIN lr_years AS l2
  ON l2.customer_id = lr_candidates.customer_id AND l2.year = year(lr_candidates.as_of) - 2
LEFT JOIN stores AS st ON st.store_id = coalesce(c.home_store, s.last_store_id, s.store_id)
"""


# Facts that need the receipt row itself, joined back from `purchases`.
RECEIPT_EXTRAS = ("purchase.currency", "purchase.return_of")
LEAN, FULL = "lr_purchase_ctx", "lr_purchase_ctx_full"

PURCHASE_CONTEXT = f"""
CREATE OR REPLACE TEMP VIEW {{view}} AS
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
    e.purchase_date AS "purchase.date", {{extras}}
    e.amount < 0 AS "purchase.is_return",
    {record_columns("customer", "c")},
    e.lifetime_spend AS "customer.lifetime_spend",
    e.spend_this_year AS "customer.spend_this_year",
    coalesce(ly.spend, 0) AS "customer.spend_last_year",
    e.points_this_year AS "customer.points_this_year",
    CAST(floor(coalesce(ly.spend, 0)) AS BIGINT) AS "customer.points_last_year",
    e.first_purchase_date AS "customer.first_purchase_date",
    e.purchase_date AS "customer.last_purchase_date",
    e.last_positive_purchase_date AS "customer.last_positive_purchase_date",
    0 AS "customer.days_since_last_purchase",
    e.purchase_date - e.last_positive_purchase_date
        AS "customer.days_since_last_positive_purchase",
    e.seq AS "customer.purchase_count",
    e.last_store_id AS "customer.last_store_id", e.last_staff_id AS "customer.last_staff_id",
    lr_tier_name(lr_tier_index(greatest(e.year_max_points, coalesce(ly.max_points, 0)),
                               c.region, c.home_store)) AS "customer.tier"
FROM lr_events AS e {{join}}
JOIN lr_customers AS c ON c.customer_id = e.customer_id
LEFT JOIN lr_years AS ly ON ly.customer_id = e.customer_id AND ly.year = e.year - 1
LEFT JOIN lr_years AS l2 ON l2.customer_id = e.customer_id AND l2.year = e.year - 2
LEFT JOIN stores AS st ON st.store_id = e.store_id
"""


FIRST_PURCHASE_CONTEXT = f"""
CREATE OR REPLACE TEMP VIEW lr_first_purchase_ctx AS
SELECT p.*,
    {record_columns("referrer", "r")},
    {state_columns("referrer", "r", "rs", "rly", "p.as_of")}
FROM (SELECT * FROM lr_purchase_ctx_full WHERE seq = 1) AS p
LEFT JOIN lr_customers AS r ON r.customer_id = p."customer.referred_by"
ASOF LEFT JOIN lr_day_state AS rs ON rs.customer_id = r.customer_id AND p.as_of >= rs.purchase_date
LEFT JOIN lr_years AS rly ON rly.customer_id = r.customer_id AND rly.year = year(p.as_of) - 1
"""


def build_customers(con: duckdb.DuckDBPyConnection) -> None:
    """The customers view; made first, since the history's scope reads it."""
    con.execute(CUSTOMERS)


def build_contexts(con: duckdb.DuckDBPyConnection) -> None:
    """The purchase contexts over the history tables (build_customers came first)."""
    con.execute(PURCHASE_CONTEXT.format(view=LEAN, extras="", join=""))
    con.execute(
        PURCHASE_CONTEXT.format(
            view=FULL,
            extras='p.currency AS "purchase.currency", p.return_of AS "purchase.return_of",',
            join="JOIN purchases AS p ON p.purchase_id = e.purchase_id "
            "AND p.purchase_date = e.purchase_date",
        )
    )
    con.execute(FIRST_PURCHASE_CONTEXT)
