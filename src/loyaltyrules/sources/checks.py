"""Row checks: map source columns to canonical ones, type them in SQL, list problems.

Every value is read as text and typed with TRY_CAST, so a bad value is a problem
record for its row, never an exception. `_typed_<table>` keeps all rows with a
`_problems` list and a `_drop` flag (an error-severity problem); `_ok_<table>` keeps
the rows that survive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from loyaltyrules.config import TableConfig
from loyaltyrules.inputs import OFFSET
from loyaltyrules.sources.errors import UnusableInput
from loyaltyrules.sources.readers import SourceTable
from loyaltyrules.sources.sql import ident, lit
from loyaltyrules.sources.tables import LIMITS, SQL_TYPES, Column, TableSpec

_ISO_DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ].*)?$"
FLOAT_ID = r"^(-?[0-9]+)\.0+$"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
# Calendar rows name future holidays on purpose.
_NO_FUTURE_CHECK = {("calendar", "date")}


@dataclass(frozen=True)
class CheckContext:
    as_of_limit: date | None
    currency: str | None


def project(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, src: SourceTable, cfg: TableConfig
) -> None:
    """`_raw_<table>`: canonical names, trimmed text, empty text as NULL."""
    fields = [_source_expr(spec, col, src, cfg) + f" AS {ident(col.name)}" for col in spec.columns]
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {ident('_raw_' + spec.name)} AS "
        f"SELECT _file, _row, {', '.join(fields)} FROM {ident('_src_' + src.table)}"
    )


def _source_expr(spec: TableSpec, col: Column, src: SourceTable, cfg: TableConfig) -> str:
    name = _source_column(spec, col, src, cfg)
    if name is not None:
        text = f"NULLIF(trim({ident(name)}), '')"
        return f"regexp_replace({text}, {lit(FLOAT_ID)}, '\\1')" if col.kind == "id" else text
    if col.name in cfg.defaults:
        return lit(cfg.defaults[col.name])
    if col.required:
        raise UnusableInput(
            "input.missing-column", "a required column is missing", table=spec.name, column=col.name
        )
    return "CAST(NULL AS VARCHAR)"


def _source_column(spec: TableSpec, col: Column, src: SourceTable, cfg: TableConfig) -> str | None:
    if col.name in cfg.columns:
        wanted = cfg.columns[col.name]
        if wanted not in src.columns:
            raise UnusableInput(
                "input.missing-column",
                f"the mapped source column {wanted!r} is missing",
                table=spec.name,
                column=col.name,
            )
        return wanted
    if col.name in src.columns:
        return col.name
    folded = {c.lower(): c for c in src.columns}
    return folded.get(col.name.lower())


def check_rows(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, cfg: TableConfig, ctx: CheckContext
) -> None:
    type_rows(con, spec, cfg, ctx.currency)
    finish_typing(con, spec, ctx.as_of_limit, "_typed_" + spec.name)
    keep_rows(con, spec)


def type_rows(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, cfg: TableConfig, currency: str | None
) -> None:
    """`_typed_<table>`: every row typed, with its problems. The future-date check waits
    for `finish_typing`, so these rows hold for any evaluation limit (sources/ingest.py
    keeps them from night to night)."""
    ctx = CheckContext(None, currency)
    typed = [f"{_typed_expr(spec, c, cfg, ctx)} AS {ident(c.name)}" for c in spec.columns]
    problems = [p for c in spec.columns for p in _problems(spec, c, cfg, ctx)]
    problems += _currency_problem(spec, ctx)
    problems += _line_total_problem(spec, cfg)
    listed = "[" + ", ".join(problems) + "]" if problems else "[]"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {ident("_typed_" + spec.name)} AS
            SELECT _file, _row, {", ".join(typed)},
                   list_filter({listed}, lambda p: p IS NOT NULL) AS _problems
            FROM {ident("_raw_" + spec.name)} r"""
    )


