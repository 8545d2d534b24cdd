"""Generated tests: the Python evaluator and the DuckDB SQL agree on every
well-typed expression (missing values included), constants and values at the edges of
each type's range included, and no input crashes the parser."""

from __future__ import annotations

import functools
import os
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from loyaltyrules.conditions import (
    BOOL,
    DATE,
    DECIMAL,
    DURATION,
    INT,
    STRING,
    Env,
    ExprError,
    Type,
    check,
    compile_python,
    to_sql,
)

FACTS: dict[str, Type] = {
    "purchase.amount": DECIMAL,
    "customer.spend_last_year": DECIMAL,
    "customer.purchase_count": INT,
    "customer.points_this_year": INT,
    "customer.birthday": DATE,
    "as_of": DATE,
    "customer.tier": STRING,
    "customer.region": STRING,
    "customer.consent_sms": BOOL,
    "customer.has_address": BOOL,
}
PARAMS: dict[str, Type] = {
    "n": INT,
    "money": DECIMAL,
    "wait": DURATION,
    "day": DATE,
    "word": STRING,
    "flag": BOOL,
}
# LOYALTYRULES_FUZZ_SCALE=20 runs twenty times the examples (a longer fuzz on demand)
SCALE = int(os.environ.get("LOYALTYRULES_FUZZ_SCALE", "1"))
RANK_KEY = "rank_in_region:customer.spend_last_year"
ENV = Env(FACTS, PARAMS, values={})
SQL_TYPES = {
    BOOL: "BOOLEAN",
    INT: "BIGINT",
    DECIMAL: "DECIMAL(18,3)",
    DATE: "DATE",
    DURATION: "BIGINT",
    STRING: "VARCHAR",
}
KINDS = ("bool", "int", "dec", "date", "dur", "str")
TYPE_OF = {"bool": BOOL, "int": INT, "dec": DECIMAL, "date": DATE, "dur": DURATION, "str": STRING}

# -- expression generator ----------------------------------------------------------
# The edges of each type's range (docs/conditions.md, "Ranges"), as values and literals.
INT_EDGES = [-(2**63), -(2**63) + 1, -1, 0, 1, 2**31, 10**15 - 1, 10**15, 10**16,
             2**63 - 1]
DEC_EDGES = [Decimal(t) for t in ("-999999999999999.999", "-0.001", "0.000", "0.001",
                                  "0.005", "0.500", "999999999999999.999")]
DATE_EDGES = [date(1, 1, 1), date(1, 1, 2), date(9999, 12, 30), date(9999, 12, 31)]
DAY_EDGES = [-999_999_999, -3_652_059, 0, 3_652_059, 999_999_999]
STRING_EDGES = ["", "\x00", "\uffff", "\U0001f600", "Ω"]
small_ints = st.integers(-50, 50) | st.integers(-(10**6), 10**6) | st.sampled_from(INT_EDGES)
decimals = st.integers(-(10**9), 10**9).map(lambda n: Decimal(n).scaleb(-3)) | st.sampled_from(
    DEC_EDGES)
dates = st.dates(date(1900, 1, 1), date(2100, 12, 31)) | st.sampled_from(
    [date(2024, 2, 29), date(2023, 2, 28), date(2024, 2, 28), date(2000, 2, 29), *DATE_EDGES]
)
days = st.integers(-2000, 2000) | st.sampled_from(DAY_EDGES)
words = st.text(alphabet="ab'\"\\ é", max_size=4) | st.sampled_from(STRING_EDGES)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", "\\u0000")
    return '"' + escaped + '"'


def _paths(kind: str) -> list[str]:
    t = TYPE_OF[kind]
    found = [p for p, pt in FACTS.items() if pt == t]
    return found + [f"params.{n}" for n, pt in PARAMS.items() if pt == t]


LEAVES: dict[str, st.SearchStrategy[str]] = {
    "bool": st.sampled_from(["true", "false", *_paths("bool")]),
    "int": small_ints.map(str) | st.sampled_from(_paths("int")),
    "dec": decimals.map(lambda d: f"{d:.3f}") | st.sampled_from(_paths("dec")),
    "date": dates.map(lambda d: f'date("{d.isoformat()}")') | st.sampled_from(_paths("date")),
    "dur": days.map(lambda n: f"{n}d") | st.just("params.wait"),
    "str": words.map(_quote) | st.sampled_from(_paths("str")),
}


@functools.cache
def expr(kind: str, depth: int) -> st.SearchStrategy[str]:
    if depth <= 0:
        return LEAVES[kind]
    sub = lambda k: expr(k, depth - 1)  # noqa: E731
    options = [LEAVES[kind], _ternary(kind, depth), *BUILDERS[kind](sub)]
    return st.one_of(*options)


