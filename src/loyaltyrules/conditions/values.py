"""Runtime values, the range of each type, and the exact arithmetic of the Python
evaluator.

Every type has one range, the same for literals, params, overrides and results
(docs/conditions.md, "Ranges"), chosen so that both evaluators hold every value:

* int: 64-bit, -2**63 .. 2**63 - 1 (SQL BIGINT);
* decimal: at most 3 places, magnitude below 10**15 (SQL DECIMAL(18,3)); every
  decimal result is rounded half away from zero to 3 places;
* duration: whole days, -999,999,999 .. 999,999,999 (Python's timedelta);
* date: 0001-01-01 .. 9999-12-31 (Python's date).

A constant outside its range is refused when the policy is loaded; a result outside
it is missing, on both paths (see sql.py).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal

PLACES = Decimal("0.001")
DECIMAL_LIMIT = Decimal(10) ** 15
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
DURATION_DAYS = 999_999_999  # the largest timedelta, in whole days
# Wide enough that + - * of two DECIMAL(18,3) values are exact before rounding.
EXACT = Context(prec=80)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def parse_date(text: str) -> date | None:
    """A strict YYYY-MM-DD date, or None."""
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def int_result(value: int) -> int | None:
    return value if INT_MIN <= value <= INT_MAX else None


def decimal_fits(value: Decimal | int) -> bool:
    """Exactly representable as a decimal: at most 3 places, below 10**15."""
    exact = Decimal(value)
    if not exact.is_finite() or abs(exact) >= DECIMAL_LIMIT:
        return False
    return exact == exact.quantize(PLACES, context=EXACT)


def dec_result(value: Decimal | int) -> Decimal | None:
    """Round to 3 places (half away from zero); None when out of DECIMAL(18,3) range."""
    rounded = Decimal(value).quantize(PLACES, rounding=ROUND_HALF_UP, context=EXACT)
    return rounded if abs(rounded) < DECIMAL_LIMIT else None


def trunc_div(a: int, b: int) -> int:
    """Integer division truncating toward zero (as in CEL, C and DuckDB's //)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def trunc_mod(a: int, b: int) -> int:
    """The remainder that goes with trunc_div: it has the sign of `a`."""
    return a - b * trunc_div(a, b)


def dec_div(a: Decimal, b: Decimal) -> Decimal | None:
    """a / b truncated toward zero to 3 places; None for division by zero."""
    units_a = int(dec_units(a))
    units_b = int(dec_units(b))
    if units_b == 0:
        return None
    return dec_result(Decimal(trunc_div(units_a * 1000, units_b)).scaleb(-3))


def dec_units(value: Decimal) -> Decimal:
    """The value in thousandths, after rounding to 3 places."""
    return Decimal(value).quantize(PLACES, rounding=ROUND_HALF_UP, context=EXACT).scaleb(3)
