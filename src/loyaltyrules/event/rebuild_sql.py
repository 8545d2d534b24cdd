"""Every customer view as one set-based fold in DuckDB (the nightly rebuild's phase 1).

The SQL twin of folding `EventEvaluator.advance` over each customer's receipts in
event order (event/view.py `advance` and `rolled`, the marks of `Crossing.mark`),
built on the batch's own running values (engine/history.py, whole history):

* the values after a customer's last receipt are its last `lr_events` row; last
  year's spend and highest points and the year before's come from `lr_years`, by the
  last receipt's year: what `rolled` leaves after gaps of one or two years (a year
  without receipts counts zero);
* a crossing mark for each receipt after which the running metric reaches the
  threshold resolved at that receipt's scope (its store's region, else the
  customer's), keyed as the batch keys the crossing's actions; this-year marks only
  of the last receipt's year, as `rolled` drops the others;
* customers with a record and no receipts get the empty view with their record.

Each view leaves DuckDB as the JSON text `view_to_json` writes (same keys, order and
encodings; only non-ASCII text is left unescaped), so no view becomes a Python object.
Plan values enter the SQL as SQLGlot nodes, `through` as a parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
import sqlglot
from sqlglot import exp

from ..engine.compile import _Compiler
from ..engine.history import build_history
from ..engine.scope import column
from ..engine.triggers import crossing
from .evaluator import Crossing

# Per receipt: the running metrics a crossing reads, named by fact path as in the
# batch's purchase context, and the scope its params resolve at.
_RECEIPT_SCOPE = """
SELECT e.customer_id, e.year,
       e.lifetime_spend AS "customer.lifetime_spend",
       e.spend_this_year AS "customer.spend_this_year",
       e.points_this_year AS "customer.points_this_year",
       e.seq AS "customer.purchase_count",
       e.store_id AS scope_store, coalesce(st.region, c.region) AS scope_region
FROM lr_events AS e
LEFT JOIN stores AS st ON st.store_id = e.store_id
LEFT JOIN customers AS c ON c.customer_id = e.customer_id
"""

_DROP = ("DROP VIEW IF EXISTS lr_view_json", "DROP TABLE IF EXISTS lr_view_marks",
         "DROP TABLE IF EXISTS lr_view_last", "DROP VIEW IF EXISTS lr_day_state",
         "DROP TABLE IF EXISTS lr_events", "DROP TABLE IF EXISTS lr_years")
_NO_MARKS = "SELECT NULL::VARCHAR AS customer_id, NULL::BIGINT AS year, NULL::VARCHAR AS mark"

# The state after each customer's last receipt (seq is the event order), with that
# receipt's time, which lr_events leaves out: the latest (event order is by time first).
_LAST = """
CREATE OR REPLACE TEMP TABLE lr_view_last AS
SELECT customer_id, unnest(l), a.last_purchased_at
FROM (SELECT customer_id,
             arg_max({'year': year, 'seq': seq, 'lifetime_spend': lifetime_spend,
                      'spend_this_year': spend_this_year, 'year_max_points': year_max_points,
                      'first_purchase_date': first_purchase_date,
                      'purchase_date': purchase_date, 'store_id': store_id,
                      'last_positive_purchase_date': last_positive_purchase_date,
                      'last_store_id': last_store_id, 'last_staff_id': last_staff_id}, seq) AS l
      FROM lr_events GROUP BY customer_id)
JOIN (SELECT customer_id, max(purchased_at) AS last_purchased_at FROM purchases
      WHERE customer_id IS NOT NULL AND purchase_date <= $through GROUP BY customer_id) AS a
  USING (customer_id)
