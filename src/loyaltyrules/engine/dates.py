"""The dates a schedule fires on, as one Python rule for both evaluators.

The batch evaluator lists a range's dates with `dates_in` and hands them to DuckDB as
constants; the per-event evaluator asks `fires_on` for one date. Both read the same
functions, so "the second Sunday of May" or "day 31 of every month" cannot mean two
things. `every: day` and `every: calendar` are not date rules (every date; the dates
of the calendar table): `fires_on` is true for them and the caller narrows.
"""

from __future__ import annotations

import calendar
import datetime as dt

from ..model import NthWeekday, ScheduleTrigger

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
QUARTER_MONTHS = (1, 4, 7, 10)


def is_leap(year: int) -> bool:
    return calendar.isleap(year)


def month_day(on: str, day: dt.date) -> bool:
    """A yearly MM-DD date (29 February: 28 February in other years)."""
    month, dom = (int(p) for p in on.split("-"))
    if (day.month, day.day) == (month, dom):
        return True
    return (month, dom) == (2, 29) and (day.month, day.day) == (2, 28) and not is_leap(day.year)


def day_of_month(on: str, day: dt.date) -> bool:
    """`day N` of every month; past a month's end, its last day (day 31 on 30 April)."""
    wanted = int(on.removeprefix("day "))
    last = calendar.monthrange(day.year, day.month)[1]
    return day.day == min(wanted, last)


def nth_weekday(rule: NthWeekday, day: dt.date) -> bool:
    """The n-th (or, for -1, the last) given weekday of the month (and of `month`)."""
    if rule.month is not None and day.month != rule.month:
        return False
    if day.isoweekday() != WEEKDAYS.index(rule.weekday) + 1:
        return False
    if rule.nth == -1:
        return day.day + 7 > calendar.monthrange(day.year, day.month)[1]
    return (day.day - 1) // 7 + 1 == rule.nth


def fires_on(trigger: ScheduleTrigger, day: dt.date) -> bool:
    """Whether a schedule's date rule holds on `day` (always for day and calendar)."""
    on = trigger.on
    if trigger.every == "quarter":
        return day.day == 1 and day.month in QUARTER_MONTHS
    if isinstance(on, NthWeekday):
        return nth_weekday(on, day)
    if trigger.every == "year" and on is not None:
        return month_day(on, day)
    if trigger.every == "month" and on is not None:
        return day_of_month(on, day)
    return True


def dates_in(trigger: ScheduleTrigger, start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from start to end on which the schedule's date rule holds."""
    days = (end - start).days + 1
    return [d for i in range(max(days, 0))
            if fires_on(trigger, d := start + dt.timedelta(days=i))]


def is_date_rule(trigger: ScheduleTrigger) -> bool:
    """A rule picking some dates of the year (not every day, not the calendar table)."""
    return trigger.every in ("year", "month", "quarter")


__all__ = ["WEEKDAYS", "dates_in", "fires_on", "is_date_rule"]
