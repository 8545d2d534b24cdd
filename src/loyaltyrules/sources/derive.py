"""`derive_from`: build a customers table from the purchase rows when none is given.

One customer per distinct customer_id; each other mapped column takes the customer's
most frequent non-empty value (ties: the smallest), e.g. region from a Country column.
"""

from __future__ import annotations

import duckdb

from loyaltyrules.config import SourceConfig
from loyaltyrules.sources.checks import FLOAT_ID
from loyaltyrules.sources.errors import UnusableInput
from loyaltyrules.sources.readers import SourceTable
from loyaltyrules.sources.sql import ident, lit, scalars
from loyaltyrules.sources.tables import CUSTOMERS


def derive_customers(
    con: duckdb.DuckDBPyConnection, config: SourceConfig, origin: str, srcs: dict[str, SourceTable]
) -> SourceTable:
    if origin not in srcs:
        raise UnusableInput(
            "input.missing-table", "customers are derived from a missing table", table=origin
        )
    src = srcs[origin]
    mapping = dict(config.table("customers").columns)
    id_col = mapping.pop("customer_id", None) or config.table(origin).columns.get(
        "customer_id", "customer_id"
    )
    for canonical, name in {"customer_id": id_col, **mapping}.items():
        if name not in src.columns or canonical not in CUSTOMERS.names:
            raise UnusableInput(
                "input.missing-column",
                f"cannot derive customers from {name!r}",
                table="customers",
                column=canonical,
            )
    picks = [_most_frequent(canonical) for canonical in mapping]
    fields = "".join(f", NULLIF(trim({ident(n)}), '') AS {ident(c)}" for c, n in mapping.items())
    joins = "".join(f" LEFT JOIN {p} USING (customer_id)" for p in picks)
    chosen = "".join(f", {ident(c)}" for c in mapping)
    con.execute(
        f"""CREATE OR REPLACE TABLE _src_customers AS
        WITH base AS (
            SELECT _file, _row, regexp_replace(NULLIF(trim({ident(id_col)}), ''),
                   {lit(FLOAT_ID)}, '\\1') AS customer_id{fields}
            FROM {ident("_src_" + origin)}),
        firsts AS (
            SELECT customer_id, first(_file ORDER BY _file, _row) AS _file,
                   first(_row ORDER BY _file, _row) AS _row
            FROM base WHERE customer_id IS NOT NULL GROUP BY customer_id)
        {"".join(f", {_most_frequent_cte(c)}" for c in mapping)}
        SELECT _file, _row, customer_id{chosen} FROM firsts{joins}
        ORDER BY _file, _row"""
    )
    (count,) = scalars(con, "SELECT count(*) FROM _src_customers")
    return SourceTable("customers", ("customer_id", *mapping), count)


def _most_frequent(column: str) -> str:
    return ident(f"_pick_{column}")


def _most_frequent_cte(column: str) -> str:
    c = ident(column)
    return (
        f"{_most_frequent(column)} AS (SELECT customer_id, first(v ORDER BY n DESC, v) AS {c}"
        f" FROM (SELECT customer_id, {c} AS v, count(*) AS n FROM base"
        f" WHERE customer_id IS NOT NULL AND {c} IS NOT NULL GROUP BY ALL)"
        f" GROUP BY customer_id)"
    )
