"""Typed models of the policy, override and templates files.

They mirror `schemas/policy.schema.json`, `override.schema.json` and
`templates.schema.json` exactly: a document is valid for a model if and only if it is
valid for the schema (checked by tests/test_schema_contract.py on every corpus file).
Input comes from the YAML loader: mappings, lists, str, int, Decimal, bool and None.
Validation is strict: "1" is not 1, true is not 1, and a key set to null is an error
unless the schema allows null there.

Cross-document checks (unknown params in expressions, default within bounds, an
override naming an unknown policy) belong to semantic validation, not here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

__all__ = [
    "Action",
    "ActionType",
    "Assignee",
    "CalendarMatch",
    "ComplaintTrigger",
    "CrossingTrigger",
    "Effective",
    "EventTrigger",
    "Fallback",
    "FirstPurchaseTrigger",
    "Invitation",
    "MetricSpec",
    "MetricsFile",
    "NthWeekday",
    "OverrideFile",
    "OverrideTarget",
    "ParamSpec",
    "ParamType",
    "Policy",
    "PolicyFile",
    "PolicyOverride",
    "PurchaseTrigger",
    "Role",
    "ScheduleTrigger",
    "Scope",
    "Template",
    "TemplatesFile",
    "Tier",
    "TierLadderTrigger",
    "Trigger",
    "Window",
    "duration_days",
    "param_reference",
    "parse_metrics",
    "parse_override",
    "parse_policy",
    "parse_templates",
]

# The same patterns as the schemas (ECMA-262 there, Python `re` here; all anchored).
ID_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
DURATION_PATTERN = r"^-?[0-9]+d$"
HOURS_PATTERN = r"^-?[0-9]+h$"
WINDOW_PATTERN = r"^(?:-?[0-9]+[dh]|params\.[a-z][a-z0-9_]*)$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
MONTH_DAY_PATTERN = (
    r"^(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31|02-29)$"
)
LOCALE_PATTERN = r"^[a-z]{2}(-[A-Z]{2})?$"
DAY_OF_MONTH_PATTERN = r"^day (?:[1-9]|[12][0-9]|3[01])$"
# A schedule's `on` as text: MM-DD (yearly) or `day N` (monthly).
ON_PATTERN = f"^(?:{MONTH_DAY_PATTERN[1:-1]}|{DAY_OF_MONTH_PATTERN[1:-1]})$"


def _real_date(text: str) -> str:
    """Matches the schema's `format: date`: the pattern passed, the day must exist."""
    dt.date.fromisoformat(text)
    return text


PolicyId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
ParamName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Expression = Annotated[str, StringConstraints(min_length=1)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]
WindowOffset = Annotated[str, StringConstraints(pattern=WINDOW_PATTERN)]
DateText = Annotated[str, StringConstraints(pattern=DATE_PATTERN), AfterValidator(_real_date)]
MonthDay = Annotated[str, StringConstraints(pattern=MONTH_DAY_PATTERN)]
Locale = Annotated[str, StringConstraints(pattern=LOCALE_PATTERN)]

Number: TypeAlias = int | Decimal
Scalar: TypeAlias = int | Decimal | str | bool

ActionType = Literal[
    "call", "sms", "email", "letter", "visit", "gift", "tier_change", "discount", "task",
    "invitation",
]
Role = Literal["store_staff", "store_manager", "regional_sales", "hq_service"]
ParamType = Literal["int", "decimal", "string", "bool", "duration", "hours", "date"]
# A declared metric as a fact path; which names exist is the metrics file's business.
METRIC_PATH_PATTERN = r"^customer\.[a-z][a-z0-9_]*$"
MetricPath = Annotated[str, StringConstraints(pattern=METRIC_PATH_PATTERN)]
Tone = Literal["service", "thanks", "greeting", "no_sales", "no_blame"]


def duration_days(text: str) -> int:
    """'7d' -> 7, '-1d' -> -1."""
    return int(text[:-1])


def param_reference(text: str) -> str | None:
    """'params.due_days' -> 'due_days'; None for a literal duration like '7d'."""
    return text.removeprefix("params.") if text.startswith("params.") else None


