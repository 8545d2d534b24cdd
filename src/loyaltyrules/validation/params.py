"""Declared parameters: checking a value against its declaration.

Shared by the defaults in HQ's policy files and the values in region and store
override files, so both are held to the same rules, and to the same ranges as
literals in expressions (conditions/values.py): a value that validates is one both
evaluators hold exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..conditions.values import DURATION_DAYS, INT_MAX, INT_MIN, decimal_fits

_DURATION = re.compile(r"^-?[0-9]+d$")
_HOURS = re.compile(r"^-?[0-9]+h$")
# Hours are window bounds (at most ten years either way, as windows in days).
HOURS_LIMIT = 3650 * 24


def as_typed(kind: str, value: Any) -> Any | None:
    """The value as the declared type's Python value, or None when it does not fit."""
    converter = _CONVERTERS.get(kind)
    return converter(value) if converter else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    return None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _duration(value: Any) -> int | None:
    """Durations are whole days, written `7d`."""
    if isinstance(value, str) and _DURATION.match(value):
        return int(value[:-1])
    return None


def _hours(value: Any) -> int | None:
    """Hours are whole hours, written `24h`; expressions read them as an int."""
    if isinstance(value, str) and _HOURS.match(value):
        return int(value[:-1])
    return None


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


_CONVERTERS = {
    "int": _int,
    "decimal": _decimal,
    "string": _string,
    "bool": _bool,
    "duration": _duration,
    "hours": _hours,
    "date": _date,
}

ORDERED_KINDS = ("int", "decimal", "duration", "hours", "date")

# What each type can hold, for the messages; the tests are the functions below.
RANGES = {
    "int": f"{INT_MIN} to {INT_MAX} (64 bits)",
    "decimal": "below 10^15 in size, with at most 3 decimal places",
    "duration": f"-{DURATION_DAYS}d to {DURATION_DAYS}d",
    "hours": f"-{HOURS_LIMIT}h to {HOURS_LIMIT}h",
}
_FITS: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: INT_MIN <= v <= INT_MAX,
    "decimal": decimal_fits,
    "duration": lambda v: -DURATION_DAYS <= v <= DURATION_DAYS,
    "hours": lambda v: -HOURS_LIMIT <= v <= HOURS_LIMIT,
}


def range_problem(kind: str, typed: Any) -> str | None:
    """Why a value of the declared type is outside what the type holds, or None."""
    fits = _FITS.get(kind)
    if fits is None or fits(typed):
        return None
    shown = f"{typed}{UNITS[kind]}" if kind in UNITS else str(typed)
    return f"{shown} is out of range: {kind} values are {RANGES[kind]}"


UNITS = {"duration": "d", "hours": "h"}


def describe(kind: str) -> str:
    return {"duration": "a duration like 7d", "hours": "a number of hours like 24h",
            "date": "a date YYYY-MM-DD"}.get(kind, f"a {kind}")


def check_value(spec: dict[str, Any], value: Any) -> str | None:
    """Why `value` is not acceptable for the param declared by `spec`, or None if it is."""
    kind = spec["type"]
    typed = as_typed(kind, value)
    if typed is None:
        return f"{value!r} is not {describe(kind)}"
    out_of_range = range_problem(kind, typed)
    if out_of_range or kind not in ORDERED_KINDS:
        return out_of_range
    low = as_typed(kind, spec["min"]) if "min" in spec else None
    high = as_typed(kind, spec["max"]) if "max" in spec else None
    if low is not None and typed < low:
        return f"{value} is below the minimum {spec['min']}"
    if high is not None and typed > high:
        return f"{value} is above the maximum {spec['max']}"
    return None
