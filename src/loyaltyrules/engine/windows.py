"""An action's window as dates (and a due time), one rule for both evaluators.

A bound in days counts from the trigger date D. A bound in hours (`24h`) counts from
the triggering timestamp (the receipt's purchased_at, the complaint's received_at,
the event's occurred_at; midnight starting D for schedules), in the store's time
zone: the time is made aware in that zone, the hours are added as elapsed time (a
night when clocks change has 23 or 25 hours), and the result is read back in the
zone. `due_at` carries the UTC offset; with no known zone, the wall-clock time is
moved and `due_at` has no offset. due_by is the date of due_at, not_before the date
of its own moment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY = dt.timedelta(days=1)


class Zones:
    """The time zone of each store (stores.timezone, else the source's default)."""

    def __init__(self, stores: Mapping[str, str | None] | None = None,
                 default: str | None = None) -> None:
        self._names = dict(stores or {})
        self._default = default
        self._zones: dict[str | None, dt.tzinfo | None] = {}

    def of(self, store: str | None) -> dt.tzinfo | None:
        """The store's zone; None when neither it nor the default names a known zone."""
        if store in self._zones:
            return self._zones[store]
        name = (self._names.get(store) if store is not None else None) or self._default
        zone = _zone(name)
        self._zones[store] = zone  # the same value from any thread: a benign race
        return zone

    def names(self) -> dict[str, str | None]:
        return dict(self._names)

    @property
    def default(self) -> str | None:
        return self._default


def _zone(name: str | None) -> dt.tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None  # an unknown zone name: wall-clock arithmetic, as with none


def later(at: dt.datetime, hours: int, zone: dt.tzinfo | None) -> dt.datetime:
    """`hours` of elapsed time after the local wall-clock time `at`, as local time."""
    if zone is None:
        return at + dt.timedelta(hours=hours)
    aware = at.replace(tzinfo=zone)
    utc = aware.astimezone(dt.timezone.utc) + dt.timedelta(hours=hours)
    return utc.astimezone(zone)


def to_local(at: dt.datetime, zone: dt.tzinfo | None) -> dt.datetime:
    """A timestamp as the store's wall-clock time: an aware one converted to the zone
    (or, with no zone, its own wall-clock time kept), a naive one as it is."""
    if at.tzinfo is None:
        return at
    return at.astimezone(zone).replace(tzinfo=None) if zone is not None else \
        at.replace(tzinfo=None)


def bound_date(day: dt.date, at: dt.datetime, value: int | None, hours: bool,
               zone: dt.tzinfo | None) -> tuple[dt.date, dt.datetime | None]:
    """A window bound's date and, for hours, its moment. A missing value is 0."""
    amount = value or 0
    if not hours:
        return day + dt.timedelta(days=amount), None
    moment = later(at, amount, zone)
    return moment.date(), moment


def window(day: dt.date, at: dt.datetime, not_before: tuple[int | None, bool],
           due_by: tuple[int | None, bool], zone: dt.tzinfo | None) -> dict[str, str]:
    """not_before, due_by and, when due_by is in hours, due_at, as record fields."""
    start, _ = bound_date(day, at, not_before[0], not_before[1], zone)
    due, moment = bound_date(day, at, due_by[0], due_by[1], zone)
    fields = {"not_before": start.isoformat(), "due_by": due.isoformat()}
    if moment is not None:
        fields["due_at"] = moment.isoformat(timespec="seconds")
    return fields


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


__all__ = ["Zones", "bound_date", "later", "midnight", "to_local", "window"]
