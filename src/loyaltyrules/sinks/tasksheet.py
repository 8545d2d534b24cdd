"""Daily task sheets: per store and assignee, a Markdown file and a printable HTML page,
plus `index.md` and `index.html`.

A sheet lists what to do, for which customer, by when, why, and how urgent, with the
message rendered in the customer's language (sinks/message.py). Customers' names and
contact details appear only when the directory was read with enrichment on (the
store's choice, `[sheets] enrich`); otherwise a sheet shows ids, and a placeholder it
cannot fill is flagged, never guessed (DESIGN section 8).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import after_replace, atomic_text_file
from .directory import Directory
from .markdown import code, one_line, quote, safe_file_stem, words
from .message import PACK_LOCALE, Message
from .record import merged_details, ordered_action, reason_pairs
from .taskhtml import day_text, enrich_notice, invitation_text, page, plain, task_card
from .taskview import ROW_IDS, TaskView, Templates, assignee_card, view_tasks

__all__ = ["FALLBACK_LOCALE", "INDEX_NAME", "INDEX_PAGE", "Sheet", "Templates", "group_sheets",
           "store_html", "who_html", "write_task_sheets"]

INDEX_NAME = "index.md"
INDEX_PAGE = "index.html"
FALLBACK_LOCALE = PACK_LOCALE
_SHEET_FILES = ("*.md", "*.html")


@dataclass
class Sheet:
    """The tasks of one assignee (a staff id, or a whole role) at one store."""

    store_id: str
    role: str
    staff_id: str | None
    tasks: list[dict[str, Any]] = field(default_factory=list)
    stem: str = ""

    @property
    def name(self) -> str:
        return f"{self.stem}.md"

    @property
    def page(self) -> str:
        return f"{self.stem}.html"

    @property
    def who(self) -> str:
        return self.staff_id if self.staff_id is not None else self.role

    def describe(self, name: str | None = None) -> str:
        """`E7` (store staff), with the person's name first when known."""
        role = self.role.replace("_", " ")
        shown = f"{code(self.staff_id)} ({role})" if self.staff_id is not None else f"{role} (role)"
        return f"{words(name)}, {shown}" if name else shown


def group_sheets(actions: Iterable[Mapping[str, Any]]) -> list[Sheet]:
    sheets: dict[tuple[str, str, str], Sheet] = {}
    for action in actions:
        record = ordered_action(action)
        store, assignee = record["store_id"], record["assignee"]
        role, staff = assignee["role"], assignee["id"]
        key = (store, "id", staff) if staff is not None else (store, "role", role)
        sheet = sheets.setdefault(key, Sheet(store, role, staff))
        sheet.tasks.append(record)
    for sheet in sheets.values():
        sheet.tasks.sort(key=lambda a: (a["due_by"], -a["priority"], a["not_before"],
                                        a["customer_id"], a["action_id"]))
    ordered = [sheets[key] for key in sorted(sheets)]
    _name(ordered)
    return ordered


def _name(sheets: list[Sheet]) -> None:
    """`<store>-<who>.md` and `.html`; names equal up to case (Windows, macOS) get a
    hash suffix."""
    taken: set[str] = {"index"}
    for sheet in sheets:
        stem = f"{safe_file_stem(sheet.store_id)}-{safe_file_stem(sheet.who)}"
        if stem.casefold() in taken:
            key = "\x00".join((sheet.store_id, sheet.role, sheet.staff_id or ""))
            stem += "~" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
        sheet.stem = stem
        taken.add(stem.casefold())


def _dates(tasks: list[dict[str, Any]]) -> str:
    days = sorted({task["as_of"] for task in tasks})
    return days[0] if len(days) == 1 else f"{days[0]} .. {days[-1]}"


def _label(action_type: str) -> str:
    return one_line(action_type.replace("_", " ").capitalize())


def _why(item: Mapping[str, Any], titles: Mapping[str, str]) -> str:
    """Policy title (else id), its id and version if known, the trigger, the purchase."""
    reason = item["reason"]
    title = one_line(titles.get(item["policy"], "")) or item["policy"]
    version = f" v{item['policy_version']}" if "policy_version" in item else ""
    trigger = one_line(reason["trigger"].replace("_", " "))
    why = f"{title} ({code(item['policy'])}{version}), {trigger}"
    why += "".join(f" {code(reason[key])}" for key in ROW_IDS if reason.get(key) is not None)
    return why


def _values(params: Mapping[str, Any]) -> str:
    return ", ".join(code(f"{k} = {v}") for k, v in params.items())


