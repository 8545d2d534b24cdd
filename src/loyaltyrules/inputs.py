"""What an input value may be: one rule for the nightly input tables and the point of
sale's events (docs/data-sources.md, "Limits" and "Reading and typing").

Numbers are rounded to 3 decimal places, then must lie strictly inside their kind's
bound. The bounds keep every later sum and product exact: a line's quantity x
unit_price stays below 10^18 (DuckDB computes it in DECIMAL(38,6)), a receipt below
10^12, and a customer's running spend far inside DECIMAL(38,3) sums and BIGINT
points. A barcode in a price column (13 digits) is therefore a reject, not a purchase
of four trillion, and never an overflow that stops the night.

Timestamps with a UTC offset keep the wall-clock time as written, on both paths.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

MONEY_DIGITS = 12  # amount, unit_price, a line's total, a receipt's total
QUANTITY_DIGITS = 6  # a line's quantity

MONEY_LIMIT = Decimal(10) ** MONEY_DIGITS
QUANTITY_LIMIT = Decimal(10) ** QUANTITY_DIGITS


def shown(limit: Decimal) -> str:
    """The largest magnitude allowed, as messages and docs write it (999,999.999)."""
    return f"{limit - Decimal('0.001'):,}"


# A trailing offset after a time of day. It is dropped: tills write their own local
# time, and the business date is the date the till showed (naive = store-local).
OFFSET = r"^(.*[T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)\s*(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
_OFFSET = re.compile(OFFSET)


def wall_clock(text: str) -> dt.datetime:
    """An ISO 8601 timestamp as the store-local time it shows; ValueError if it is none."""
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:  # an offset Python's parser does not take (`Z` before 3.11, `+0100`)
        at = dt.datetime.fromisoformat(_OFFSET.sub(r"\1", text))
    return at.replace(tzinfo=None) if at.tzinfo is not None else at
