"""The contact rules over one business date: each candidate emitted, deferred, merged
or expired, with a reason. Pure: the ledger is read before and written after.

Order on a day (docs/contact-rules.md): moment by moment, each receipt in event order
and then the close of the day; within a moment by priority (highest first), then
action id. Each candidate passes consent, validity, the merge into the day's
surviving staff task, the store calendar (staff tasks), then the caps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Literal

from .calendar import StoreCalendar
from .history import History
from .model import ContactRules

Status = Literal["open", "deferred", "merged", "expired"]
EMITTED: Status = "open"
STALE = "stale"
Action = dict[str, Any]
ConsentLookup = Callable[[str, str], bool]  # (customer_id, consent column) -> consent
Moment = tuple[int, dt.datetime, str]
CLOSE: Moment = (1, dt.datetime.max, "")  # after the day's last receipt


@dataclass(frozen=True)
class Decision:
    """What the rules did with one candidate on `day`.

    `record` is the action as emitted (open, merged: dates moved by the deferral) or
    as generated (deferred, expired: the original, so a later day can move it again).
    """

    record: Action
    status: Status
    day: dt.date
    reason: str | None = None
    deferred_to: dt.date | None = None
    merged_into: str | None = None

    @property
    def action_id(self) -> str:
        return str(self.record["action_id"])


@dataclass(frozen=True)
class Rules:
    """The contact rules with what they read from the data. `moments` gives each
    receipt's time (purchase_id -> purchased_at), the order of a day's decisions;
    `at_close` names the policies decided at the day's close even when a receipt
    fired them: those the point of sale leaves to the night (a rank, a class, seats),
    so the till's decisions at each receipt are the night's too."""

    contact: ContactRules
    consent: ConsentLookup
    calendar: StoreCalendar
    moments: Mapping[str, dt.datetime] = field(default_factory=dict)
    at_close: frozenset[str] = frozenset()


SurvivorKey = tuple[str, str, str | None, dt.date]  # customer, role, staff id, day


class Survivors:
    """Each day's surviving staff task per customer and assignee: the first one emitted.

    Starts from the ledger's (`known`); `updated` collects those of them that
    actions joined here, whose ledger records must be rewritten."""

    def __init__(self, known: Iterable[tuple[Action, dt.date]] = ()) -> None:
        self._tasks: dict[SurvivorKey, Action] = {}
        self._recorded: set[str] = set()
        self.updated: dict[str, Action] = {}
        for record, day in known:
            self._tasks[_key(record, day)] = record
            self._recorded.add(str(record["action_id"]))

    def find(self, record: Action, day: dt.date) -> Action | None:
        return self._tasks.get(_key(record, day))

    def add(self, record: Action, day: dt.date) -> None:
        self._tasks[_key(record, day)] = record

    def absorb(self, survivor: Action, joined: Action) -> None:
        """The survivor lists `joined` and is due by the earlier of their due dates."""
        reason = survivor["reason"]
        entry = {key: joined[key] for key in MERGED_FIELDS if key in joined}
        survivor["reason"] = {**reason, "merged": [*reason.get("merged", ()), entry]}
        due = min(_date(survivor["due_by"]), _date(joined["due_by"]))
        survivor["due_by"] = max(_date(survivor["not_before"]), due).isoformat()
        if survivor["action_id"] in self._recorded:
            self.updated[str(survivor["action_id"])] = survivor


def _key(record: Mapping[str, Any], day: dt.date) -> SurvivorKey:
    who = record["assignee"]
    return (str(record["customer_id"]), str(who["role"]), who["id"], day)


@dataclass
class Known:
    """What earlier decisions left: the emitted contacts and the days' surviving tasks."""

    history: History = field(default_factory=History)
    survivors: Survivors = field(default_factory=Survivors)


MERGED_FIELDS = ("action_id", "policy", "type", "due_by", "priority", "template", "params",
                 "reason")


def rank(action: Mapping[str, Any]) -> tuple[int, str]:
    return (-int(action["priority"]), str(action["action_id"]))


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def valid_until(action: Mapping[str, Any]) -> dt.date | None:
    """The last day the action is worth doing; None: no limit (also for records made
    before actions carried one)."""
    value = action.get("valid_until")
    return None if value is None else _date(value)


def last_day(action: Mapping[str, Any], rules: ContactRules) -> dt.date:
    """The latest day an action may be deferred to: original not_before + max_days,
    and never after its validity."""
    last = _date(action["not_before"]) + dt.timedelta(days=rules.max_deferral_days)
    valid = valid_until(action)
    return last if valid is None else min(last, valid)


