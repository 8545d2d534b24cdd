"""Every customer view as one set-based fold in DuckDB (the nightly rebuild's phase 1).

The SQL twin of folding `EventEvaluator.advance` over each customer's receipts in
event order (event/view.py `Views.advance`, metrics/fold.py, the marks of
`Crossing.mark`), built on the batch's own history tables (engine/history.py, whole
history):

* the receipt count, last receipt, stores and ladder points are the customer's last
  `lr_events` row, with the highest points of the two years before from `lr_years`;
* each accumulator of the fold is grouped from the receipts it counts: its value over
  all of them (window all), its latest period and the one before (a calendar unit),
  or its day buckets within its longest window of the latest day (rolling);
* a crossing mark for each receipt after which the running metric reaches the
  threshold resolved at that receipt's scope (its store's region, else the
  customer's), keyed as the batch keys the crossing's actions; this-year marks only
  of the last receipt's year, as the fold drops the others;
* customers with a record and no receipts get the empty view with their record.

Each view leaves DuckDB as the JSON text `Views.to_json` writes (same keys, order and
encodings; only non-ASCII text is left unescaped), so no view becomes a Python object.
Plan values enter the SQL as SQLGlot nodes, `through` as a parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import duckdb
from sqlglot import exp

from ..conditions.types import DATE, DECIMAL, Type
from ..engine.compile import _Compiler
from ..engine.contexts import metric_columns
from ..engine.history import build_history, history_sql, history_statements
from ..engine.scope import column
from ..engine.triggers import crossing
from ..metrics.fold import Acc, field_type
from ..metrics.sql import Aggregate, HistorySql, Point, receipt_sql
from ..plan import Plan
from .evaluator import Crossing
from .view import Views

_DROP = ("DROP VIEW IF EXISTS lr_view_json", "DROP TABLE IF EXISTS lr_view_marks",
         "DROP TABLE IF EXISTS lr_view_last", "DROP TABLE IF EXISTS lr_view_states",
         "DROP VIEW IF EXISTS lr_customers", "DROP VIEW IF EXISTS lr_day_state",
         "DROP TABLE IF EXISTS lr_events",
         "DROP TABLE IF EXISTS lr_years", "DROP TABLE IF EXISTS lr_days",
         "DROP TABLE IF EXISTS lr_period_year", "DROP TABLE IF EXISTS lr_period_quarter",
         "DROP TABLE IF EXISTS lr_period_month")
_NO_MARKS = "SELECT NULL::VARCHAR AS customer_id, NULL::BIGINT AS year, NULL::VARCHAR AS mark"

# The state after each customer's last receipt (seq is the event order).
_LAST = """
CREATE OR REPLACE TEMP TABLE lr_view_last AS
SELECT customer_id, unnest(l)
FROM (SELECT customer_id,
             arg_max({'year': year, 'seq': seq, 'year_max_points': year_max_points,
                      'store_id': store_id, 'positive_store': positive_store,
                      'purchased_at': purchased_at}, seq) AS l
      FROM lr_events GROUP BY customer_id)
"""

# The view as Views.to_json lays it out: keys sorted, money and dates as text.
_JSON = """
CREATE OR REPLACE TEMP VIEW lr_view_json AS
WITH marks AS (
    SELECT m.customer_id, list_sort(list(DISTINCT m.mark)) AS crossed
    FROM lr_view_marks AS m JOIN lr_view_last AS l ON l.customer_id = m.customer_id
    WHERE m.year IS NULL OR m.year = l.year
    GROUP BY m.customer_id
), views AS (
    SELECT coalesce(l.customer_id, c.customer_id) AS customer_id, l.* EXCLUDE (customer_id),
           ly.max_points AS last_year_max_points, l2.max_points AS year_before_max_points,
           m.crossed, s.metrics,
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
    FULL JOIN {customers} AS c ON c.customer_id = l.customer_id
    LEFT JOIN lr_years AS ly ON ly.customer_id = l.customer_id AND ly.year = l.year - 1
    LEFT JOIN lr_years AS l2 ON l2.customer_id = l.customer_id AND l2.year = l.year - 2
    LEFT JOIN marks AS m ON m.customer_id = l.customer_id
    LEFT JOIN lr_view_states AS s ON s.customer_id = l.customer_id
)
SELECT customer_id, to_json({
    'crossed': coalesce(crossed, []),
    'customer_id': customer_id,
    'ladder': {ladder},
    'last_positive_store': positive_store,
    -- as datetime.isoformat: the microseconds only when there are some
    'last_purchased_at': CASE WHEN microsecond(purchased_at) % 1000000 = 0
                              THEN strftime(purchased_at, '%Y-%m-%dT%H:%M:%S')
                              ELSE strftime(purchased_at, '%Y-%m-%dT%H:%M:%S.%f') END,
    'last_receipt_store': store_id,
    'metrics': CASE WHEN metrics IS NULL THEN '{}'::JSON ELSE to_json(metrics) END,
    'purchase_count': coalesce(seq, 0),
    'record': record
}) AS view
FROM views
"""

# The records as the clean customers table holds them (contact details as has_* flags),
# under the name the contexts read.
_RECORDS = """
CREATE OR REPLACE TEMP VIEW lr_customers AS
SELECT customer_id, birthday, coalesce(region, 'default') AS region, home_store, joined_on,
       referred_by, staff_id, consent_sms, consent_call, consent_mail, consent_visit,
       has_address, has_phone, has_email
