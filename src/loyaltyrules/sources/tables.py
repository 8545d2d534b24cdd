"""The canonical input tables (DESIGN section 3): columns, kinds, and what is required."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from loyaltyrules.inputs import MONEY_LIMIT, QUANTITY_LIMIT

Kind = Literal[
    "id", "text", "personal", "money", "number", "timestamp", "date", "bool", "json"
]

# DuckDB type of the clean column for each kind.
SQL_TYPES: dict[Kind, str] = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "personal": "VARCHAR",
    "money": "DECIMAL(18,3)",
    "number": "DECIMAL(18,3)",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "bool": "BOOLEAN",
    "json": "VARCHAR",
}
# The magnitude each numeric kind must stay below (inputs.py): a value beyond it is a
# reject where it is read, so no later sum or product can overflow.
LIMITS: dict[Kind, Decimal] = {"money": MONEY_LIMIT, "number": QUANTITY_LIMIT}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = "text"
    required: bool = False
    bad_reason: str = ""  # reason code when the value does not parse

    @property
    def reason(self) -> str:
        if self.bad_reason:
            return self.bad_reason
        return {"timestamp": "bad-timestamp", "date": "bad-date", "bool": "bad-boolean",
                "json": "bad-attributes"}.get(self.kind, "bad-number")

    @property
    def range_reason(self) -> str:
        """A number that reads but is too large: any money beyond the limit is a bad
        amount (a barcode in unit_price), a quantity keeps its own reason."""
        return "bad-amount" if self.kind == "money" else self.reason


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: str | None = None  # unique id; duplicates are collapsed or rejected
    id_columns: tuple[str, ...] = ()  # echoed into reject records (never personal data)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _receipt(*, with_amount: bool) -> tuple[Column, ...]:
    amount = (Column("amount", "money", True, "bad-amount"),) if with_amount else ()
    return (
        Column("purchase_id", "id", True),
        Column("customer_id", "id"),
        Column("store_id", "id", True),
        Column("staff_id", "id"),
        Column("purchased_at", "timestamp", True),
        *amount,
        Column("currency"),
        Column("return_of", "id"),
    )


CUSTOMERS = TableSpec(
    "customers",
    (
        Column("customer_id", "id", True),
        Column("name", "personal"),
        Column("phone", "personal"),
        Column("email", "personal"),
        Column("address", "personal"),
        Column("birthday", "date"),
        Column("region"),
        Column("home_store", "id"),
        Column("joined_on", "date"),
        Column("referred_by", "id"),
        Column("staff_id", "id"),
        Column("consent_sms", "bool"),
        Column("consent_call", "bool"),
        Column("consent_mail", "bool"),
        Column("consent_visit", "bool"),
        Column("locale"),  # messages in this language (sinks/message.py)
    ),
    key="customer_id",
    id_columns=("customer_id",),
)
PURCHASES = TableSpec(
    "purchases",
    _receipt(with_amount=True),
    key="purchase_id",
    id_columns=("purchase_id", "customer_id", "store_id"),
)
PURCHASE_LINES = TableSpec(
    "purchase_lines",
    (
        *_receipt(with_amount=False),
        Column("sku"),
        Column("quantity", "number", True, "bad-quantity"),
        Column("unit_price", "money", True, "bad-unit-price"),
    ),
    id_columns=("purchase_id", "customer_id", "store_id"),
)
STORES = TableSpec(
    "stores",
    (Column("store_id", "id", True), Column("region"), Column("name"), Column("timezone"),
     Column("locale")),
    key="store_id",
    id_columns=("store_id",),
)
# Who an assignee id is: names for task sheets, the work page and reports (optional).
STAFF = TableSpec(
    "staff",
    (Column("staff_id", "id", True), Column("name", "personal"), Column("store_id", "id"),
     Column("role")),
    key="staff_id",
    id_columns=("staff_id", "store_id"),
)
CALENDAR = TableSpec(
    "calendar",
    (Column("date", "date", True), Column("name"), Column("kind"), Column("region")),
)
COMPLAINTS = TableSpec(
    "complaints",
    (
        Column("complaint_id", "id", True),
        Column("customer_id", "id"),
        Column("store_id", "id"),
        Column("received_at", "timestamp", True),
        Column("channel"),
        Column("topic"),
        Column("severity"),
        Column("note", "personal"),
    ),
    key="complaint_id",
    id_columns=("complaint_id", "customer_id", "store_id"),
)
EVENTS = TableSpec(
    "events",
    (
        Column("event_id", "id", True),
        Column("kind", required=True),
        Column("customer_id", "id"),
        Column("store_id", "id"),
        Column("occurred_at", "timestamp", True),
        Column("attributes", "json"),
    ),
    key="event_id",
    id_columns=("event_id", "customer_id", "store_id"),
)
OUTCOMES = TableSpec(
    "outcomes",
    (
        Column("action_id", "id", True),
        Column("status", required=True),
        Column("completed_at", "timestamp"),
        Column("staff_id", "id"),
        Column("note", "personal"),
        Column("topic"),
    ),
    id_columns=("action_id",),
)

SPECS: dict[str, TableSpec] = {
    s.name: s
    for s in (CUSTOMERS, PURCHASES, PURCHASE_LINES, STORES, STAFF, CALENDAR, COMPLAINTS, EVENTS,
              OUTCOMES)
}
# Reading order: references point backwards (purchases -> customers -> stores).
LOAD_ORDER = (
    "stores",
    "staff",
    "customers",
    "purchase_lines",
    "purchases",
    "calendar",
    "complaints",
    "events",
    "outcomes",
)