class _Model(BaseModel):
    # python-re so that patterns behave exactly as in the jsonschema validator.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, regex_engine="python-re")

    # Keys the schema allows to be null; any other key set to null is an error.
    nullable_keys: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _reject_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None and key not in cls.nullable_keys:
                    raise ValueError(f"{key!r} may not be null")
        return data


# ------------------------------------------------------------------ policy parts


class Effective(_Model):
    """Business dates a policy version applies to; both ends inclusive."""

    nullable_keys: ClassVar[frozenset[str]] = frozenset({"from", "until"})

    from_: DateText | None = Field(default=None, alias="from")
    until: DateText | None = None

    @property
    def start(self) -> dt.date | None:
        return None if self.from_ is None else dt.date.fromisoformat(self.from_)

    @property
    def end(self) -> dt.date | None:
        return None if self.until is None else dt.date.fromisoformat(self.until)

    def covers(self, day: dt.date) -> bool:
        start, end = self.start, self.end
        return (start is None or start <= day) and (end is None or day <= end)


class Scope(_Model):
    """Where a policy applies; empty means everywhere."""

    regions: list[NonEmpty] = Field(default_factory=list)
    stores: list[NonEmpty] = Field(default_factory=list)


class Tier(_Model):
    name: ParamName
    min: Expression
    discount_pct: Expression | None = None


class PurchaseTrigger(_Model):
    kind: Literal["purchase"]


class FirstPurchaseTrigger(_Model):
    kind: Literal["first_purchase"]


class CrossingTrigger(_Model):
    kind: Literal["crossing"]
    metric: MetricPath
    threshold: Expression


class TierLadderTrigger(_Model):
    kind: Literal["tier_ladder"]
    metric: MetricPath
    tiers: list[Tier] = Field(min_length=1)


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
Names = Annotated[list[NonEmpty], Field(min_length=1)]


class NthWeekday(_Model):
    """The n-th weekday of a month: `{month: 5, weekday: sunday, nth: 2}` (yearly) or
    `{weekday: saturday, nth: 1}` (monthly); `nth: -1` is the month's last one."""

    month: int | None = Field(default=None, ge=1, le=12)
    weekday: Weekday
    nth: Literal[1, 2, 3, 4, -1]


class CalendarMatch(_Model):
    """Which rows of the `calendar` table a schedule fires on (kind and/or name)."""

    kind: NonEmpty | Names | None = None
    name: NonEmpty | Names | None = None

    @model_validator(mode="after")
    def _kind_or_name(self) -> CalendarMatch:
        if self.kind is None and self.name is None:
            raise ValueError("calendar needs 'kind' or 'name' (or both)")
        return self

    @property
    def kinds(self) -> tuple[str, ...]:
        return _names(self.kind)

    @property
    def names(self) -> tuple[str, ...]:
        return _names(self.name)


