"""Store calendars: which days a store is closed.

Closures come from the contact rules (dates and weekly days, for every store, a
region or one store) and, when `from_table` is set, from the `calendar` input table:
rows of kind `closed` close their region, or every region when the region is empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb

from .model import WEEKDAYS, CalendarRules


@dataclass(frozen=True)
class Closure:
    """Closed on `date`, or every `weekday`; for one store, one region, or (both None) all."""

    store: str | None = None
    region: str | None = None
    date: dt.date | None = None
    weekday: int | None = None

    def applies(self, store: str, region: str, day: dt.date) -> bool:
        if self.store is not None and self.store != store:
            return False
        if self.region is not None and self.region != region:
            return False
        return day == self.date if self.date is not None else day.weekday() == self.weekday


@dataclass(frozen=True)
class StoreCalendar:
    closures: tuple[Closure, ...] = ()
    _by_date: dict[dt.date, list[Closure]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for closure in self.closures:
            if closure.date is not None:
                self._by_date.setdefault(closure.date, []).append(closure)

    def closed(self, store: str, region: str, day: dt.date) -> bool:
        dated = self._by_date.get(day, ())
        weekly = (c for c in self.closures if c.weekday == day.weekday())
        return any(c.applies(store, region, day) for c in (*dated, *weekly))

    def next_open(self, store: str, region: str, day: dt.date, last: dt.date) -> dt.date | None:
        """The first open day after `day`, if there is one up to `last`."""
        candidate = day + dt.timedelta(days=1)
        while candidate <= last:
            if not self.closed(store, region, candidate):
                return candidate
            candidate += dt.timedelta(days=1)
        return None


def table_closures(con: duckdb.DuckDBPyConnection) -> list[Closure]:
    """The calendar table's `closed` rows; none when the table is absent."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'calendar'"
    ).fetchone()
    if not found or not found[0]:
        return []
    rows = con.execute(
        "SELECT DISTINCT nullif(trim(CAST(region AS VARCHAR)), ''), CAST(date AS DATE) "
        "FROM calendar WHERE lower(CAST(kind AS VARCHAR)) = 'closed'"
    ).fetchall()
    return [Closure(region=r[0], date=r[1]) for r in rows]


def build_calendar(rules: CalendarRules, table: Iterable[Closure] = ()) -> StoreCalendar:
    closures = [Closure(d.store, d.region, date=dt.date.fromisoformat(d.date))
                for d in rules.closed_dates]
    closures += [Closure(w.store, w.region, weekday=WEEKDAYS.index(w.weekday))
                 for w in rules.closed_weekdays]
    if rules.from_table:
        closures += table
    return StoreCalendar(tuple(closures))
