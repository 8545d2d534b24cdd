"""Facts made safe for durable_rules' C engine before they reach it.

The engine compares loosely ('99' >= 100 holds), keeps numbers as C doubles or
64-bit integers, tells properties and strings apart by a 32-bit FNV-1a hash, and has
no null. So every value a rule reads is given one JSON type by its fact's declared
type: exact decimals and integers become integers in thousandths (the three places
DECIMAL(18,3) holds), dates whole days since 1970-01-01, durations whole days,
booleans 1 or 0, strings stay strings; a missing value is left out of the fact, and
a rule's test on an absent property does not hold (missing is false, as everywhere).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ...conditions.types import BOOL, DATE, DECIMAL, DURATION, INT, STRING, Type

SCALE = 1000  # thousandths: DECIMAL(18,3) exactly
LIMIT = 2**53  # integers past this are not exact once the engine turns them into doubles
EPOCH = dt.date(1970, 1, 1)
SUPPORTED = (BOOL, INT, DECIMAL, STRING, DATE, DURATION)
FNV_OFFSET, FNV_PRIME = 0x811C9DC5, 0x01000193


class Unrepresentable(ValueError):
    """A value the engine cannot hold exactly."""


def fnv1a(text: str) -> int:
    """The engine's hash of a property name or a string value (src/rules/json.c)."""
    value = FNV_OFFSET
    for byte in text.encode():
        signed = byte - 256 if byte > 127 else byte  # C's char is signed on x86 and ARM64 Linux
        value = ((value ^ (signed & 0xFFFFFFFF)) * FNV_PRIME) & 0xFFFFFFFF
    return value


def normal(value: Any, kind: Type) -> int | str | None:
    """`value` of a fact of type `kind` as the engine gets it; None: leave it out."""
    if value is None:
        return None
    if kind == BOOL:
        return int(bool(value))
    if kind in (INT, DECIMAL):
        return _thousandths(value)
    if kind == DATE:
        return _bounded((value - EPOCH).days)
    if kind == DURATION:
        return _bounded(value.days if isinstance(value, dt.timedelta) else int(value))
    if kind == STRING:
        return str(value)
    raise Unrepresentable(f"a value of type {kind}")


def _thousandths(value: Any) -> int:
    scaled = Decimal(value) * SCALE
    if scaled != scaled.to_integral_value():
        raise Unrepresentable("a value with more than three decimal places")
    return _bounded(int(scaled))


def _bounded(number: int) -> int:
    if not -LIMIT < number < LIMIT:
        raise Unrepresentable("a value beyond the engine's exact integers (2**53)")
    return number