def _merged_lines(view: TaskView, titles: Mapping[str, str]) -> list[str]:
    """The tasks the contact rules merged into this one, each with what, why and its id."""
    if not view.merged:
        return []
    count = len(view.merged)
    lines = [f"- **Also covers:** {count} more task{'s' * (count != 1)} for this customer, "
             "merged into this one; report the outcome under this task's action id"]
    for part in view.merged:
        item = part.record
        details = [f"{label} {code(text) if label == 'template' else one_line(text)}"
                   for label, text in merged_details(item)]
        lines.append(", ".join([f"  - **{_label(item['type'])}**", *details]))
        lines += quote(_message_md(part.message), indent="    ") if part.message else []
        lines.append(f"    - **Why:** {_why(item, titles)}")
        lines += [f"      - {code(f'{fact} = {value}')}" for fact, value in reason_pairs(item)]
        if item.get("params"):
            lines.append(f"    - **Values:** {_values(item['params'])}")
        lines.append(f"    - **Merged action id:** {code(item['action_id'])}")
    return lines


def _task_lines(number: int, view: TaskView, titles: Mapping[str, str]) -> list[str]:
    task = view.record
    label = _label(task["type"])
    name = view.customer.name
    lines = [f"## {number}. {label}: customer {code(task['customer_id'])}", "",
             f"- **What:** {label}" + (f", template {code(task['template'])}"
                                       if task["template"] else "")
             + (f" ({view.message.locale})" if view.message else "")]
    lines += quote(_message_md(view.message), indent="  ") if view.message else []
    lines.append("- **For:** " + (f"{words(name)}, " if name else "")
                 + f"customer {code(task['customer_id'])}")
    if view.contact is not None:
        field_name, value = view.contact
        lines.append(f"- **{field_name.capitalize()}:** "
                     + (code(value) if value else "(none in the customer file)"))
    lines += [f"- **Check:** {one_line(flag)}" for flag in view.flags]
    invitation = invitation_text(task)
    lines += [f"- **Invite to:** {words(invitation)}"] if invitation else []
    lines += [f"- **When:** {task['not_before']} .. {task.get('due_at') or task['due_by']}",
              f"- **Why:** {_why(task, titles)}"]
    lines += [f"  - {code(f'{fact} = {value}')}" for fact, value in reason_pairs(task)]
    lines += _merged_lines(view, titles)
    lines.append(f"- **Priority:** {task['priority']}")
    if task["params"]:
        lines.append(f"- **Values:** {_values(task['params'])}")
    return [*lines, f"- **Action id:** {code(task['action_id'])}", ""]


def _message_md(message: Message) -> str:
    """HQ's text as written, the values filled in from store data made inert."""
    return "".join(words(value) if slot and value is not None
                   else "{" + text + "}" if slot else text
                   for text, value, slot in message.pieces)


def _sheet_text(sheet: Sheet, views: list[TaskView], titles: Mapping[str, str],
                directory: Directory) -> str:
    count = len(sheet.tasks)
    person = assignee_card(sheet.tasks[0], directory)
    store = directory.store(sheet.store_id).name
    lines = [f"# Tasks for {sheet.describe(person.name if person else None)} at "
             + (f"{words(store)} (store {code(sheet.store_id)})" if store
                else f"store {code(sheet.store_id)}"), "",
             f"As of {_dates(sheet.tasks)}: {count} task{'s' * (count != 1)}, "
             "by due date, then priority (highest first).", ""]
    for number, view in enumerate(views, start=1):
        lines += _task_lines(number, view, titles)
    return "\n".join(lines)


def _index_text(sheets: list[Sheet], directory: Directory) -> str:
    tasks = [task for sheet in sheets for task in sheet.tasks]
    if not tasks:
        return "# Task sheets\n\nNo tasks.\n"
    lines = ["# Task sheets", "",
             f"As of {_dates(tasks)}: {len(tasks)} tasks on {len(sheets)} sheets.", ""]
    for sheet in sheets:
        count = len(sheet.tasks)
        person = assignee_card(sheet.tasks[0], directory)
        lines.append(f"- [{sheet.name}]({sheet.name}): store {code(sheet.store_id)}, "
                     f"{sheet.describe(person.name if person else None)}, "
                     f"{count} task{'s' * (count != 1)}, "
                     f"first due {sheet.tasks[0]['due_by']}")
    return "\n".join([*lines, ""])


