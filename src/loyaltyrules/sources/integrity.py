"""Checks across rows and tables: duplicates, receipts from lines, references.

Each step reads and rewrites `_ok_<table>`, and writes a reject record for every row
it drops (error) or repairs (warning).
"""

from __future__ import annotations

import duckdb

from loyaltyrules.inputs import MONEY_LIMIT
from loyaltyrules.sources.checks import ids_map
from loyaltyrules.sources.sql import ident, lit, scalars
from loyaltyrules.sources.tables import PURCHASE_LINES, PURCHASES, SPECS, TableSpec

_RECEIPT_FIELDS = ("customer_id", "store_id", "staff_id", "currency", "return_of")


def _reject(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    where: str,
    column: str,
    reason: str,
    severity: str,
    source: str | None = None,
) -> None:
    source = source or f"_ok_{spec.name}"
    con.execute(
        f"""INSERT INTO rejects (table_name, file, "row", column_name, reason, severity, ids)
            SELECT {lit(spec.name)}, _file, _row, {lit(column)}, {lit(reason)},
                   {lit(severity)}, {ids_map(spec)}
            FROM {ident(source)} WHERE {where}"""
    )


def dedupe(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> int:
    """Same key, same content: keep the first copy. Same key, other content: reject all.

    Returns the number of identical copies collapsed (counted, not rejected). A table
    without a repeated key is left as it is (most are: this saves three statements).
    """
    if spec.key is None:
        return 0
    ok, key = ident(f"_ok_{spec.name}"), ident(spec.key)
    content = ", ".join(ident(c) for c in spec.names)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _dupes AS
            SELECT {key} AS k, count(DISTINCT struct_pack({content})) > 1 AS conflict,
                   count(*) - 1 AS extra
            FROM {ok} GROUP BY {key} HAVING count(*) > 1"""
    )
    repeated, extra = scalars(
        con, "SELECT count(*), sum(extra) FILTER (WHERE NOT conflict) FROM _dupes")
    if not repeated:
        return 0
    conflict = f"{key} IN (SELECT k FROM _dupes WHERE conflict)"
    _reject(con, spec, conflict, spec.key, "duplicate-conflict", "error")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {ok} AS
            SELECT * FROM {ok} WHERE NOT ({conflict})
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _file, _row) = 1"""
    )
    return extra


def build_receipts(con: duckdb.DuckDBPyConnection) -> None:
    """Sum purchase lines into receipts: amount = sum(quantity * unit_price).

    A receipt whose lines disagree on a receipt field is rejected line by line; a
    receipt that lost a line to a row check is rejected whole, since its amount would
    be wrong. purchased_at is the earliest line's (real exports straddle a minute).
    Lines are bounded (inputs.py), so the products and their sum are exact in
    DECIMAL(38,6); a total beyond the money limit is a bad amount.
    """
    lines = PURCHASE_LINES
    _receipt_conflicts(con)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ok_purchases AS
            SELECT purchase_id, {", ".join(f"first({c}) AS {c}" for c in _RECEIPT_FIELDS)},
                   min(purchased_at) AS purchased_at,
                   TRY_CAST(sum(CAST(quantity AS DECIMAL(38,3)) * unit_price)
                            AS DECIMAL(18,3)) AS amount,
                   first(_file ORDER BY _file, _row) AS _file,
                   first(_row ORDER BY _file, _row) AS _row,
                   bool_or(purchase_id IN (SELECT purchase_id FROM _typed_purchase_lines
                                           WHERE _drop)) AS _incomplete
            FROM _ok_{lines.name} GROUP BY purchase_id"""
    )
    _reject(con, PURCHASES, "_incomplete", "purchase_id", "incomplete-receipt", "error")
    too_large = f"(amount IS NULL OR abs(amount) >= {MONEY_LIMIT})"
    _reject(con, PURCHASES, f"NOT _incomplete AND {too_large}", "amount", "bad-amount", "error")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ok_purchases AS SELECT * EXCLUDE (_incomplete)
                    FROM _ok_purchases WHERE NOT _incomplete AND NOT {too_large}""")


def _receipt_conflicts(con: duckdb.DuckDBPyConnection) -> None:
    checks = ", ".join(
        f"CASE WHEN count(DISTINCT coalesce({c}, chr(0))) > 1 THEN {lit(c)} END"
        for c in _RECEIPT_FIELDS
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _conflicts AS
            SELECT purchase_id, coalesce({checks}) AS field
            FROM _ok_purchase_lines GROUP BY purchase_id
            HAVING field IS NOT NULL"""
    )
    con.execute(
        f"""INSERT INTO rejects (table_name, file, "row", column_name, reason, severity, ids)
            SELECT 'purchase_lines', l._file, l._row, c.field, 'receipt-conflict', 'error',
                   {ids_map(PURCHASE_LINES, "l.")}
            FROM _ok_purchase_lines l JOIN _conflicts c USING (purchase_id)"""
    )
    con.execute("""DELETE FROM _ok_purchase_lines
                   WHERE purchase_id IN (SELECT purchase_id FROM _conflicts)""")


def drop_unknown(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    column: str,
    target: str,
    target_key: str,
    reason: str,
) -> None:
    """Reject rows whose reference names nothing in the clean `target` table."""
    where = (
        f"{ident(column)} IS NOT NULL AND {ident(column)} NOT IN "
        f"(SELECT {ident(target_key)} FROM {ident(target)})"
    )
    _reject(con, spec, where, column, reason, "error")
    con.execute(f"DELETE FROM {ident('_ok_' + spec.name)} WHERE {where}")


def clear_unknown(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, column: str, where: str, reason: str
) -> None:
    """Keep the row, clear the column, and leave a warning saying so."""
    _reject(con, spec, where, column, reason, "warning")
    con.execute(f"UPDATE {ident('_ok_' + spec.name)} SET {ident(column)} = NULL WHERE {where}")


def check_customers(con: duckdb.DuckDBPyConnection, has_stores: bool) -> None:
    spec = SPECS["customers"]
    if has_stores:
        clear_unknown(
            con,
            spec,
            "home_store",
            "home_store IS NOT NULL AND home_store NOT IN (SELECT store_id FROM _ok_stores)",
            "unknown-store",
        )
    clear_unknown(con, spec, "referred_by", "referred_by = customer_id", "self-referral")
    clear_unknown(
        con,
        spec,
        "referred_by",
        "referred_by IS NOT NULL AND referred_by NOT IN (SELECT customer_id FROM _ok_customers)",
        "unknown-referrer",
    )


def check_purchases(con: duckdb.DuckDBPyConnection, has_stores: bool) -> None:
    spec = PURCHASES
    drop_unknown(con, spec, "customer_id", "_ok_customers", "customer_id", "unknown-customer")
    if has_stores:
        drop_unknown(con, spec, "store_id", "_ok_stores", "store_id", "unknown-store")
    clear_unknown(
        con,
        spec,
        "return_of",
        "return_of IS NOT NULL AND return_of NOT IN (SELECT purchase_id FROM _ok_purchases)",
        "unknown-return",
    )
    _reject(con, spec, "amount = 0", "amount", "zero-amount", "warning")
