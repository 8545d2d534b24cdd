"""The contact rules as a typed, immutable model (mirrors schemas/contact-rules.schema.json).

Absent sections take the defaults of the product design: consent per channel, at
most one sms per customer per 3 days, deferral up to 7 days, staff tasks merged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ..model import ActionType, Role

ConsentColumn = Literal["consent_sms", "consent_call", "consent_mail", "consent_visit"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)  # fmt: skip
DAYS_PATTERN = r"^[1-9][0-9]{0,2}d$"
STAFF_ROLES = frozenset({"store_staff", "store_manager"})


def _real_date(text: str) -> str:
    dt.date.fromisoformat(text)  # the pattern passed; the day must also exist
    return text


Days = Annotated[str, StringConstraints(pattern=DAYS_PATTERN)]
DateText = Annotated[
    str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), AfterValidator(_real_date)
]
Scoped = Annotated[str, StringConstraints(min_length=1)]


def days(text: str) -> int:
    """'3d' -> 3."""
    return int(text[:-1])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, regex_engine="python-re")


class Cap(_Model):
    channel: ActionType
    max: int = Field(ge=1, le=1000)
    window: Days

    @property
    def window_days(self) -> int:
        return days(self.window)


class Deferral(_Model):
    max_days: Days = "7d"


class StaffTasks(_Model):
    roles: tuple[Role, ...] = ("store_staff", "store_manager")
    types: tuple[ActionType, ...] = ("call", "visit", "gift", "task")
    merge: bool = True


class ClosedDate(_Model):
    date: DateText
    name: str | None = None
    store: Scoped | None = None
    region: Scoped | None = None


class ClosedWeekday(_Model):
    weekday: Weekday
    store: Scoped | None = None
    region: Scoped | None = None


class CalendarRules(_Model):
    from_table: bool = True
    closed_dates: tuple[ClosedDate, ...] = ()
    closed_weekdays: tuple[ClosedWeekday, ...] = ()


DEFAULT_CONSENT: dict[ActionType, ConsentColumn] = {
    "sms": "consent_sms", "call": "consent_call", "letter": "consent_mail",
    "visit": "consent_visit",
}  # fmt: skip


class ContactRules(_Model):
    kind: Literal["contact-rules"] = "contact-rules"
    consent: dict[ActionType, ConsentColumn] = Field(default_factory=lambda: dict(DEFAULT_CONSENT))
    caps: tuple[Cap, ...] = (Cap(channel="sms", max=1, window="3d"),)
    deferral: Deferral = Deferral()
    staff_tasks: StaffTasks = StaffTasks()
    calendar: CalendarRules = CalendarRules()

    @property
    def max_deferral_days(self) -> int:
        return days(self.deferral.max_days)

    def caps_for(self, channel: str) -> tuple[Cap, ...]:
        return self.caps_by_channel.get(channel, ())

    @cached_property
    def caps_by_channel(self) -> dict[str, tuple[Cap, ...]]:
        """Asked for every candidate of a range: worked out once (the rules are frozen)."""
        found: dict[str, tuple[Cap, ...]] = {}
        for cap in self.caps:
            found[cap.channel] = (*found.get(cap.channel, ()), cap)
        return found

    def is_staff_task(self, action: Mapping[str, Any]) -> bool:
        return (action["type"] in self.staff_tasks.types
                and action["assignee"]["role"] in self.staff_tasks.roles)


DEFAULT_RULES = ContactRules()


def parse_contact_rules(data: object) -> ContactRules:
    """A model from schema-valid YAML data (lists arrive as lists: strict wants tuples)."""
    return ContactRules.model_validate(_tuples(data), strict=False)


def _tuples(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value
