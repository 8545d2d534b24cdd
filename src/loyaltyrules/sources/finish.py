"""The clean tables handed to the evaluators, with canonical names and types."""

from __future__ import annotations

import duckdb

from loyaltyrules.sources.sql import ident
from loyaltyrules.sources.tables import SPECS, SQL_TYPES, TableSpec

_CONSENTS = ("consent_sms", "consent_call", "consent_mail", "consent_visit")


def empty_ok_table(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> None:
    """An absent optional table is an empty one, so later SQL can always join it."""
    cols = ", ".join(f"{ident(c.name)} {SQL_TYPES[c.kind]}" for c in spec.columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ident('_ok_' + spec.name)} "
        f"(_file VARCHAR, _row BIGINT, {cols})"
    )


def _plain(spec: TableSpec, alias: str = "") -> list[str]:
    return [
        f"CAST({alias}{ident(c.name)} AS {SQL_TYPES[c.kind]}) AS {ident(c.name)}"
        for c in spec.columns
    ]


def create_clean_tables(
    con: duckdb.DuckDBPyConnection, consent_default: bool, from_lines: bool
) -> None:
    for name in ("stores", "staff", "calendar", "complaints", "events", "outcomes"):
        con.execute(
            f"CREATE OR REPLACE TABLE {name} AS "
            f"SELECT {', '.join(_plain(SPECS[name]))} FROM _ok_{name} ORDER BY _file, _row"
        )
    _customers(con, consent_default)
    _purchases(con)
    lines = ", ".join(_plain(SPECS["purchase_lines"], "l."))
    keep = "WHERE l.purchase_id IN (SELECT purchase_id FROM purchases)" if from_lines else ""
    con.execute(
        f"CREATE OR REPLACE TABLE purchase_lines AS SELECT {lines} "
        f"FROM _ok_purchase_lines l {keep} ORDER BY l._file, l._row"
    )


def _customers(con: duckdb.DuckDBPyConnection, consent_default: bool) -> None:
    default = "true" if consent_default else "false"
    fields = []
    for col in SPECS["customers"].columns:
        name = ident(col.name)
        if col.name == "region":
            fields.append("coalesce(c.region, s.region, 'default') AS region")
        elif col.name in _CONSENTS:
            fields.append(f"coalesce(c.{name}, {default}) AS {name}")
        else:
            fields.append(f"CAST(c.{name} AS {SQL_TYPES[col.kind]}) AS {name}")
    fields += [f"c.{c} IS NOT NULL AS has_{c}" for c in ("address", "phone", "email")]
    con.execute(
        f"""CREATE OR REPLACE TABLE customers AS SELECT {", ".join(fields)}
            FROM _ok_customers c LEFT JOIN _ok_stores s ON s.store_id = c.home_store
            ORDER BY c._file, c._row"""
    )


def _purchases(con: duckdb.DuckDBPyConnection) -> None:
    """Rows in event order (purchased_at, then purchase_id), the order metrics run in."""
    con.execute(
        """CREATE OR REPLACE TABLE purchases AS
           SELECT CAST(purchase_id AS VARCHAR) AS purchase_id,
                  CAST(customer_id AS VARCHAR) AS customer_id,
                  CAST(store_id AS VARCHAR) AS store_id,
                  CAST(staff_id AS VARCHAR) AS staff_id,
                  CAST(purchased_at AS TIMESTAMP) AS purchased_at,
                  CAST(purchased_at AS DATE) AS purchase_date,
                  CAST(amount AS DECIMAL(18,3)) AS amount,
                  CAST(currency AS VARCHAR) AS currency,
                  CAST(return_of AS VARCHAR) AS return_of,
                  (amount < 0 OR return_of IS NOT NULL) AS is_return
           FROM _ok_purchases ORDER BY purchased_at, purchase_id"""
    )