"""

# The view as view_to_json lays it out: keys sorted, money and dates as text.
_JSON = """
CREATE OR REPLACE TEMP VIEW lr_view_json AS
WITH marks AS (
    SELECT m.customer_id, list_sort(list(DISTINCT m.mark)) AS crossed
    FROM lr_view_marks AS m JOIN lr_view_last AS l ON l.customer_id = m.customer_id
    WHERE m.year IS NULL OR m.year = l.year
    GROUP BY m.customer_id
), views AS (
    SELECT coalesce(l.customer_id, c.customer_id) AS customer_id, l.* EXCLUDE (customer_id),
           ly.spend AS last_year_spend, ly.max_points AS last_year_max_points,
           l2.max_points AS year_before_max_points, m.crossed,
           CASE WHEN c.customer_id IS NOT NULL THEN {
               'birthday': CAST(c.birthday AS VARCHAR),
               'consent_call': c.consent_call, 'consent_mail': c.consent_mail,
               'consent_sms': c.consent_sms, 'consent_visit': c.consent_visit,
               'customer_id': c.customer_id, 'has_address': c.has_address,
               'has_email': c.has_email, 'has_phone': c.has_phone,
               'home_store': c.home_store, 'joined_on': CAST(c.joined_on AS VARCHAR),
               'referred_by': c.referred_by, 'region': c.region, 'staff_id': c.staff_id}
           END AS record
    FROM lr_view_last AS l
    FULL JOIN customers AS c ON c.customer_id = l.customer_id
    LEFT JOIN lr_years AS ly ON ly.customer_id = l.customer_id AND ly.year = l.year - 1
    LEFT JOIN lr_years AS l2 ON l2.customer_id = l.customer_id AND l2.year = l.year - 2
    LEFT JOIN marks AS m ON m.customer_id = l.customer_id
)
SELECT customer_id, to_json({
    'crossed': coalesce(crossed, []),
    'customer_id': customer_id,
    'first_purchase_date': CAST(first_purchase_date AS VARCHAR),
    'last_positive_date': CAST(last_positive_purchase_date AS VARCHAR),
    'last_positive_staff': last_staff_id,
    'last_positive_store': last_store_id,
    'last_purchase_date': CAST(purchase_date AS VARCHAR),
    -- as datetime.isoformat: the microseconds only when there are some
    'last_purchased_at': CASE WHEN microsecond(last_purchased_at) % 1000000 = 0
                              THEN strftime(last_purchased_at, '%Y-%m-%dT%H:%M:%S')
                              ELSE strftime(last_purchased_at, '%Y-%m-%dT%H:%M:%S.%f') END,
    'last_receipt_store': store_id,
    'last_year_max_points': coalesce(last_year_max_points, 0),
    'last_year_spend': CAST(coalesce(last_year_spend, 0) AS DECIMAL(38, 3))::VARCHAR,
    'lifetime_spend': CAST(coalesce(lifetime_spend, 0) AS DECIMAL(38, 3))::VARCHAR,
    'purchase_count': coalesce(seq, 0),
    'record': record,
    'spend_this_year': CAST(coalesce(spend_this_year, 0) AS DECIMAL(38, 3))::VARCHAR,
    'year': year,
    'year_before_max_points': coalesce(year_before_max_points, 0),
    'year_max_points': coalesce(year_max_points, 0)
}) AS view
FROM views
"""


def _parse(text: str) -> exp.Query:
    tree = sqlglot.parse_one(text, dialect="duckdb")
    assert isinstance(tree, exp.Query)
    return tree


def _marks(crossings: Sequence[Crossing], through: dt.date) -> exp.Query:
    """(customer_id, year, mark) of every receipt that reaches a crossing's threshold.

    `year` is set for this-year metrics only (their marks are kept for one year).
    """
    scope = _parse(_RECEIPT_SCOPE).subquery("receipts")
    parts: list[exp.Query] = []
    for c in crossings:
        policy = c.plan.policy
        threshold = _Compiler(policy).sql(policy.trigger_nodes["threshold"])
        # the batch's key of this crossing's actions: the threshold as text (":year")
        key = crossing(policy, through, through, threshold)[0].key
        mark = exp.func("concat", exp.Literal.string(f"{c.metric}|"), key)
        year = column("year") if c.yearly else exp.cast(exp.Null(), "BIGINT")
        scoped = exp.select("*", exp.alias_(threshold, "lr_threshold")).from_(scope.copy())
        parts.append(
            exp.select(column("customer_id"), exp.alias_(year, "year"), exp.alias_(mark, "mark"))
            .from_(scoped.subquery("scoped"))
            .where(exp.GTE(this=column(c.metric), expression=column("lr_threshold"))))
    if not parts:
        return _parse(_NO_MARKS)
    union = parts[0]
    for part in parts[1:]:
        union = exp.union(union, part, distinct=False)
    return union


# The customers whose view a store's rebuild may keep (event/rebuild.py): those of its
# home, and those who bought there (one without a home store may be the store's).
_STORE_SCOPE = """
CREATE OR REPLACE TEMP TABLE lr_scope AS
SELECT customer_id FROM customers WHERE home_store = $store
UNION SELECT customer_id FROM purchases
WHERE store_id = $store AND customer_id IS NOT NULL AND purchase_date <= $through
"""


@contextmanager
def view_rows(con: duckdb.DuckDBPyConnection, through: dt.date,
              crossings: Sequence[Crossing], store: str | None = None) -> Iterator[str]:
    """The SELECT of (customer_id, view JSON): one row per customer with a record or a
    receipt dated up to `through`, over temp tables that live for the `with` block.
    With a `store`, only the customers who may be the store's (a superset: the
    caller keeps the store's own), whose histories are folded whole.

    Builds the history's running values with the batch's own builder, and leaves no
    history tables behind (the batch builds its own each time it evaluates).
    """
    try:
        if store is not None:
            con.execute(_STORE_SCOPE, {"store": store, "through": through})
        build_history(con, through, whole=store is None)
        con.execute(_LAST, {"through": through})
        marks = _marks(crossings, through).subquery("marks").sql("duckdb")
        con.execute(f"CREATE OR REPLACE TEMP TABLE lr_view_marks AS SELECT DISTINCT * FROM {marks}")
        # done with the receipts: free them before DuckDB sorts the views
        con.execute("DROP VIEW IF EXISTS lr_day_state")
        con.execute("DROP TABLE IF EXISTS lr_events")
        con.execute(_JSON)
        yield "SELECT customer_id, view FROM lr_view_json"
    finally:
        for statement in _DROP:
            con.execute(statement)