def finish_typing(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, as_of_limit: date | None, source: str
) -> None:
    """`_typed_<table>` from the typed rows in `source`: a date after the limit is a
    `future-date` problem (an optional one is cleared), and `_drop` marks every row
    with an error."""
    columns = future_columns(spec) if as_of_limit is not None else []
    limit = f"DATE {lit(as_of_limit.isoformat())}" if as_of_limit else ""
    later = {c.name: f"CAST({ident(c.name)} AS DATE) > {limit}" for c in columns}
    found = [_problem(later[c.name], c.name, "'future-date'",
                      "error" if c.required else "warning") for c in columns]
    cleared = [f"CASE WHEN {later[c.name]} THEN NULL ELSE {ident(c.name)} END AS {ident(c.name)}"
               for c in columns if not c.required]
    problems = (f"list_concat(_problems, list_filter([{', '.join(found)}], "
                "lambda p: p IS NOT NULL))" if found else "_problems")
    replaced = f" REPLACE ({', '.join(cleared)})" if cleared else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {ident("_typed_" + spec.name)} AS
            SELECT *, list_contains(list_transform(_problems, lambda p: p.severity),
                                    'error') AS _drop
            FROM (SELECT * EXCLUDE (_problems){replaced}, {problems} AS _problems
                  FROM {source})"""
    )


def future_columns(spec: TableSpec) -> list[Column]:
    """The dates a row may not have after the evaluation limit."""
    return [c for c in spec.columns if c.kind in ("timestamp", "date")
            and (spec.name, c.name) not in _NO_FUTURE_CHECK]


def keep_rows(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> None:
    """Reject records for the problems of `_typed_<table>`; `_ok_<table>` keeps the rest."""
    con.execute(
        f"""INSERT INTO rejects (table_name, file, "row", column_name, reason, severity, ids)
            SELECT {lit(spec.name)}, _file, _row, p.column, p.reason, p.severity, {ids_map(spec)}
            FROM (SELECT *, unnest(_problems) AS p FROM {ident("_typed_" + spec.name)})"""
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ident('_ok_' + spec.name)} AS "
        f"SELECT * EXCLUDE (_problems, _drop) FROM {ident('_typed_' + spec.name)} WHERE NOT _drop"
    )


def ids_map(spec: TableSpec, alias: str = "") -> str:
    """The row's ids for its reject records: only id columns, never personal data."""
    keys = ", ".join(lit(c) for c in spec.id_columns)
    values = ", ".join(f"{alias}{ident(c)}" for c in spec.id_columns)
    return f"MAP([{keys}], [{values}]::VARCHAR[])"


def _parse(col: Column, raw: str, cfg: TableConfig) -> str:
    if col.kind in LIMITS:
        wide = _wide_number(raw, cfg)
        return (
            f"CASE WHEN abs({wide}) < {LIMITS[col.kind]} "
            f"THEN CAST({wide} AS {SQL_TYPES[col.kind]}) END"
        )
    if col.kind == "timestamp":
        iso = f"TRY_CAST(regexp_replace({raw}, {lit(OFFSET)}, '\\1') AS TIMESTAMP)"
        if cfg.timestamp_format:  # ISO 8601 is unambiguous, so it is read as well
            return f"coalesce(try_strptime({raw}, {lit(cfg.timestamp_format)}), {iso})"
        return iso
    if col.kind == "date":
        return f"TRY_CAST({raw} AS DATE)"
    if col.kind == "json":  # a JSON object, kept as its text
        return f"CASE WHEN json_type(TRY_CAST({raw} AS JSON)) = 'OBJECT' THEN {raw} END"
    if col.kind == "bool":
        return (
            f"CASE WHEN lower({raw}) IN ({', '.join(map(lit, _TRUE))}) THEN true "
            f"WHEN lower({raw}) IN ({', '.join(map(lit, _FALSE))}) THEN false END"
        )
    return raw


def _wide_number(raw: str, cfg: TableConfig) -> str:
    """The number in DECIMAL(38,3), wide enough to read any value before bounding it."""
    return f"TRY_CAST({_number_text(raw, cfg)} AS DECIMAL(38,3))"


def _number_text(raw: str, cfg: TableConfig) -> str:
    """Configured separators (`1,999.00`, `1.999,00`) to plain notation; text that does
    not follow them exactly (digits grouped by three) reads as no number."""
    if cfg.plain_numbers:
        return raw
    point, group = f"[{cfg.decimal_separator}]", cfg.thousands_separator
    whole = f"[0-9]+|[0-9]{{1,3}}([{group}][0-9]{{3}})+" if group else "[0-9]+"
    pattern = f"[+-]?({whole})({point}[0-9]+)?"
    plain = f"replace({raw}, {lit(group)}, '')" if group else raw
    if cfg.decimal_separator != ".":
        plain = f"replace({plain}, {lit(cfg.decimal_separator)}, '.')"
    return f"CASE WHEN regexp_full_match({raw}, {lit(pattern)}) THEN {plain} END"


