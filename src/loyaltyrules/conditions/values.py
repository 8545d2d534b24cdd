"""Runtime values and the exact arithmetic shared by the Python evaluator.

Decimals behave like SQL DECIMAL(18,3): every decimal result is rounded half away
from zero to 3 places, and a result outside +-999,999,999,999,999.999 is missing.
Ints are 64-bit: a result outside that range is missing. The SQL compiler gives
the same answers (see sql.py).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal

PLACES = Decimal("0.001")
DECIMAL_LIMIT = Decimal(10) ** 15
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
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