FROM customers
"""

_LADDER = """CASE WHEN seq IS NOT NULL THEN {'b': coalesce(year_before_max_points, 0),
    'k': :key, 'l': coalesce(last_year_max_points, 0), 'm': year_max_points, 'y': year} END"""


def _encode(sql: str, kind: Type | None) -> str:
    """A value as Views.to_json writes it: money and dates as text."""
    if kind == DECIMAL:
        return f"CAST(CAST({sql} AS DECIMAL(38, 3)) AS VARCHAR)"
    if kind == DATE:
        return f"CAST({sql} AS VARCHAR)"
    return sql


def _group_value(acc: Acc, only: str = "") -> str:
    """An accumulator's JSON value over a group of receipts; `only` is a FILTER clause
    picking the receipts that count (none: all of the group count)."""
    kind, field = acc.kind, receipt_sql(acc.of) if acc.of else "NULL"
    if kind == "count_days":
        return (f"{{'d': CAST(max(purchase_date){only} AS VARCHAR), "
                f"'n': count(DISTINCT purchase_date){only}}}")
    if kind == "count":
        return f"count(*){only}"
    if kind == "last":
        return _encode(f"(arg_max({{'v': {field}}}, seq){only}).v", field_type(acc))
    if kind == "sum":
        return _encode(f"coalesce(sum({field}){only}, 0)", DECIMAL)
    return _encode(f"{kind}({field}){only}", field_type(acc))


def _empty(acc: Acc) -> str:
    kind = acc.kind
    if kind == "count_days":
        return "{'d': NULL::VARCHAR, 'n': 0}"
    return {"count": "0", "sum": "'0.000'"}.get(kind, "NULL")


def _counted(acc: Acc) -> str:
    """The receipts an accumulator counts (its metrics' `where`)."""
    assert acc.metric is not None
    return f"SELECT * FROM lr_events WHERE {Aggregate(acc.metric).test}"


def _days(acc: Acc) -> str:
    """(customer_id, s): the day buckets within the accumulator's longest window of
    its latest counting day."""
    bucket = "count(*)" if acc.kind == "count_days" else _group_value(acc)
    days = (f"SELECT customer_id, purchase_date AS day, {bucket} AS v FROM ({_counted(acc)}) "
            "GROUP BY ALL")
    return (f"SELECT customer_id, list({{'d': CAST(day AS VARCHAR), 'v': v}} ORDER BY day) "
            f"AS s FROM (SELECT *, max(day) OVER (PARTITION BY customer_id) AS lr_latest "
            f"FROM ({days})) WHERE day > lr_latest - {acc.keep} GROUP BY customer_id")


def _periods(acc: Acc) -> str:
    """(customer_id, s): the latest period with a counting receipt, and the one before."""
    periods = (f"SELECT customer_id, pid_{acc.shape} AS pid, {_group_value(acc)} AS v "
               f"FROM ({_counted(acc)}) GROUP BY ALL")
    latest = (f"SELECT customer_id, top.pid AS pid, top.v AS v FROM (SELECT customer_id, "
              f"arg_max({{'pid': pid, 'v': v}}, pid) AS top FROM ({periods}) "
              "GROUP BY customer_id)")
    return (f"SELECT t.customer_id, {{'c': t.v, 'l': coalesce(b.v, {_empty(acc)}), "
            f"'p': t.pid}} AS s FROM ({latest}) AS t LEFT JOIN ({periods}) AS b "
            "ON b.customer_id = t.customer_id AND b.pid = t.pid - 1")


def _states(views: Views) -> str:
    """CREATE of lr_view_states: (customer_id, metrics), the fold's states as a struct
    keyed by accumulator, for every customer with a receipt. The accumulators over all
    receipts take one GROUP BY together; each period or rolling one its own."""
    fold = views.fold
    if not fold.accs:
        return ("CREATE OR REPLACE TEMP TABLE lr_view_states AS "
                "SELECT NULL::VARCHAR AS customer_id, NULL::JSON AS metrics WHERE false")
    alls = [i for i, a in enumerate(fold.accs) if a.shape == "all"]
    columns = ["customer_id"] + [
        f"{_group_value(fold.accs[i], _filter(fold.accs[i]))} AS a{i}" for i in alls]
    joins = [f"(SELECT {', '.join(columns)} FROM lr_events GROUP BY customer_id) AS alls"]
    values = {i: f"alls.a{i}" for i in alls}
    for i, acc in enumerate(fold.accs):
        if acc.shape != "all":
            query = _days(acc) if acc.shape == "days" else _periods(acc)
            joins.append(f"LEFT JOIN ({query}) AS s{i} USING (customer_id)")
            values[i] = f"coalesce(s{i}.s, {'[]' if acc.shape == 'days' else 'NULL'})"
    order = sorted(range(len(fold.accs)), key=lambda i: fold.keys[i])
    fields = ", ".join(f"'{fold.keys[i]}': {values[i]}" for i in order)
    return (f"CREATE OR REPLACE TEMP TABLE lr_view_states AS SELECT customer_id, "
            f"{{{fields}}} AS metrics FROM {' '.join(joins)}")


def _filter(acc: Acc) -> str:
    assert acc.metric is not None
    return Aggregate(acc.metric).filter


def _receipt_scope(history: HistorySql) -> str:
    """Per receipt: the running metrics a crossing reads, named by fact path as in the
    batch's purchase context, and the scope its params resolve at."""
    point = Point(history, "e", "e.customer_id", "e.purchase_date", "after", receipt=True)
    return (f"SELECT e.customer_id, e.year{metric_columns(history, point, 'customer', 'lc')}, "
            "e.store_id AS scope_store, coalesce(st.region, c.region) AS scope_region "
            "FROM lr_events AS e LEFT JOIN stores AS st ON st.store_id = e.store_id "
            "LEFT JOIN customers AS c ON c.customer_id = e.customer_id "
            "LEFT JOIN lr_customers AS lc ON lc.customer_id = e.customer_id "
            f"{point.joins()}")


def _marks(plan: Plan, history: HistorySql, crossings: Sequence[Crossing],
           through: dt.date) -> str:
    """(customer_id, year, mark) of every receipt that reaches a crossing's threshold.

    `year` is set for this-year metrics only (their marks are kept for one year).
    Built as text: SQLGlot copies a tree at every union, seconds for a big plan.
    """
    receipts = f"({_receipt_scope(history)}) AS receipts"
    parts = []
    for c in crossings:
        policy = c.plan.policy
        threshold = _Compiler(policy).sql(policy.trigger_nodes["threshold"])
        # the batch's key of this crossing's actions: the threshold as text (":year")
        key = crossing(plan, policy, through, through, threshold)[0].key
        mark = exp.func("concat", exp.Literal.string(f"{c.metric}|"), key).sql("duckdb")
        year = column("year").sql("duckdb") if c.yearly else "NULL::BIGINT"
        parts.append(
            f"SELECT customer_id, {year} AS year, {mark} AS mark "
            f"FROM (SELECT *, {threshold.sql('duckdb')} AS lr_threshold FROM {receipts}) "
            f"AS scoped WHERE {column(c.metric).sql('duckdb')} >= lr_threshold")
    return "\nUNION ALL\n".join(parts) or _NO_MARKS


def _json(views: Views, scoped: bool) -> str:
    """CREATE of lr_view_json (of the customers in lr_scope only, if `scoped`)."""
    ladder = "NULL" if views.ladder_key is None else _LADDER.replace(
        ":key", f"'{views.ladder_key}'")
    customers = ("(SELECT * FROM customers WHERE customer_id IN "
                 "(SELECT customer_id FROM lr_scope))") if scoped else "customers"
    return _JSON.replace("{ladder}", ladder).replace("{customers}", customers)


def definition_sql(through: dt.date, plan: Plan, views: Views,
                   crossings: Sequence[Crossing]) -> list[str]:
    """The statements that compute every view (event/refresh.py: what views share)."""
    history = history_sql(plan)
    marks = _marks(plan, history, crossings, through)
    return [_RECORDS, *history_statements(history, whole=True), _LAST, _states(views), marks,
            _json(views, scoped=False)]


@contextmanager
def view_rows(con: duckdb.DuckDBPyConnection, through: dt.date, plan: Plan,
              views: Views, crossings: Sequence[Crossing], scope: str | None = None,
              params: Mapping[str, object] | None = None) -> Iterator[str]:
    """The SELECT of (customer_id, view JSON): one row per customer with a record or a
    receipt dated up to `through`, over temp tables that live for the `with` block.
    With a `scope` (a SELECT of customer ids, with `params`), only those customers,
    whose histories are folded whole.

    Builds the history's running values with the batch's own builder, and leaves no
    history tables behind (the batch builds its own each time it evaluates).
    """
    try:
        if scope is not None:
            con.execute(f"CREATE OR REPLACE TEMP TABLE lr_scope AS {scope}", params or {})
        con.execute(_RECORDS)  # the record fields expression metrics may read
        build_history(con, through, plan, whole=scope is None)
        history = history_sql(plan)
        con.execute(_LAST)
        con.execute(_states(views))
        marks = _marks(plan, history, crossings, through)
        con.execute(f"CREATE OR REPLACE TEMP TABLE lr_view_marks AS SELECT DISTINCT * "
                    f"FROM ({marks}) AS marks")
        # done with the receipts: free them before DuckDB sorts the views
        for kind, table in (("VIEW", "lr_day_state"), ("TABLE", "lr_events"),
                            ("TABLE", "lr_days")):
            con.execute(f"DROP {kind} IF EXISTS {table}")
        con.execute(_json(views, scoped=scope is not None))
        yield "SELECT customer_id, view FROM lr_view_json"
    finally:
        for statement in _DROP:
            con.execute(statement)
