"""percentile_in and abc_class: a customer's place among everyone (DESIGN section 2b).

For each date a policy's candidates are on, every customer's metric at the end of
that date comes from the schedule context (the population, not only the candidates),
and window functions over (date, partition) give:

* percentile_in(customer.m, P) = 100 x (customers of P with m strictly lower) /
  (customers of P with m present), truncated to 3 places; missing m, missing;
* abc_class(customer.m, P): with S the sum of the positive m of P and G the sum of m
  over the customers of P whose m is strictly greater, m > 0 is A when G < 80% of S,
  B when G < 95% of S, else C; m <= 0 or missing is C. Ties share a value and a class.

P is the customer's region, home store (missing home store: missing value) or the
franchise. Next to each value, the figures `explain` shows as its cut-off: how many
customers are below and how many count (percentiles), the lowest m of class A and of
class B (classes). Nothing here is user text: metric names are identifiers of the
metrics file's pattern, partitions one of three words.
"""

from __future__ import annotations

from sqlglot import exp

from ..metrics.sql import column, empty_value, metric_sql, values_at
from ..plan import CompiledPolicy, Plan
from ..sqltrees import parse
from .triggers import schedule_relation, segment_keys

PARTITION_COLUMNS = {"region": '"customer.region"', "store": '"customer.home_store"',
                     "franchise": "'franchise'"}
# The figures beside each value, for explain: (suffix, meaning).
DETAILS = {"percentile_in": ("below", "count"), "abc_class": ("a_from", "b_from")}

_PERCENTILE = """CASE WHEN {m} IS NOT NULL AND {p} IS NOT NULL THEN
    CAST(CAST((100000 * (rank() OVER (PARTITION BY as_of, {p} ORDER BY {m} ASC NULLS LAST) - 1))
              // count({m}) OVER (PARTITION BY as_of, {p}) AS DECIMAL(38, 0))
         * CAST('0.001' AS DECIMAL(4, 3)) AS DECIMAL(18, 3)) END"""
_BELOW = """CASE WHEN {m} IS NOT NULL AND {p} IS NOT NULL THEN
    rank() OVER (PARTITION BY as_of, {p} ORDER BY {m} ASC NULLS LAST) - 1 END"""
_COUNT = "CASE WHEN {p} IS NOT NULL THEN count({m}) OVER (PARTITION BY as_of, {p}) END"
_ABC = """CASE WHEN {p} IS NULL THEN NULL WHEN {m} IS NULL OR {m} <= 0 THEN 'C'
    WHEN 5 * {g} < 4 * {s} THEN 'A' WHEN 20 * {g} < 19 * {s} THEN 'B' ELSE 'C' END"""
_TOTAL = "sum({m}) FILTER (WHERE {m} > 0) OVER (PARTITION BY as_of, {p})"
# The spend above the customer's: down to theirs, less theirs and their equals' (no
# EXCLUDE GROUP, which Spark lacks and would drop, counting the equals as above).
_ABOVE = """coalesce(sum({m}) OVER (PARTITION BY as_of, {p} ORDER BY {m} DESC NULLS LAST
    RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    - sum({m}) OVER (PARTITION BY as_of, {p}, {m}), 0)"""
_LOWEST = "min({m}) FILTER (WHERE \"{key}\" = '{cls}') OVER (PARTITION BY as_of, {p})"


def _parts(key: str) -> tuple[str, str, str]:
    function, partition, path = key.split(":", 2)
    return function, PARTITION_COLUMNS[partition], f'"{path}"'


def _first_level(key: str) -> list[str]:
    function, p, m = _parts(key)
    if function == "percentile_in":
        return [f'{_PERCENTILE.format(m=m, p=p)} AS "{key}"',
                f'{_BELOW.format(m=m, p=p)} AS "{key}#below"',
                f'{_COUNT.format(m=m, p=p)} AS "{key}#count"']
    total, above = _TOTAL.format(m=m, p=p), _ABOVE.format(m=m, p=p)
    return [f'{_ABC.format(m=m, p=p, g=above, s=total)} AS "{key}"']


def _second_level(key: str) -> list[str]:
    function, p, m = _parts(key)
    if function == "percentile_in":
        return [f'"{key}"', f'"{key}#below"', f'"{key}#count"']
    return [f'"{key}"'] + [
        f'CASE WHEN {p} IS NOT NULL THEN {_LOWEST.format(m=m, p=p, key=key, cls=c)} END '
        f'AS "{key}#{c.lower()}_from"' for c in ("A", "B")]


# Every customer's partitions and metrics at the end of a few dates, straight from the
# receipts (metrics/sql.py values_at), without the running-value history.
_DIRECT = """
WITH lr_population_dates AS ({dates})
SELECT c.customer_id, d.as_of, c.region AS "customer.region",
       c.home_store AS "customer.home_store"{metrics}
FROM lr_customers AS c {join}
LEFT JOIN ({values}) AS v ON v.customer_id = c.customer_id AND v.as_of = d.as_of
"""


def _direct_metric(plan: Plan, name: str) -> str:
    """A metric over the aggregates `v.m_<name>` (none: the empty value), the record
    `c` and the date `d.as_of`."""
    def aggregate(name: str) -> exp.Expression:
        metric = plan.metrics[name]
        return exp.maybe_parse(f"coalesce(v.{column(metric)}, {empty_value(metric)})",
                               dialect="duckdb")

    sql = metric_sql(plan.metrics, name, aggregate, lambda f: exp.column(f, table="c"),
                     exp.column("as_of", table="d"))
    return f',\n       {sql.sql("duckdb")} AS "customer.{name}"'


