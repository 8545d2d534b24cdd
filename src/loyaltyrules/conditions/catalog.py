"""What an expression may mention: the facts per trigger, and the functions.

Checked expressions only read names listed here; the evaluators get the same names
as keys (`customer.tier`, `as_of`, and `rank_in_region:customer.<metric>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .types import BOOL, DATE, DECIMAL, DURATION, DYN, INT, STRING, Type, list_of

TIERS = ("points", "silver", "gold", "diamond")

PURCHASE: Mapping[str, Type] = {
    "purchase_id": STRING,
    "store_id": STRING,
    "staff_id": STRING,
    "amount": DECIMAL,
    "date": DATE,
    "currency": STRING,
    "return_of": STRING,
    "is_return": BOOL,
}
CUSTOMER_RECORD: Mapping[str, Type] = {
    "customer_id": STRING,
    "birthday": DATE,
    "region": STRING,
    "home_store": STRING,
    "joined_on": DATE,
    "referred_by": STRING,
    "staff_id": STRING,
    "consent_sms": BOOL,
    "consent_call": BOOL,
    "consent_mail": BOOL,
    "consent_visit": BOOL,
    "has_address": BOOL,
    "has_phone": BOOL,
    "has_email": BOOL,
}
CUSTOMER_METRICS: Mapping[str, Type] = {
    "tier": STRING,
    "lifetime_spend": DECIMAL,
    "spend_this_year": DECIMAL,
    "spend_last_year": DECIMAL,
    "points_this_year": INT,
    "points_last_year": INT,
    "first_purchase_date": DATE,
    "last_purchase_date": DATE,
    "last_positive_purchase_date": DATE,
    "days_since_last_purchase": INT,
    "days_since_last_positive_purchase": INT,
    "purchase_count": INT,
    "last_store_id": STRING,
    "last_staff_id": STRING,
}
TIER: Mapping[str, Type] = {"name": STRING, "previous": STRING, "discount_pct": DECIMAL}
# Host events (DESIGN 2b): the row that fired, its business date and local hour.
COMPLAINT: Mapping[str, Type] = {
    "complaint_id": STRING, "store_id": STRING, "channel": STRING, "topic": STRING,
    "severity": STRING, "date": DATE, "hour": INT,
}
EVENT: Mapping[str, Type] = {
    "event_id": STRING, "kind": STRING, "store_id": STRING, "date": DATE, "hour": INT,
}
# The calendar row a schedule fires on (`every: calendar`; missing for other schedules).
CALENDAR: Mapping[str, Type] = {"name": STRING, "kind": STRING}

GROUPS: Mapping[str, Mapping[str, Type]] = {
    "purchase": PURCHASE,
    "customer": {**CUSTOMER_RECORD, **CUSTOMER_METRICS},
    "referrer": {**CUSTOMER_RECORD, **CUSTOMER_METRICS},
    "tier": TIER,
    "complaint": COMPLAINT,
    "event": EVENT,
    "calendar": CALENDAR,
}
# Crossings and tier ladders fire on purchases, so purchase.* is there too.
TRIGGER_GROUPS: Mapping[str, tuple[str, ...]] = {
    "purchase": ("purchase", "customer"),
    "first_purchase": ("purchase", "customer", "referrer"),
    "crossing": ("purchase", "customer"),
    "tier_ladder": ("purchase", "customer", "tier"),
    "schedule": ("customer", "calendar"),
    "complaint": ("complaint", "customer"),
    "event": ("event", "customer"),
}
TRIGGERS = tuple(TRIGGER_GROUPS)
# Metrics a crossing trigger may watch: they only grow with each purchase.
RUNNING_METRICS = ("lifetime_spend", "spend_this_year", "points_this_year", "purchase_count")
RANK_PREFIX = "rank_in_region:"

# String facts with a closed set of values: comparing with anything else is a typo.
KNOWN_VALUES: Mapping[str, frozenset[str]] = {
    path: frozenset(TIERS)
    for path in ("customer.tier", "referrer.tier", "tier.name", "tier.previous")
}


def _group_facts(groups: tuple[str, ...]) -> dict[str, Type]:
    facts: dict[str, Type] = {"as_of": DATE}
    for group in groups:
        facts.update({f"{group}.{name}": t for name, t in GROUPS[group].items()})
    return facts


ALL_FACTS: Mapping[str, Type] = MappingProxyType(_group_facts(tuple(GROUPS)))


@dataclass(frozen=True)
class Env:
    """What an expression can see: available facts, declared params, allowed values."""

    facts: Mapping[str, Type]
    params: Mapping[str, Type] = field(default_factory=dict)
    trigger: str | None = None
    values: Mapping[str, frozenset[str]] = field(default_factory=lambda: KNOWN_VALUES)


def facts_for(trigger: str) -> dict[str, Type]:
    """The facts available under a trigger kind; KeyError for an unknown kind."""
    return _group_facts(TRIGGER_GROUPS[trigger])


def env_for(trigger: str, params: Mapping[str, Type] | None = None) -> Env:
    return Env(facts_for(trigger), dict(params or {}), trigger)


def trigger_summary(trigger: str) -> str:
    groups = ", ".join(f"{g}.*" for g in TRIGGER_GROUPS[trigger])
    return f"{groups}, as_of and params.*"


# -- functions -----------------------------------------------------------------
ANY_LIST = list_of(DYN)
Overload = tuple[tuple[Type, ...], Type]


@dataclass(frozen=True)
class Function:
    """A function: its overloads (first match wins) and any rule on argument shape.

    `shape` is "path" (a fact path), "string-literal", or "customer-metric"
    (a numeric customer.* path); DYN as a parameter type accepts anything.
    An int argument is accepted where a decimal is expected.
    """

    name: str
    signature: str
    overloads: tuple[Overload, ...]
    shape: str | None = None

    @property
    def arity(self) -> int:
        return len(self.overloads[0][0])


def _fn(name: str, signature: str, *overloads: Overload, shape: str | None = None) -> Function:
    return Function(name, signature, overloads, shape)


_MINMAX = (
    ((INT, INT), INT),
    ((DECIMAL, DECIMAL), DECIMAL),
    ((DATE, DATE), DATE),
    ((DURATION, DURATION), DURATION),
)

FUNCTIONS: Mapping[str, Function] = {
    f.name: f
    for f in (
        _fn("has", "has(fact) -> bool", ((DYN,), BOOL), shape="path"),
        _fn("is_birthday", "is_birthday(date, date) -> bool", ((DATE, DATE), BOOL)),
        _fn("days_between", "days_between(date, date) -> int", ((DATE, DATE), INT)),
        _fn("year", "year(date) -> int", ((DATE,), INT)),
        _fn("month", "month(date) -> int", ((DATE,), INT)),
        _fn("day", "day(date) -> int", ((DATE,), INT)),
        _fn("weekday", "weekday(date) -> int", ((DATE,), INT)),
        _fn("date", 'date("YYYY-MM-DD") -> date', ((STRING,), DATE), shape="string-literal"),
        _fn("size", "size(list) -> int", ((ANY_LIST,), INT)),
        _fn("floor", "floor(decimal) -> int", ((DECIMAL,), INT)),
        _fn("abs", "abs(int|decimal) -> same", ((INT,), INT), ((DECIMAL,), DECIMAL)),
        _fn("min", "min(a, b) -> int|decimal|date|duration", *_MINMAX),
        _fn("max", "max(a, b) -> int|decimal|date|duration", *_MINMAX),
        _fn(
            "rank_in_region",
            "rank_in_region(customer.<metric>) -> int",
            ((INT,), INT),
            ((DECIMAL,), INT),
            shape="customer-metric",
        ),
    )
}