def _ternary(kind: str, depth: int) -> st.SearchStrategy[str]:
    parts = st.tuples(expr("bool", depth - 1), expr(kind, depth - 1), expr(kind, depth - 1))
    return parts.map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})")


def _op(left: Any, ops: list[str], right: Any) -> st.SearchStrategy[str]:
    return st.tuples(left, st.sampled_from(ops), right).map(lambda t: f"({t[0]} {t[1]} {t[2]})")


def _call(name: str, *args: Any) -> st.SearchStrategy[str]:
    return st.tuples(*args).map(lambda t: f"{name}({', '.join(t)})")


def _num(sub: Any) -> Any:
    return st.one_of(sub("int"), sub("dec"))


def _bools(sub: Any) -> list[st.SearchStrategy[str]]:
    comparable = st.sampled_from(["int", "dec", "date", "dur", "str"])
    compare = comparable.flatmap(
        lambda k: _op(
            _num(sub) if k in ("int", "dec") else sub(k),
            ["==", "!=", "<", "<=", ">", ">="],
            _num(sub) if k in ("int", "dec") else sub(k),
        )
    )
    member = comparable.flatmap(
        lambda k: st.tuples(sub(k), st.lists(sub(k), max_size=3)).map(
            lambda t: f"({t[0]} in [{', '.join(t[1])}])"
        )
    )
    return [
        compare,
        member,
        sub("bool").map(lambda b: f"!{b}"),
        _op(sub("bool"), ["&&", "||"], sub("bool")),
        _op(sub("bool"), ["==", "!="], sub("bool")),
        st.sampled_from([*FACTS, "params.n"]).map(lambda p: f"has({p})"),
        _call("is_birthday", sub("date"), sub("date")),
    ]


def _ints(sub: Any) -> list[st.SearchStrategy[str]]:
    return [
        _op(sub("int"), ["+", "-", "*", "/", "%"], sub("int")),
        sub("int").map(lambda x: f"-{x}"),
        _call("abs", sub("int")),
        _call("floor", sub("dec")),
        st.sampled_from(["year", "month", "day"]).flatmap(lambda f: _call(f, sub("date"))),
        _call("days_between", sub("date"), sub("date")),
        st.lists(sub("int"), max_size=3).map(lambda xs: f"size([{', '.join(xs)}])"),
        st.sampled_from(["min", "max"]).flatmap(lambda f: _call(f, sub("int"), sub("int"))),
        st.just("rank_in_region(customer.spend_last_year)"),
    ]


def _decs(sub: Any) -> list[st.SearchStrategy[str]]:
    return [
        _op(sub("dec"), ["+", "-", "*", "/"], _num(sub)),
        _op(sub("int"), ["+", "-", "*", "/"], sub("dec")),
        sub("dec").map(lambda x: f"-{x}"),
        _call("abs", sub("dec")),
        st.sampled_from(["min", "max"]).flatmap(lambda f: _call(f, sub("dec"), _num(sub))),
    ]


def _dates(sub: Any) -> list[st.SearchStrategy[str]]:
    return [
        _op(sub("date"), ["+", "-"], sub("dur")),
        _op(sub("dur"), ["+"], sub("date")),
        st.sampled_from(["min", "max"]).flatmap(lambda f: _call(f, sub("date"), sub("date"))),
    ]


def _durs(sub: Any) -> list[st.SearchStrategy[str]]:
    return [
        _op(sub("date"), ["-"], sub("date")),
        _op(sub("dur"), ["+", "-"], sub("dur")),
        sub("dur").map(lambda x: f"-{x}"),
        st.sampled_from(["min", "max"]).flatmap(lambda f: _call(f, sub("dur"), sub("dur"))),
    ]


def _strs(sub: Any) -> list[st.SearchStrategy[str]]:
    return [_op(sub("str"), ["+"], sub("str"))]


BUILDERS = {"bool": _bools, "int": _ints, "dec": _decs, "date": _dates, "dur": _durs, "str": _strs}

VALUES: dict[Type, st.SearchStrategy[Any]] = {
    BOOL: st.booleans(),
    INT: small_ints,
    DECIMAL: decimals,
    DATE: dates,
    DURATION: days.map(lambda n: timedelta(days=n)),
    STRING: words,
}


def _maybe(t: Type) -> st.SearchStrategy[Any]:
    return st.none() | VALUES[t]


fact_values = st.fixed_dictionaries(
    {**{p: _maybe(t) for p, t in FACTS.items()}, RANK_KEY: st.none() | st.integers(1, 5)}
)
param_values = st.fixed_dictionaries({n: _maybe(t) for n, t in PARAMS.items()})