def _is_future(spec: TableSpec, col: Column, value: str, ctx: CheckContext) -> str | None:
    if ctx.as_of_limit is None or col.kind not in ("timestamp", "date"):
        return None
    if (spec.name, col.name) in _NO_FUTURE_CHECK:
        return None
    return f"CAST({value} AS DATE) > DATE {lit(ctx.as_of_limit.isoformat())}"


def _typed_expr(spec: TableSpec, col: Column, cfg: TableConfig, ctx: CheckContext) -> str:
    raw = f"r.{ident(col.name)}"
    value = _parse(col, raw, cfg)
    if col.kind == "bool":
        # an unreadable consent counts as "opted out", never as the default
        return f"CASE WHEN {raw} IS NOT NULL AND ({value}) IS NULL THEN false ELSE {value} END"
    if col.name == "currency":
        return f"coalesce(upper({raw}), {lit(ctx.currency) if ctx.currency else 'NULL'})"
    future = _is_future(spec, col, value, ctx)
    if future and not col.required:
        return f"CASE WHEN {future} THEN NULL ELSE {value} END"
    return value


def _problems(spec: TableSpec, col: Column, cfg: TableConfig, ctx: CheckContext) -> list[str]:
    raw = f"r.{ident(col.name)}"
    value = _parse(col, raw, cfg)
    severity = "error" if col.required else "warning"
    found = []
    if col.required:
        found.append(_problem(f"{raw} IS NULL", col.name, "missing-value", "error"))
    if col.kind in LIMITS:
        found += _number_problems(col, raw, cfg, severity)
    elif value != raw:
        unparsed = f"{raw} IS NOT NULL AND ({value}) IS NULL"
        found.append(_problem(unparsed, col.name, _bad_reason(col, raw), severity))
    future = _is_future(spec, col, value, ctx)
    if future:
        found.append(_problem(future, col.name, "'future-date'", severity))
    return found


def _number_problems(col: Column, raw: str, cfg: TableConfig, severity: str) -> list[str]:
    """Not a number at all, or a number beyond its kind's limit (a barcode as a price)."""
    wide = _wide_number(raw, cfg)
    return [
        _problem(f"{raw} IS NOT NULL AND {wide} IS NULL", col.name, col.reason, severity),
        _problem(f"abs({wide}) >= {LIMITS[col.kind]}", col.name, col.range_reason, severity),
    ]


def _bad_reason(col: Column, raw: str) -> str:
    """2023-02-30 is an impossible date; 'soon' is merely unreadable. ISO 8601 is read
    under a custom timestamp_format too, so its impossible days are named as such."""
    if col.kind not in ("timestamp", "date"):
        return lit(col.reason)
    return (
        f"CASE WHEN regexp_matches({raw}, {lit(_ISO_DAY)}) "
        f"AND TRY_CAST(left({raw}, 10) AS DATE) IS NULL "
        f"THEN 'impossible-date' ELSE {lit(col.reason)} END"
    )


def _currency_problem(spec: TableSpec, ctx: CheckContext) -> list[str]:
    if not ctx.currency or "currency" not in spec.names:
        return []
    cond = f"r.currency IS NOT NULL AND upper(r.currency) <> {lit(ctx.currency)}"
    return [_problem(cond, "currency", "'wrong-currency'", "error")]


def _line_total_problem(spec: TableSpec, cfg: TableConfig) -> list[str]:
    """A line's quantity x unit_price is money too, held to the same limit."""
    if spec.name != "purchase_lines":
        return []
    quantity = _parse(spec.column("quantity"), "r.quantity", cfg)  # NULL if bad: named above
    price = _parse(spec.column("unit_price"), "r.unit_price", cfg)
    total = f"abs(CAST({quantity} AS DECIMAL(38,3)) * {price}) >= {LIMITS['money']}"
    return [_problem(total, "unit_price", "bad-amount", "error")]


def _problem(condition: str, column: str, reason_sql: str, severity: str) -> str:
    if not reason_sql.startswith(("'", "CASE")):
        reason_sql = lit(reason_sql)
    return (
        f"CASE WHEN {condition} THEN {{'column': {lit(column)}, 'reason': {reason_sql}, "
        f"'severity': {lit(severity)}}} END"
    )
