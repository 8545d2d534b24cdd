"""Emitted contacts per customer and channel, for the caps."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable

from .model import Cap

_DAY = dt.timedelta(days=1)


class History:
    """The days on which actions were emitted, per (customer, channel), sorted."""

    def __init__(self, rows: Iterable[tuple[str, str, dt.date]] = ()) -> None:
        self._days: dict[tuple[str, str], list[dt.date]] = {}
        for customer, channel, day in rows:
            self.add(customer, channel, day)

    def add(self, customer: str, channel: str, day: dt.date) -> None:
        bisect.insort(self._days.setdefault((customer, channel), []), day)

    def remove(self, customer: str, channel: str, day: dt.date) -> None:
        self._days[(customer, channel)].remove(day)

    def count(self, customer: str, channel: str, first: dt.date, last: dt.date) -> int:
        days = self._days.get((customer, channel), [])
        return bisect.bisect_right(days, last) - bisect.bisect_left(days, first)

    def days(self, customer: str, channel: str) -> list[dt.date]:
        return list(self._days.get((customer, channel), []))

    def allows(self, caps: Iterable[Cap], customer: str, channel: str, day: dt.date) -> bool:
        """Whether one more on `day` keeps every window that contains `day` within its cap.

        Windows reaching after `day` matter too: a late re-run of an earlier date
        must not overfill a window that later runs already used.
        """
        if (customer, channel) not in self._days:  # nothing sent yet: only a cap of 0 refuses
            return all(cap.max >= 1 for cap in caps)
        for cap in caps:
            width = dt.timedelta(days=cap.window_days - 1)
            start = day - width
            while start <= day:
                if self.count(customer, channel, start, start + width) + 1 > cap.max:
                    return False
                start += _DAY
        return True