def who_html(sheet: Sheet, directory: Directory) -> str:
    """`Kim Hana (E1, store manager)`, or the id and role alone."""
    person = assignee_card(sheet.tasks[0], directory)
    role = sheet.role.replace("_", " ")
    ident = f"{sheet.staff_id}, {role}" if sheet.staff_id is not None else f"{role}, role"
    if person is not None and person.name:
        return f"{plain(person.name)} <small>({plain(ident)})</small>"
    return plain(sheet.staff_id or f"{role} (role)") + (
        f" <small>({plain(role)})</small>" if sheet.staff_id is not None else "")


def store_html(store_id: str, directory: Directory) -> str:
    name = directory.store(store_id).name
    return f"{plain(name)} ({plain(store_id)})" if name else f"store {plain(store_id)}"


def _sheet_page(sheet: Sheet, views: list[TaskView], directory: Directory) -> str:
    count = len(sheet.tasks)
    head = [f"<h1>Tasks for {who_html(sheet, directory)}</h1>",
            f'<p class="sub">{store_html(sheet.store_id, directory)} · '
            f"{plain(_day_span(sheet.tasks))} · {count} task{'s' * (count != 1)}, by due "
            "date, then priority · tick one box per task and report it under its action "
            "id</p>", enrich_notice(directory.enrich)]
    tick = '<p class="tick">☐ done &nbsp; ☐ unreachable &nbsp; ☐ declined</p>'
    cards = [task_card(view, number, tick) for number, view in enumerate(views, start=1)]
    title = f"Tasks {sheet.store_id} {sheet.who} {_dates(sheet.tasks)}"
    return page(title, [*head, *cards])


def _day_span(tasks: list[dict[str, Any]]) -> str:
    days = sorted({task["as_of"] for task in tasks})
    return day_text(days[0]) if len(days) == 1 else f"{days[0]} .. {days[-1]}"


def _index_page(sheets: list[Sheet], directory: Directory) -> str:
    if not any(sheet.tasks for sheet in sheets):
        return page("Task sheets", ["<h1>Task sheets</h1>", "<p>No tasks.</p>"])
    tasks = [task for sheet in sheets for task in sheet.tasks]
    rows = ["<tr><th>Store</th><th>For</th><th>Tasks</th><th>First due</th></tr>"]
    for sheet in sheets:
        rows.append(f'<tr><td>{store_html(sheet.store_id, directory)}</td><td><a href="'
                    f'{plain(sheet.page)}">{who_html(sheet, directory)}</a></td>'
                    f"<td>{len(sheet.tasks)}</td><td>{plain(sheet.tasks[0]['due_by'])}</td></tr>")
    return page(f"Task sheets {_dates(tasks)}", [
        "<h1>Task sheets</h1>",
        f'<p class="sub">As of {plain(_day_span(tasks))}: {len(tasks)} tasks on '
        f"{len(sheets)} sheets.</p>", f'<table class="list">{"".join(rows)}</table>'])


def write_task_sheets(actions: Iterable[Mapping[str, Any]], folder: str | os.PathLike[str],
                      templates: Templates | None = None, locale: str = PACK_LOCALE,
                      titles: Mapping[str, str] | None = None, *, prune: bool = False,
                      directory: Directory | None = None) -> list[Path]:
    """Write one Markdown sheet and one HTML page per (store, assignee), then
    `index.html` and `index.md`, into `folder`.

    `templates` maps template id -> locale -> text; `locale` is the pack's default
    language; `titles` maps policy id -> title; `directory` says who is who (without
    one, customers are ids and only the action's own values fill messages). Each file
    is replaced atomically; `index.md` is written last. With `prune`, other `.md` and
    `.html` files in the folder (sheets an earlier writing had and this one has not)
    are then removed, so the folder holds exactly what the index lists. Returns the
    paths written, each sheet's two files in index order, then the two indexes.
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    people = directory if directory is not None else Directory()
    sheets = group_sheets(actions)
    written: list[Path] = []
    for sheet in sheets:
        views = view_tasks(sheet.tasks, people, templates, titles, locale)
        written += _write(target / sheet.name, _sheet_text(sheet, views, titles or {}, people))
        written += _write(target / sheet.page, _sheet_page(sheet, views, people))
    written += _write(target / INDEX_PAGE, _index_page(sheets, people))
    written += _write(target / INDEX_NAME, _index_text(sheets, people))
    if prune:
        keep = {path.name for path in written}
        after_replace(lambda: _prune(target, keep))
    return written


def _write(path: Path, text: str) -> list[Path]:
    with atomic_text_file(path) as out:
        out.write(text)
    return [path]


def _prune(folder: Path, keep: set[str]) -> None:
    for pattern in _SHEET_FILES:
        for path in folder.glob(pattern):
            if path.name not in keep:
                path.unlink(missing_ok=True)
