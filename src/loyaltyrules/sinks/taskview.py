"""What a person needs to do one task, read off its action record and the directory:
who the customer is and how to reach them, the message in their language, the reason
in words, and what is missing (flags the sheet shows instead of guessing).

Task sheets (Markdown and HTML) and the store work page show these views, so an
associate reads the same thing on paper and on the phone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .directory import CustomerCard, Directory, StaffCard
from .message import PACK_LOCALE, PERSONAL, Message, message_for
from .record import merged_items, ordered_action, reason_pairs

__all__ = ["CONTACT_FIELD", "ENRICH_HINT", "ROW_IDS", "TaskView", "Templates", "view_tasks",
           "why_words"]

Templates = Mapping[str, Mapping[str, str]]  # template id -> locale -> text
# The contact detail each channel needs (others need none).
# An invitation is extended in person or by phone: the phone.
CONTACT_FIELD = {"call": "phone", "sms": "phone", "email": "email", "letter": "address",
                 "visit": "address", "invitation": "phone"}
ENRICH_HINT = "names and contact details are off: set [sheets] enrich = true in loyaltyrules.toml"
_TRIGGERS = {
    "first_purchase": "first purchase", "crossing": "threshold crossed", "schedule": "scheduled",
    "escalation": "follow-up overdue", "routing": "feedback to pass on",
    "complaint": "reply to complaint", "event": "reply to event",
}  # fmt: skip
# The row a trigger names, shown after its words: the receipt, complaint or host event.
ROW_IDS = ("purchase_id", "complaint_id", "event_id")


@dataclass(frozen=True)
class Part:
    """One task merged into another: its own message and reason."""

    record: Mapping[str, Any]
    message: Message | None
    why: str


@dataclass
class TaskView:
    record: dict[str, Any]  # the ordered action record
    customer: CustomerCard
    contact: tuple[str, str | None] | None  # (field, value) the channel needs, if any
    message: Message | None
    why: str
    facts: list[tuple[str, str]]  # the reason's values, in words
    merged: list[Part] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


def view_tasks(tasks: Sequence[Mapping[str, Any]], directory: Directory,
               templates: Templates | None, titles: Mapping[str, str] | None,
               locale: str = PACK_LOCALE) -> list[TaskView]:
    """One view per task, in the given order (customers looked up together)."""
    records = [ordered_action(task) for task in tasks]
    directory.customers(r["customer_id"] for r in records)
    return [_view(r, directory, templates or {}, titles or {}, locale) for r in records]


def _view(record: dict[str, Any], directory: Directory, templates: Templates,
          titles: Mapping[str, str], locale: str) -> TaskView:
    customer = directory.customers([record["customer_id"]])[record["customer_id"]]
    message = message_for(record, _texts(record, templates), directory, locale)
    merged = [Part(item, message_for(_as_task(item, record), _texts(item, templates),
                                     directory, locale), why_words(item, titles))
              for item in merged_items(record)]
    view = TaskView(record, customer, _contact(record, customer, directory), message,
                    why_words(record, titles), _facts(record), merged)
    view.flags = _flags(view, directory)
    return view


def _texts(item: Mapping[str, Any], templates: Templates) -> Mapping[str, str] | None:
    return templates.get(item.get("template") or "")


def _as_task(item: Mapping[str, Any], parent: Mapping[str, Any]) -> dict[str, Any]:
    """A merged entry with its parent's customer, store and assignee (it shares them)."""
    return {**{k: parent[k] for k in ("customer_id", "store_id", "region", "assignee",
                                       "as_of", "not_before")}, **item}


def _contact(record: Mapping[str, Any], customer: CustomerCard,
             directory: Directory) -> tuple[str, str | None] | None:
    field_name = CONTACT_FIELD.get(record["type"])
    if field_name is None or not directory.enrich:
        return None
    return field_name, getattr(customer, field_name)


def _flags(view: TaskView, directory: Directory) -> list[str]:
    """What the associate must find out before acting, in plain words."""
    flags: list[str] = []
    if view.contact is not None and view.contact[1] is None:
        flags.append(f"no {view.contact[0]} in the customer file")
    messages = [view.message, *(part.message for part in view.merged)]
    missing = dict.fromkeys(name for m in messages if m for name in m.missing)
    for name in missing:
        flags.append(f"fill in {{{name}}} by hand: {_why_missing(name, view, directory)}")
    return flags


def _why_missing(name: str, view: TaskView, directory: Directory) -> str:
    if name in PERSONAL and not directory.enrich:
        return ENRICH_HINT
    if name in PERSONAL:
        return "the customer file has no name for this customer"
    if name == "store":
        return "the stores table has no name for this store"
    if name == "staff_name":
        return "the staff table has no name for the assignee"
    return "the action does not say"


def assignee_card(record: Mapping[str, Any], directory: Directory) -> StaffCard | None:
    return directory.assignee(record["assignee"], record["store_id"])


def why_words(item: Mapping[str, Any], titles: Mapping[str, str]) -> str:
    """The reason in words: the policy's title, then what triggered it and when."""
    reason = item["reason"]
    title = titles.get(item["policy"]) or item["policy"]
    words = _TRIGGERS.get(reason["trigger"], reason["trigger"].replace("_", " "))
    words += "".join(f" {reason[key]}" for key in ROW_IDS if reason.get(key) is not None)
    day = item.get("as_of")  # a merged entry has none: it shares its task's day
    return f"{title}: {words}" + (f" on {day}" if day else "")


def _facts(item: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The reason's values with readable names: `params.threshold` -> `threshold`."""
    return [(_fact_name(path), value) for path, value in reason_pairs(item)]


def _fact_name(path: str) -> str:
    head, _, rest = path.partition(".")
    words = rest if head == "params" and rest else path
    return words.replace(".", " ").replace("_", " ")
