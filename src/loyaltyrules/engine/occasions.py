"""Occasions beyond receipts, as candidate relations: calendar days, dates of a rule
(monthly, quarterly, the n-th weekday), complaints and host events.

* Date-rule schedules fire on the dates `engine/dates.py` lists for the range, handed
  to DuckDB as constants, so both evaluators share one rule.
* Calendar schedules fire on the dates of the `calendar` table whose kind and/or name
  match (compared without regard to case) and whose region is empty or the
  customer's; each matching entry is one occasion (key `date:name`), with
  `calendar.name` and `calendar.kind` as facts.
* Complaints and host events fire once per row dated in the range (key: its id);
  `as_of` is the business date of its timestamp, and the customer's facts are those
  after every receipt up to that moment (receipts at the same instant count first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlglot import exp

from ..conditions.sql import sql_value
from ..conditions.types import DATE
from ..model import ScheduleTrigger
from ..plan import CompiledPolicy, Plan
from .contexts import record_columns, state_columns
from .dates import dates_in
from .history import history_sql

# The row each host trigger reads: its table, id and timestamp, and its own facts.
HOST_TABLES = {
    "complaint": ("complaints", "complaint_id", "received_at",
                  ("complaint_id", "store_id", "channel", "topic", "severity")),
    "event": ("events", "event_id", "occurred_at", ("event_id", "kind", "store_id")),
}


def date_list(trigger: ScheduleTrigger, start: dt.date, end: dt.date) -> exp.Expr:
    """The rule's dates in the range as a DuckDB list of DATE constants."""
    return listed_dates(dates_in(trigger, start, end))


def listed_dates(days: Iterable[dt.date]) -> exp.Expr:
    """Dates as a DuckDB list of DATE constants."""
    constants = [sql_value(d, DATE) for d in days]
    return exp.Array(expressions=constants) if constants else exp.cast(exp.Array(), "DATE[]")


def rule_dates_sql(trigger: ScheduleTrigger, start: dt.date, end: dt.date) -> str:
    """SELECT as_of FROM the rule's dates in the range."""
    return dates_sql(dates_in(trigger, start, end))


def dates_sql(days: Iterable[dt.date]) -> str:
    """SELECT as_of FROM the given dates."""
    return f"SELECT CAST(unnest({listed_dates(days).sql('duckdb')}) AS DATE) AS as_of"


def _lowered(values: tuple[str, ...]) -> str:
    return ", ".join(exp.Literal.string(v.lower()).sql("duckdb") for v in values)


def calendar_filter(trigger: ScheduleTrigger, alias: str = "k") -> str:
    """The calendar rows of the trigger's kinds and/or names (any region yet)."""
    match = trigger.calendar
    assert match is not None
    tests = ["TRUE"]
    if match.kinds:
        tests.append(f"lower({alias}.kind) IN ({_lowered(match.kinds)})")
    if match.names:
        tests.append(f"lower({alias}.name) IN ({_lowered(match.names)})")
    return " AND ".join(tests)


def calendar_days_sql(trigger: ScheduleTrigger) -> str:
    """Distinct matching calendar entries dated in [:a, :b]: (date, name, kind, region)."""
    return f"""SELECT DISTINCT k.date AS as_of, k.name, k.kind, k.region FROM calendar AS k
               WHERE k.date BETWEEN :a AND :b AND k.name IS NOT NULL
                 AND {calendar_filter(trigger)}"""


def calendar_context(trigger: ScheduleTrigger, context: str) -> str:
    """The schedule context joined to its calendar entries: one row per entry whose
    region is empty or the customer's. Several kinds for one (date, name) are one
    occasion: the kind shown is the first in order."""
    return f"""
SELECT ctx.*, k.name AS "calendar.name", k.kind AS "calendar.kind" FROM ({context}) AS ctx
JOIN (SELECT as_of, name, min(kind) AS kind, region FROM ({calendar_days_sql(trigger)})
      GROUP BY as_of, name, region) AS k
  ON k.as_of = ctx.as_of AND (k.region IS NULL OR k.region = ctx."customer.region")
QUALIFY row_number() OVER (PARTITION BY ctx.customer_id, ctx.as_of, k.name
                           ORDER BY k.region NULLS LAST) = 1
"""


