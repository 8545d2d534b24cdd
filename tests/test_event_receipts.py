"""The receipt parser's straight path for text values agrees with the general checks.

`parse_receipt` takes a shortcut when values arrive as text (the usual POS shape);
`reference` below is the general path alone, field by field in the same order. For
any mix of values, both give the same receipt or the same error code and field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltyrules.event.errors import EventError
from loyaltyrules.event.receipts import _amount, _parsed, _text, _timestamp, parse_receipt
from loyaltyrules.event.view import Receipt


def reference(event: dict[str, Any]) -> Receipt:
    at = _parsed(event, "purchased_at", "bad-timestamp", _timestamp)
    amount = _parsed(event, "amount", "bad-amount", _amount)
    if at is None:
        raise EventError("missing-field", "purchased_at is required", "purchased_at")
    if amount is None:
        raise EventError("missing-field", "amount is required", "amount")
    return Receipt(
        purchase_id=_text(event, "purchase_id", required=True) or "",
        customer_id=_text(event, "customer_id"),
        store_id=_text(event, "store_id", required=True) or "",
        purchased_at=at, amount=amount,
        staff_id=_text(event, "staff_id"), currency=_text(event, "currency"),
        return_of=_text(event, "return_of"))


def outcome(parse: Any, event: dict[str, Any]) -> Any:
    try:
        return parse(event)
    except EventError as err:
        return ("error", err.code, err.field)


TEXTS = st.sampled_from(["", "P1", "C 1", "ü", " ", "0"]) | st.text(max_size=4)
AMOUNTS = st.sampled_from([
    "", "0", "-0", "12.5", " 12.5 ", "12.3456", "12.3455", "-99.9995", "1e3", "1E+2",
    "999999999999999.999", "1000000000000000", "-1e15", "1e20", "NaN", "sNaN",
    "Infinity", "-inf", "abc", "12,5", "0E+20", "+3",
]) | st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str)
TIMESTAMPS = st.sampled_from([
    "", "2025-03-10T10:00:00", "2025-03-10 10:00", "2025-03-10", "2025-03-10T10:00:00.123",
    "2025-03-10T10:00:00+02:00", "2025-03-10T10:00:00Z", "yesterday", "2025-02-30T10:00",
    "20250310T100000",
]) | st.datetimes().map(dt.datetime.isoformat)
OTHERS = st.sampled_from([None, 7, 1.5, True, Decimal("3.25"), dt.date(2025, 3, 10),
                          dt.datetime(2025, 3, 10, 9, 30), ["x"]])


@settings(max_examples=400, deadline=None)
@given(purchase_id=TEXTS | OTHERS, customer_id=TEXTS | OTHERS, store_id=TEXTS | OTHERS,
       staff_id=TEXTS | OTHERS, currency=TEXTS | OTHERS, return_of=TEXTS | OTHERS,
       amount=AMOUNTS | OTHERS, purchased_at=TIMESTAMPS | OTHERS,
       missing=st.sets(st.sampled_from(["purchase_id", "amount", "purchased_at", "staff_id"])))
def test_the_straight_path_equals_the_general_checks(missing: set[str], **values: Any) -> None:
    event = {k: v for k, v in values.items() if k not in missing}
    assert outcome(parse_receipt, event) == outcome(reference, event)
