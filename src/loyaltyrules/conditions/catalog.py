"""What an expression may mention: the facts per trigger, and the functions.

Checked expressions only read names listed here; the evaluators get the same names
as keys (`customer.tier`, `as_of`, `rank_in_region:customer.<metric>`, and
`percentile_in:<partition>:customer.<metric>` / `abc_class:<partition>:...`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
# customer.tier comes from the tier-ladder policy; every other customer metric is declared
# in the policy set's metrics file (loyaltyrules.metrics) and passed in as `metrics`.
TIER_FACT: Mapping[str, Type] = {"tier": STRING}
RESERVED_NAMES = frozenset({*CUSTOMER_RECORD, *TIER_FACT})
Metrics = Mapping[str, Type]

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
RANK_PREFIX = "rank_in_region:"
PARTITIONS = ("region", "store", "franchise")
ABC_CLASSES = ("A", "B", "C")
# Functions over a whole population (everyone's value of a customer metric on a date):
# the batch computes them as columns named `<function>:<partition>:<path>`.
SEGMENT_FUNCTIONS = ("percentile_in", "abc_class")

# String facts with a closed set of values: comparing with anything else is a typo.
KNOWN_VALUES: Mapping[str, frozenset[str]] = {
    path: frozenset(TIERS)
    for path in ("customer.tier", "referrer.tier", "tier.name", "tier.previous")
}


def groups(metrics: Metrics | None = None) -> dict[str, dict[str, Type]]:
    """The fact groups, with the declared metrics among the customer's facts."""
    customer = {**CUSTOMER_RECORD, **TIER_FACT, **(metrics or {})}
    return {"purchase": dict(PURCHASE), "customer": customer, "referrer": customer,
            "tier": dict(TIER), "complaint": dict(COMPLAINT), "event": dict(EVENT),
            "calendar": dict(CALENDAR)}


def _group_facts(names: tuple[str, ...], metrics: Metrics | None) -> dict[str, Type]:
    facts: dict[str, Type] = {"as_of": DATE}
    every = groups(metrics)
    for group in names:
        facts.update({f"{group}.{name}": t for name, t in every[group].items()})
    return facts


def all_facts(metrics: Metrics | None = None) -> dict[str, Type]:
    """Every fact under any trigger."""
    return _group_facts(tuple(groups()), metrics)


@dataclass(frozen=True)
class Env:
    """What an expression can see: available facts, declared params, allowed values.

    `known` is every fact of the catalog (some not available here: a fact of another
    trigger is reported as such, not as unknown); by default the available ones."""

    facts: Mapping[str, Type]
    params: Mapping[str, Type] = field(default_factory=dict)
    trigger: str | None = None
    values: Mapping[str, frozenset[str]] = field(default_factory=lambda: KNOWN_VALUES)
    known: Mapping[str, Type] | None = None
    segments: bool = True  # whether population functions may be called here

    @property
    def catalog(self) -> Mapping[str, Type]:
        return self.known if self.known is not None else self.facts


def facts_for(trigger: str, metrics: Metrics | None = None) -> dict[str, Type]:
    """The facts available under a trigger kind; KeyError for an unknown kind."""
    return _group_facts(TRIGGER_GROUPS[trigger], metrics)


def env_for(trigger: str, params: Mapping[str, Type] | None = None,
            metrics: Metrics | None = None) -> Env:
    """The Env of a policy's expressions; `metrics` are the declared customer metrics."""
    return Env(facts_for(trigger, metrics), dict(params or {}), trigger,
               known=all_facts(metrics))


def trigger_summary(trigger: str) -> str:
    groups = ", ".join(f"{g}.*" for g in TRIGGER_GROUPS[trigger])
    return f"{groups}, as_of and params.*"


# -- functions -----------------------------------------------------------------
ANY_LIST = list_of(DYN)
Overload = tuple[tuple[Type, ...], Type]


@dataclass(frozen=True)
class Function:
    """A function: its overloads (first match wins) and any rule on argument shape.

    `shape` is "path" (a fact path), "string-literal", "customer-metric" (a numeric
    customer.* path) or "segment" (a numeric customer.* path and a partition name);
    DYN as a parameter type accepts anything.
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
        _fn(
            "percentile_in",
            'percentile_in(customer.<metric>, "region"|"store"|"franchise") -> decimal',
            ((INT, STRING), DECIMAL),
            ((DECIMAL, STRING), DECIMAL),
            shape="segment",
        ),
        _fn(
            "abc_class",
            'abc_class(customer.<metric>, "region"|"store"|"franchise") -> string',
            ((INT, STRING), STRING),
            ((DECIMAL, STRING), STRING),
            shape="segment",
        ),
    )
}


def segment_key(function: str, partition: str, path: str) -> str:
    """The fact key (batch column) of a population function's value for a customer."""
    return f"{function}:{partition}:{path}"
