"""Events from a host, checked: a receipt or a customer record as a plain mapping in,
typed values out, or an EventError with a code (the same names as the input tables,
docs/data-sources.md). Extra keys are ignored, as extra columns are in a source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from ..inputs import MONEY_LIMIT, wall_clock
from .errors import EventError
from .view import CENTS3, CustomerRecord, Receipt, money

T = TypeVar("T")
PERSONAL = ("address", "phone", "email")


def _text(event: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = event.get(name)
    if value is None or value == "":
        if required:
            raise EventError("missing-field", f"{name} is required", name)
        return None
    if not isinstance(value, str):
        raise EventError("bad-type", f"{name} must be a string", name)
    return value


def _parsed(event: Mapping[str, Any], name: str, code: str,
            parse: Callable[[Any], T | None]) -> T | None:
    value = event.get(name)
    if value is None or value == "":
        return None
    try:
        result = parse(value)
    except (ValueError, TypeError, InvalidOperation):
        result = None
    if result is None:
        raise EventError(code, f"{name} is not valid", name)
    return result


def _timestamp(value: Any) -> dt.datetime | None:
    """Store-local time: naive as given, or the wall-clock time of one with an offset
    (the input tables' rule, inputs.py)."""
    if isinstance(value, str):
        return wall_clock(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=None) if value.tzinfo is not None else value


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value) if isinstance(value, str) else None


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = str(value)
    if not isinstance(value, int | str | Decimal):
        return None
    amount = Decimal(value)
    if not (amount.is_finite() and abs(amount) < MONEY_LIMIT):
        return None
    rounded = money(amount)  # bounded after rounding too, as the input tables are
    return rounded if abs(rounded) < MONEY_LIMIT else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def parse_receipt(event: Mapping[str, Any]) -> Receipt:
    """A receipt from a mapping with the `purchases` table's columns.

    Runs on every receipt at the point of sale: the usual shape (text values) takes a
    straight path; anything else goes through the general checks above, which give
    the same result or the same error."""
    if event.__class__ is not dict and not isinstance(event, Mapping):
        raise EventError("bad-event", "a receipt must be a mapping")
    get = event.get
    at = get("purchased_at")
    if at.__class__ is str and at:
        try:
            at = wall_clock(at)
        except ValueError:
            raise EventError("bad-timestamp", "purchased_at is not valid",
                             "purchased_at") from None
    else:
        at = _parsed(event, "purchased_at", "bad-timestamp", _timestamp)
    amount = get("amount")
    if amount.__class__ is str and amount:
        try:
            amount = Decimal(amount)
        except InvalidOperation:
            raise EventError("bad-amount", "amount is not valid", "amount") from None
        if not (amount.is_finite() and -MONEY_LIMIT < amount < MONEY_LIMIT):
            raise EventError("bad-amount", "amount is not valid", "amount")
        amount = amount.quantize(CENTS3, ROUND_HALF_UP)
        if amount.copy_abs() == MONEY_LIMIT:  # rounded up onto the bound
            raise EventError("bad-amount", "amount is not valid", "amount")
    else:
        amount = _parsed(event, "amount", "bad-amount", _amount)
    if at is None:
        raise EventError("missing-field", "purchased_at is required", "purchased_at")
    if amount is None:
        raise EventError("missing-field", "amount is required", "amount")
    purchase_id, customer_id, store_id = get("purchase_id"), get("customer_id"), get("store_id")
    staff_id, currency, return_of = get("staff_id"), get("currency"), get("return_of")
    return _new(Receipt, (  # positionally, in field order: the cheapest way to build it
        purchase_id if purchase_id.__class__ is str and purchase_id
        else _text(event, "purchase_id", required=True) or "",
        customer_id if customer_id is None or (customer_id.__class__ is str and customer_id)
        else _text(event, "customer_id"),
        store_id if store_id.__class__ is str and store_id
        else _text(event, "store_id", required=True) or "",
        at,
        amount,
        staff_id if staff_id is None or (staff_id.__class__ is str and staff_id)
        else _text(event, "staff_id"),
        currency if currency is None or (currency.__class__ is str and currency)
        else _text(event, "currency"),
        return_of if return_of is None or (return_of.__class__ is str and return_of)
        else _text(event, "return_of"),
    ))


_new = tuple.__new__


def parse_customer(event: Mapping[str, Any], stores: Mapping[str, str | None],
                   consent_default: bool = True) -> CustomerRecord:
    """A customer record as the clean `customers` table holds it (region resolved,
    missing consent = the default, contact details reduced to has_* flags)."""
    if not isinstance(event, Mapping):
        raise EventError("bad-event", "a customer must be a mapping")
    customer_id = _text(event, "customer_id", required=True) or ""
    home = _text(event, "home_store")
    consents: dict[str, bool] = {}
    for name in ("consent_sms", "consent_call", "consent_mail", "consent_visit"):
        value = _parsed(event, name, "bad-boolean", _bool)
        consents[name] = consent_default if value is None else value
    for name in ("name", *PERSONAL):
        _text(event, name)  # type check only: contact details are not kept
    referred_by = _text(event, "referred_by")
    if referred_by == customer_id:
        raise EventError("self-referral", "referred_by names the customer", "referred_by")
    return CustomerRecord(
        customer_id=customer_id,
        birthday=_parsed(event, "birthday", "bad-date", _date),
        region=_text(event, "region") or (stores.get(home) if home else None) or "default",
        home_store=home,
        joined_on=_parsed(event, "joined_on", "bad-date", _date),
        referred_by=referred_by,
        staff_id=_text(event, "staff_id"),
        has_address=event.get("address") not in (None, ""),
        has_phone=event.get("phone") not in (None, ""),
        has_email=event.get("email") not in (None, ""),
        **consents,
    )