def direct_values(plan: Plan, names: list[str], dates: str,
                  join: str = "CROSS JOIN lr_population_dates AS d") -> str:
    """SELECT of every customer's region, home store and named metrics ("customer.<name>")
    at the end of each date of `dates` (a query's text, column as_of), straight from the
    receipts."""
    days = "(SELECT DISTINCT as_of FROM lr_population_dates)"
    return _DIRECT.format(dates=dates, join=join,
                          metrics="".join(_direct_metric(plan, n) for n in names),
                          values=values_at(plan.metrics, names, days))


# Stand-ins for the relations population() puts in as trees: the text around them is
# the same for every policy reading the same keys, so it is parsed once (sqltrees.py),
# and the relations, large, are neither written out as text nor parsed back.
_DATES_STAND_IN = "SELECT * FROM lr_dates_stand_in"
_CONTEXT_STAND_IN = "lr_population_stand_in"


def population(plan: Plan, keys: list[str], dates: exp.Query,
               partition: str | None = None, *, direct: bool = True) -> exp.Query:
    """(customer_id, as_of, each key and its figures) for every customer on `dates`.

    With `partition` (a customer-record column: home_store or region), `dates` holds
    (as_of, part) pairs and only the customers whose column is `part` on that date
    count: a class or percentile is computed within its partition, so the others
    change nothing. `direct`: the metrics straight from the receipts, one scan per
    date (a short range, or explain); otherwise from the history tables, which must
    hold every customer (a long range, where a scan per date would cost more)."""
    join = ("CROSS JOIN lr_population_dates AS d" if partition is None
            else f"JOIN lr_population_dates AS d ON c.{partition} = d.part")
    if direct:
        names = list(dict.fromkeys(k.split(":", 2)[2].removeprefix("customer.") for k in keys))
        context = f"({direct_values(plan, names, _DATES_STAND_IN, join)}) AS lr_population"
    else:
        context = _CONTEXT_STAND_IN
    first = ", ".join(c for key in keys for c in _first_level(key))
    second = ", ".join(c for key in keys for c in _second_level(key))
    tree = parse(f"SELECT customer_id, as_of, {second} FROM "
                 f"(SELECT *, {first} FROM {context}) AS lr_ranked")
    assert isinstance(tree, exp.Query)
    if direct:
        stand_in = next(c for c in tree.find_all(exp.CTE) if c.alias == "lr_population_dates")
        stand_in.set("this", dates)
    else:
        candidates = parse(f"SELECT c.customer_id, d.as_of FROM lr_customers AS c {join}")
        assert isinstance(candidates, exp.Select)
        candidates = candidates.with_("lr_population_dates", as_=dates, copy=False)
        relation = schedule_relation(plan, candidates).subquery("lr_population", copy=False)
        next(t for t in tree.find_all(exp.Table) if t.name == _CONTEXT_STAND_IN).replace(relation)
    return tree


def with_segments(plan: Plan, policy: CompiledPolicy, relation: exp.Query,
                  narrowing: exp.Expr | None = None, *, direct: bool = True) -> exp.Query:
    """The candidates with each percentile_in / abc_class column the policy reads.

    `narrowing` is a test every kept candidate must pass anyway (the policy's gates and
    the conditions that read no segment). The candidates are narrowed by it first, and
    the population is ranked only on the dates, and within the partitions, of those
    left: a pre-season call on two dates of a year ranks two days, not 365, and a card
    after a big purchase ranks the buyer's home store on the day, not every store.
    `direct`: see population."""
    keys = segment_keys(policy)
    if not keys:
        return relation
    if narrowing is not None:
        relation = (exp.select("*").from_(relation.subquery("lr_narrowed", copy=False),
                                          copy=False).where(narrowing, copy=False))
    partition = _shared_partition(keys)
    fields = ["as_of"] if partition is None else ["as_of", f'"customer.{partition}" AS part']
    dates = exp.select(*fields).distinct().from_(relation.copy().subquery("lr_dates"))
    segments = population(plan, keys, dates, partition, direct=direct).subquery("lr_segments")
    base = relation.subquery("lr_candidates_base", copy=False)
    on = "lr_candidates_base.customer_id = lr_segments.customer_id " \
        "AND lr_candidates_base.as_of = lr_segments.as_of"
    cols = [exp.column(exp.to_identifier(name, quoted=True), table="lr_segments")
            for key in keys for name in [key, *(f"{key}#{d}" for d in
                                               DETAILS[key.split(":", 1)[0]])]]
    return (exp.select("lr_candidates_base.*", *cols)
            .from_(base).join(segments, on=on, join_type="left"))


# The customer-record column of each partition that can narrow the population.
RECORD_PARTITIONS = {"store": "home_store", "region": "region"}


def _shared_partition(keys: list[str]) -> str | None:
    """The record column of the partition every key ranks in, if they share one."""
    found = {key.split(":", 2)[1] for key in keys}
    if len(found) != 1:
        return None
    return RECORD_PARTITIONS.get(found.pop())
