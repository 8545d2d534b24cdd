"""Occasions on the per-event path: the calendar's days, complaints and host events.

The Python twin of engine/occasions.py. `Calendar` matches entries as the batch's
SQL does (kind and name compared without regard to case, region empty or the
customer's; one occasion per name and date, the customer's own region's entry
first, the smallest kind of that entry). Complaints and events are checked like
receipts (event/receipts.py): typed values or an EventError with a code.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ..model import ScheduleTrigger
from .errors import EventError
from .receipts import _parsed, _text, _timestamp


class CalendarDay(NamedTuple):
    day: dt.date
    name: str
    kind: str | None
    region: str | None


class Calendar:
    """The `calendar` table's days, by date. Empty when the data has none."""

    def __init__(self, rows: Iterable[tuple[Any, ...]] = ()) -> None:
        self.by_date: dict[dt.date, list[CalendarDay]] = defaultdict(list)
        for day, name, kind, region in rows:
            if name is None:
                continue
            when = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
            self.by_date[when].append(CalendarDay(when, name, kind, region or None))

    def __bool__(self) -> bool:
        return bool(self.by_date)

    def rows(self) -> list[tuple[str, str, str | None, str | None]]:
        return [(d.day.isoformat(), d.name, d.kind, d.region)
                for days in self.by_date.values() for d in days]

    def occasions(self, trigger: ScheduleTrigger, day: dt.date, region: str | None
                  ) -> list[tuple[str, str | None]]:
        """(name, kind) of each matching entry on `day` for a customer of `region`."""
        match = trigger.calendar
        if match is None:
            return []
        kinds = {k.lower() for k in match.kinds}
        names = {n.lower() for n in match.names}
        chosen: dict[str, tuple[bool, str | None]] = {}
        for entry in self.by_date.get(day, ()):
            if kinds and (entry.kind is None or entry.kind.lower() not in kinds):
                continue
            if names and entry.name.lower() not in names:
                continue
            if entry.region is not None and entry.region != region:
                continue
            own = entry.region is not None  # the customer's region's entry wins
            best = chosen.get(entry.name)
            if best is None or (own and not best[0]) or (own == best[0] and _less(
                    entry.kind, best[1])):
                chosen[entry.name] = (own, entry.kind)
        return sorted((name, kind) for name, (_own, kind) in chosen.items())


def _less(kind: str | None, other: str | None) -> bool:
    """min() over kinds as SQL takes it: NULLs are skipped."""
    return kind is not None and (other is None or kind < other)


class HostEvent(NamedTuple):
    """A complaint or a host event, checked (reason.trigger `complaint` or `event`)."""

    trigger: str
    row_id: str
    customer_id: str
    store_id: str | None
    at: dt.datetime
    facts: Mapping[str, Any]  # complaint.* or event.*, as the batch's columns


# The fields of each: (id field, timestamp field, its other text fields).
FIELDS = {
    "complaint": ("complaint_id", "received_at", ("store_id", "channel", "topic", "severity")),
    "event": ("event_id", "occurred_at", ("kind", "store_id")),
}


def parse_host_event(trigger: str, event: Mapping[str, Any]) -> HostEvent:
    """A complaint or event from a mapping with its table's columns."""
    if not isinstance(event, Mapping):
        raise EventError("bad-event", f"a {trigger} must be a mapping")
    key, stamp, others = FIELDS[trigger]
    row_id = _text(event, key, required=True) or ""
    customer = _text(event, "customer_id", required=True) or ""
    at = _parsed(event, stamp, "bad-timestamp", _timestamp)
    if at is None:
        raise EventError("missing-field", f"{stamp} is required", stamp)
    texts = {name: _text(event, name) for name in others}
    if trigger == "event":
        if texts["kind"] is None:
            raise EventError("missing-field", "kind is required", "kind")
        _attributes(event.get("attributes"))
    facts = {f"{trigger}.{key}": row_id, **{f"{trigger}.{n}": v for n, v in texts.items()},
             f"{trigger}.date": at.date(), f"{trigger}.hour": at.hour}
    return HostEvent(trigger, row_id, customer, texts["store_id"], at, facts)


def _attributes(value: Any) -> None:
    """Attributes are a JSON object (or its text); they are carried, not evaluated."""
    if value is None or isinstance(value, Mapping):
        return
    if isinstance(value, str):
        try:
            if isinstance(json.loads(value), dict):
                return
        except ValueError:
            pass
    raise EventError("bad-attributes", "attributes must be a JSON object", "attributes")


__all__ = ["Calendar", "CalendarDay", "HostEvent", "parse_host_event"]