NO_CALENDAR = """SELECT *, CAST(NULL AS VARCHAR) AS "calendar.name",
       CAST(NULL AS VARCHAR) AS "calendar.kind" FROM ({context})"""


def host_rows_sql(kind: str, policy: CompiledPolicy) -> str:
    """The trigger's rows of a known customer dated in [:a, :b] (events: of its kinds)."""
    table, _key, at, _facts = HOST_TABLES[kind]
    where = f"x.customer_id IS NOT NULL AND CAST(x.{at} AS DATE) BETWEEN :a AND :b"
    if kind == "event":
        kinds = policy.spec.trigger.kinds  # type: ignore[union-attr]
        where += f" AND lower(x.kind) IN ({_lowered(kinds)})"
    return f"SELECT * FROM {table} AS x WHERE {where}"


def host_context(plan: Plan, kind: str, policy: CompiledPolicy) -> str:
    """One row per complaint or event: its facts, the customer's as of its moment
    (receipts later that day are not counted yet)."""
    _table, key, at, facts = HOST_TABLES[kind]
    state, joins = state_columns(history_sql(plan), "customer", "c", "s", "ly",
                                 f"CAST(x.{at} AS DATE)", moment=True)
    own = ", ".join(f'x.{f} AS "{kind}.{f}"' for f in facts)
    store = "coalesce(x.store_id, c.home_store, s.positive_store, s.store_id)"
    return f"""
SELECT x.customer_id, CAST(x.{at} AS DATE) AS as_of, x.{at} AS lr_at, x.{key} AS lr_ref,
    {store} AS scope_store, coalesce(st.region, c.region) AS scope_region,
    c.home_store AS cust_store, c.region AS cust_region,
    CAST(x.{at} AS DATE) AS "as_of", {own},
    CAST(x.{at} AS DATE) AS "{kind}.date", CAST(hour(x.{at}) AS BIGINT) AS "{kind}.hour",
    {record_columns("customer", "c")}{state}
FROM ({host_rows_sql(kind, policy)}) AS x
JOIN lr_customers AS c ON c.customer_id = x.customer_id
ASOF LEFT JOIN lr_moments AS s ON s.customer_id = x.customer_id AND x.{at} >= s.purchased_at
LEFT JOIN lr_years AS ly ON ly.customer_id = x.customer_id AND ly.year = year(x.{at}) - 1
LEFT JOIN stores AS st ON st.store_id = {store}
{joins}
"""


# The state after each distinct moment of a customer's receipts (the last receipt of
# that instant in event order), for host events dated between receipts.
MOMENTS = """
CREATE OR REPLACE TEMP VIEW lr_moments AS
SELECT * FROM lr_events
QUALIFY row_number() OVER (PARTITION BY customer_id, purchased_at ORDER BY seq DESC) = 1
"""


def occasion_table(trigger: object) -> str | None:
    """The input table a trigger's occasions come from, beyond receipts, if any."""
    kind = getattr(trigger, "kind", None)
    if kind in HOST_TABLES:
        return HOST_TABLES[str(kind)][0]
    return "calendar" if getattr(trigger, "every", None) == "calendar" else None


def host_scope_sql(kind: str) -> str:
    table, _key, at, _facts = HOST_TABLES[kind]
    return (f"SELECT customer_id FROM {table} WHERE customer_id IS NOT NULL "
            f"AND CAST({at} AS DATE) BETWEEN :a AND :b")


__all__ = ["HOST_TABLES", "MOMENTS", "NO_CALENDAR", "calendar_context", "calendar_days_sql",
           "date_list", "host_context", "host_scope_sql", "occasion_table", "rule_dates_sql"]