# -- running the SQL -----------------------------------------------------------------
COLUMNS = [(p, t) for p, t in FACTS.items()] + [(RANK_KEY, INT)]
COLUMNS += [(f"params.{n}", t) for n, t in PARAMS.items()]
NAMES = {path: f"c{i}" for i, (path, _) in enumerate(COLUMNS)}


@pytest.fixture(scope="module")
def con() -> Any:
    connection = duckdb.connect()
    yield connection
    connection.close()


def _sql_value(value: Any) -> Any:
    return value.days if isinstance(value, timedelta) else value


def run_sql(con: Any, sql: exp.Expression, facts: dict[str, Any], params: dict[str, Any]) -> Any:
    row = ", ".join(f"CAST(? AS {SQL_TYPES[t]}) AS {NAMES[p]}" for p, t in COLUMNS)
    query = f"SELECT {sql.sql(dialect='duckdb')} FROM (SELECT {row})"
    values = [
        _sql_value(params[p[len("params.") :]] if p.startswith("params.") else facts[p])
        for p, _ in COLUMNS
    ]
    return con.execute(query, values).fetchone()[0]


def _norm(value: Any, t: Type) -> Any:
    if value is None:
        return None
    if t == DURATION:
        return value.days if isinstance(value, timedelta) else int(value)
    if t == BOOL:
        return ("bool", bool(value))
    if t == DECIMAL:
        return Decimal(value)
    return value


def _compile(text: str) -> Any:
    checked = check(text, ENV)
    # refused by design: an int constant of 10^15 or more used as a decimal, and the
    # negation of the smallest int literal (`--9223372036854775808`) folded to a constant
    assume(all(e.code not in ("expr.out-of-range", "expr.bad-number") for e in checked.errors))
    assert checked.ok, (text, checked.errors)
    return checked


@settings(max_examples=350 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(KINDS).flatmap(lambda k: st.tuples(st.just(k), expr(k, 3))),
    facts=fact_values,
    params=param_values,
)
def test_python_and_sql_agree(
    con: Any, kind: tuple[str, str], facts: dict[str, Any], params: dict[str, Any]
) -> None:
    _, text = kind
    checked = _compile(text)
    python = compile_python(checked)(facts, params)
    sql = to_sql(
        checked, lambda p: exp.column(NAMES[p]), lambda n: exp.column(NAMES[f"params.{n}"])
    )
    got = run_sql(con, sql, facts, params)
    assert _norm(python, checked.type) == _norm(got, checked.type), (text, sql.sql("duckdb"))


@settings(max_examples=100 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=expr("bool", 2), facts=fact_values, params=param_values)
def test_condition_wrapper_treats_missing_as_false(
    con: Any, text: str, facts: dict[str, Any], params: dict[str, Any]
) -> None:
    checked = _compile(text)
    holds = compile_python(checked).holds(facts, params)
    sql = to_sql(
        checked,
        lambda p: exp.column(NAMES[p]),
        lambda n: exp.column(NAMES[f"params.{n}"]),
        condition=True,
    )
    assert run_sql(con, sql, facts, params) is holds


# -- robustness ----------------------------------------------------------------------
TOKENS = st.sampled_from(
    [
        "customer.tier",
        "purchase.amount",
        "params.n",
        "as_of",
        "(",
        ")",
        "[",
        "]",
        ",",
        ".",
        "&&",
        "||",
        "!",
        "==",
        "<",
        ">=",
        " in ",
        "+",
        "-",
        "*",
        "/",
        "%",
        "?",
        ":",
        "7d",
        "1.5",
        "12",
        '"x"',
        "'y",
        "\\",
        "true",
        "null",
        "has(",
        "min(",
        "date(",
        "x.size()",
        " ",
    ]
)
noise = st.lists(TOKENS, max_size=40).map("".join) | st.text(max_size=200)


@settings(max_examples=400, deadline=None)
@given(text=noise)
def test_random_text_only_raises_expr_errors(text: str) -> None:
    started = time.perf_counter()
    try:
        checked = check(text, ENV, want_bool=True)
    except ExprError:  # pragma: no cover - check() returns errors, it should not raise
        raise AssertionError("check() raised instead of returning errors") from None
    for err in checked.errors:
        assert isinstance(err, ExprError)
        assert 0 <= err.offset <= err.end <= max(len(text), 2000)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "text",
    [
        "(" * 5000,
        "!" * 1999,
        "-" * 1999 + "1",
        "1+" * 999 + "1",
        "[" * 1000,
        '"' + "a" * 1998,
        "min(" * 500,
        "a." * 999 + "b",
        "x" * 2001,
    ],
)
def test_hostile_inputs_fail_fast(text: str) -> None:
    started = time.perf_counter()
    checked = check(text, ENV, want_bool=True)
    assert checked.errors
    assert time.perf_counter() - started < 1.0