def _names(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class ScheduleTrigger(_Model):
    """Calendar dates: every day, a yearly date (`on: "MM-DD"` or the n-th weekday of
    a month), a monthly day (`on: day 1` or an n-th weekday), the first day of each
    quarter, or the dates of the `calendar` table."""

    kind: Literal["schedule"]
    every: Literal["day", "month", "quarter", "year", "calendar"]
    on: MonthDay | NthWeekday | Annotated[str, StringConstraints(
        pattern=DAY_OF_MONTH_PATTERN)] | None = None
    calendar: CalendarMatch | None = None

    @model_validator(mode="after")
    def _on_matches_every(self) -> ScheduleTrigger:
        for problem in schedule_problems(self.every, self.on, self.calendar):
            raise ValueError(problem)
        return self


def schedule_problems(every: str, on: object, calendar: object) -> list[str]:
    """Which `on` and `calendar` each `every` takes (the schema says the same)."""
    problems = []
    text = on if isinstance(on, str) else None
    month = on.month if isinstance(on, NthWeekday) else 0  # 0: not an n-th weekday
    if every == "year" and not ((text and not text.startswith("day ")) or month):
        problems.append("'every: year' needs 'on': MM-DD or {month, weekday, nth}")
    if every == "month" and not ((text and text.startswith("day ")) or month is None):
        problems.append("'every: month' needs 'on': 'day N' or {weekday, nth}")
    if every in ("day", "quarter", "calendar") and on is not None:
        problems.append(f"'on' is not allowed with 'every: {every}'")
    if (every == "calendar") != (calendar is not None):
        problems.append("'calendar' goes with 'every: calendar', and only there")
    return problems


class ComplaintTrigger(_Model):
    kind: Literal["complaint"]


class EventTrigger(_Model):
    """A host event of the `events` table, by its kind (email, inquiry, visit, rsvp)."""

    kind: Literal["event"]
    event: NonEmpty | Names

    @property
    def kinds(self) -> tuple[str, ...]:
        return _names(self.event)


Trigger = Annotated[
    PurchaseTrigger | FirstPurchaseTrigger | CrossingTrigger | TierLadderTrigger | ScheduleTrigger
    | ComplaintTrigger | EventTrigger,
    Field(discriminator="kind"),
]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_int(value) or isinstance(value, Decimal)


def _is_duration(value: object) -> bool:
    return isinstance(value, str) and re.search(DURATION_PATTERN, value) is not None


def _is_hours(value: object) -> bool:
    return isinstance(value, str) and re.search(HOURS_PATTERN, value) is not None


def _is_date(value: object) -> bool:
    if not isinstance(value, str) or re.search(DATE_PATTERN, value) is None:
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


# Per declared type: does a default / bound fit, and may bounds be given at all?
_FITS: dict[str, Callable[[object], bool]] = {
    "int": _is_int,
    "decimal": _is_number,
    "string": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "duration": _is_duration,
    "hours": _is_hours,
    "date": _is_date,
}
_BOUNDED = frozenset({"int", "decimal", "duration", "hours", "date"})


class ParamSpec(_Model):
    """A declared parameter; expressions read it as params.<name>."""

    type: ParamType
    default: Scalar
    overridable: bool = False
    min: Number | str | None = None
    max: Number | str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _values_fit_type(self) -> ParamSpec:
        fits = _FITS[self.type]
        if not fits(self.default):
            raise ValueError(f"default {self.default!r} is not a valid {self.type}")
        for name, bound in (("min", self.min), ("max", self.max)):
            if bound is None:
                continue
            if self.type not in _BOUNDED:
                raise ValueError(f"{self.type} parameters take no {name}")
            if not fits(bound):
                raise ValueError(f"{name} {bound!r} is not a valid {self.type}")
        return self


class Assignee(_Model):
    role: Role
    source: Expression | None = None
    fallback: Role | None = None


class Window(_Model):
    """When an action may start and when it is due, in days after the trigger date D,
    or in hours after the triggering timestamp ('24h').

    Each end is a literal ('7d', '24h') or a duration or hours parameter
    ('params.due_days'), so that regions and stores can override due windows; see
    param_reference().
    """

    not_before: WindowOffset = "0d"
    due_by: WindowOffset
    valid_until: WindowOffset | Literal["never"] | None = None  # None: the due date


class Fallback(_Model):
    type: ActionType
    when: Expression | None = None
    template: PolicyId | None = None


class Invitation(_Model):
    """What an invitation action invites to: the gathering's id and date (expressions),
    and the seats per store (an int expression; at most that many invitations per
    store, event and date, docs/policy-format.md)."""

    event: Expression
    date: Expression
    capacity: Expression | None = None


class Action(_Model):
    nullable_keys: ClassVar[frozenset[str]] = frozenset({"when", "on"})

    type: ActionType
    recipient: Literal["customer", "referrer"] = "customer"
    assignee: Assignee
    window: Window
    template: PolicyId | None = None
    priority: int = Field(default=50, ge=0, le=100)
    when: Expression | None = None
    on: Literal["upgrade", "downgrade"] | None = None
    fallback: Fallback | None = None
    params: dict[ParamName, Expression] = Field(default_factory=dict)
    invitation: Invitation | None = None

    @model_validator(mode="after")
    def _invitation_with_type(self) -> Action:
        if (self.type == "invitation") != (self.invitation is not None):
            raise ValueError("'invitation' goes with 'type: invitation', and it needs one")
        return self


class PolicyFile(_Model):
    """One policy file."""

    kind: Literal["policy"] = "policy"
    id: PolicyId
    title: NonEmpty
    description: str | None = None
    version: int = Field(ge=1)
    effective: Effective = Field(default_factory=Effective)
    disable: Literal["allowed", "forbidden"] = "forbidden"
    scope: Scope = Field(default_factory=Scope)
    trigger: Trigger
    params: dict[ParamName, ParamSpec] = Field(default_factory=dict)
    conditions: list[Expression] = Field(default_factory=list)
    actions: list[Action] = Field(min_length=1)


Policy = PolicyFile

# ------------------------------------------------------------------ overrides


class OverrideTarget(_Model):
    """Exactly one of region / store."""

    region: NonEmpty | None = None
    store: NonEmpty | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> OverrideTarget:
        if (self.region is None) == (self.store is None):
            raise ValueError("target needs exactly one of 'region' or 'store'")
        return self


class PolicyOverride(_Model):
    enabled: bool | None = None
    params: dict[ParamName, Scalar] = Field(default_factory=dict)


class OverrideFile(_Model):
    kind: Literal["override"]
    target: OverrideTarget
    policies: dict[PolicyId, PolicyOverride]


# ------------------------------------------------------------------ templates


class Template(_Model):
    channel: ActionType
    tone: Tone
    text: dict[Locale, NonEmpty]

    @model_validator(mode="after")
    def _has_english(self) -> Template:
        if "en" not in self.text:
            raise ValueError("text needs an 'en' entry")
        return self


class TemplatesFile(_Model):
    kind: Literal["templates"]
    templates: dict[PolicyId, Template]


# ------------------------------------------------------------------ metrics

METRIC_WINDOW_PATTERN = (
    r"^(?:all|this_year|last_year|this_quarter|last_quarter|this_month|last_month"
    r"|[1-9][0-9]{0,4}d)$"
)
HISTORY_PATTERN = r"^[1-9][0-9]{0,5}d$"
Aggregate = Literal["sum", "count", "min", "max", "count_days", "last"]
ReceiptField = Literal[
    "purchase.amount", "purchase.date", "purchase.store_id", "purchase.staff_id",
    "purchase.purchase_id", "purchase.currency", "purchase.return_of", "purchase.is_return",
]
MetricWindow = Annotated[str, StringConstraints(pattern=METRIC_WINDOW_PATTERN)]
_WITH_FIELD = frozenset({"sum", "min", "max", "last"})


class MetricSpec(_Model):
    """One declared metric: an aggregate over receipts, or an expression over metrics."""

    description: str | None = None
    source: Literal["purchases"] | None = None
    aggregate: Aggregate | None = None
    of: ReceiptField | None = None
    window: MetricWindow | None = None
    where: Expression | None = None
    expression: Expression | None = None
    publish: bool = False

    @model_validator(mode="after")
    def _required(self) -> MetricSpec:
        """The schema's rules; keys of the other form are refused by `validate` (with a
        clearer message than a schema can give)."""
        if self.expression is None and self.aggregate is None:
            raise ValueError("a metric needs 'aggregate' or 'expression'")
        if self.aggregate in _WITH_FIELD and self.of is None:
            raise ValueError(f"aggregate {self.aggregate!r} needs 'of'")
        return self


class MetricsFile(_Model):
    kind: Literal["metrics"]
    history: Annotated[str, StringConstraints(pattern=HISTORY_PATTERN)] = "1096d"
    metrics: dict[ParamName, MetricSpec] = Field(min_length=1)


# ------------------------------------------------------------------ entry points


def parse_policy(data: object) -> PolicyFile:
    """The policy model, or pydantic.ValidationError."""
    return PolicyFile.model_validate(data)


def parse_override(data: object) -> OverrideFile:
    return OverrideFile.model_validate(data)


def parse_templates(data: object) -> TemplatesFile:
    return TemplatesFile.model_validate(data)


def parse_metrics(data: object) -> MetricsFile:
    return MetricsFile.model_validate(data)