def moved(action: Action, day: dt.date) -> Action:
    """The action as emitted on `day`: its window moved by the days it waited, never
    past its validity."""
    shift = day - _date(action["as_of"])
    if not shift:
        return dict(action)
    record = dict(action)
    due = _date(action["due_by"]) + shift
    valid = valid_until(action)
    due = due if valid is None else min(due, valid)
    record["due_by"] = due.isoformat()
    record["not_before"] = min(_date(action["not_before"]) + shift, due).isoformat()
    return record


def moment(action: Mapping[str, Any], day: dt.date, rules: Rules) -> Moment:
    """When on `day` the action is decided: at its receipt (an action generated for that
    day by a receipt of a policy the till decides too), else at the close of the day."""
    purchase = action["reason"].get("purchase_id")
    at = (rules.moments.get(purchase) if purchase and action["as_of"] == day.isoformat()
          and action["policy"] not in rules.at_close else None)
    return CLOSE if at is None else (0, at, str(purchase))


def decide_day(day: dt.date, candidates: Iterable[Action], known: Known, rules: Rules,
               delivery: dt.date | None = None) -> list[Decision]:
    """Every candidate's decision for `day`, moment by moment; `known` gains the
    emitted ones. `delivery`: when the outputs reach the host (default `day`)."""
    timed = sorted(((moment(a, day, rules), a) for a in candidates), key=lambda m: m[0])
    decisions: list[Decision] = []
    for _moment, together in groupby(timed, key=lambda m: m[0]):
        decisions += decide_moment(day, (a for _m, a in together), known, rules,
                                   delivery or day)
    return decisions


def decide_moment(day: dt.date, actions: Iterable[Action], known: Known, rules: Rules,
                  delivery: dt.date) -> list[Decision]:
    """The decisions of actions that arise together (one receipt, or a day's close)."""
    return [_hold(day, action, rules, delivery) or _join(day, action, known, rules)
            or _timed(day, action, known.history, rules) or _emit(day, action, known, rules)
            for action in sorted(actions, key=rank)]


def _hold(day: dt.date, action: Action, rules: Rules, delivery: dt.date) -> Decision | None:
    """Expired for want of consent, or because it would arrive after its validity."""
    channel = action["type"]
    column = rules.contact.consent.get(channel)
    if column is not None and not rules.consent(action["customer_id"], column):
        return Decision(action, "expired", day, f"no-consent:{channel}")
    valid = valid_until(action)
    if valid is not None and valid < delivery:
        return Decision(action, "expired", day, STALE)
    return None


def _merging(action: Action, rules: ContactRules) -> bool:
    return rules.staff_tasks.merge and rules.is_staff_task(action)


def _join(day: dt.date, action: Action, known: Known, rules: Rules) -> Decision | None:
    """A staff task joins the day's surviving task for its customer and assignee."""
    if not _merging(action, rules.contact):
        return None
    record = moved(action, day)
    survivor = known.survivors.find(record, day)
    if survivor is None:
        return None
    known.survivors.absorb(survivor, record)
    return Decision(record, "merged", day, "merged", merged_into=str(survivor["action_id"]))


def _timed(day: dt.date, action: Action, history: History, rules: Rules) -> Decision | None:
    """Deferred (or expired past the limit) for a closed store or a full cap."""
    channel, customer = action["type"], action["customer_id"]
    staff = rules.contact.is_staff_task(action)
    store, region = str(action["store_id"]), str(action["region"])
    if staff and rules.calendar.closed(store, region, day):
        last = last_day(action, rules.contact)
        return _defer(action, day, rules.calendar.next_open(store, region, day, last),
                      "store-closed")
    caps = rules.contact.caps_for(channel)
    if caps and not history.allows(caps, customer, channel, day):
        last = last_day(action, rules.contact)
        later = day + dt.timedelta(days=1)
        while later <= last and not (
            history.allows(caps, customer, channel, later)
            and not (staff and rules.calendar.closed(store, region, later))
        ):
            later += dt.timedelta(days=1)
        return _defer(action, day, later if later <= last else None, f"cap:{channel}")
    return None


def _defer(action: Action, day: dt.date, to: dt.date | None, reason: str) -> Decision:
    if to is None:
        return Decision(action, "expired", day, reason)
    return Decision(action, "deferred", day, reason, deferred_to=to)


def _emit(day: dt.date, action: Action, known: Known, rules: Rules) -> Decision:
    record = moved(action, day)
    known.history.add(record["customer_id"], record["type"], day)
    if _merging(record, rules.contact):
        known.survivors.add(record, day)
    return Decision(record, EMITTED, day)
