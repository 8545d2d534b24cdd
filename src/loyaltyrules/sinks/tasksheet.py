"""Daily task sheets: one Markdown file per store and assignee, plus `index.md`.

A sheet lists what to do, for which customer (by id only), by when, why, and how
urgent. Template texts keep their `{placeholders}`: the host fills them in, so no
personal data ever reaches a sheet (DESIGN section 8).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import after_replace, atomic_text_file
from .markdown import code, one_line, quote, safe_file_stem
from .record import merged_details, merged_items, ordered_action, reason_pairs

__all__ = ["FALLBACK_LOCALE", "INDEX_NAME", "Templates", "write_task_sheets"]

Templates = Mapping[str, Mapping[str, str]]  # template id -> locale -> text
INDEX_NAME = "index.md"
FALLBACK_LOCALE = "en"  # every template has English (templates schema)


@dataclass
class Sheet:
    """The tasks of one assignee (a staff id, or a whole role) at one store."""

    store_id: str
    role: str
    staff_id: str | None
    tasks: list[dict[str, Any]] = field(default_factory=list)
    name: str = ""

    @property
    def who(self) -> str:
        return self.staff_id if self.staff_id is not None else self.role

    def describe(self) -> str:
        role = self.role.replace("_", " ")
        return f"{code(self.staff_id)} ({role})" if self.staff_id is not None else f"{role} (role)"


def _group(actions: Iterable[Mapping[str, Any]]) -> list[Sheet]:
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
    """`<store>-<who>.md`; names equal up to case (Windows, macOS) get a hash suffix."""
    taken: set[str] = {INDEX_NAME}
    for sheet in sheets:
        stem = f"{safe_file_stem(sheet.store_id)}-{safe_file_stem(sheet.who)}"
        if f"{stem}.md".casefold() in taken:
            key = "\x00".join((sheet.store_id, sheet.role, sheet.staff_id or ""))
            stem += "~" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
        sheet.name = f"{stem}.md"
        taken.add(sheet.name.casefold())


def _template_text(action: Mapping[str, Any], templates: Templates | None,
                   locale: str) -> str | None:
    texts = (templates or {}).get(action.get("template") or "")
    if not texts:
        return None
    return texts.get(locale) or texts.get(FALLBACK_LOCALE)


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
    if reason.get("purchase_id") is not None:
        why += f" {code(reason['purchase_id'])}"
    return why


def _values(params: Mapping[str, Any]) -> str:
    return ", ".join(code(f"{k} = {v}") for k, v in params.items())


def _merged_lines(task: Mapping[str, Any], templates: Templates | None, locale: str,
                  titles: Mapping[str, str]) -> list[str]:
    """The tasks the contact rules merged into this one, each with what, why and its id."""
    merged = merged_items(task)
    if not merged:
        return []
    count = len(merged)
    lines = [f"- **Also covers:** {count} more task{'s' * (count != 1)} for this customer, "
             "merged into this one; report the outcome under this task's action id"]
    for item in merged:
        details = [f"{label} {code(text) if label == 'template' else one_line(text)}"
                   for label, text in merged_details(item)]
        lines.append(", ".join([f"  - **{_label(item['type'])}**", *details]))
        text = _template_text(item, templates, locale)
        lines += quote(text, indent="    ") if text else []
        lines.append(f"    - **Why:** {_why(item, titles)}")
        lines += [f"      - {code(f'{fact} = {value}')}" for fact, value in reason_pairs(item)]
        if item.get("params"):
            lines.append(f"    - **Values:** {_values(item['params'])}")
        lines.append(f"    - **Merged action id:** {code(item['action_id'])}")
    return lines


def _task_lines(number: int, task: Mapping[str, Any], templates: Templates | None,
                locale: str, titles: Mapping[str, str]) -> list[str]:
    label = _label(task["type"])
    text = _template_text(task, templates, locale)
    lines = [f"## {number}. {label}: customer {code(task['customer_id'])}", "",
             f"- **What:** {label}" + (f", template {code(task['template'])}"
                                       if task["template"] else "")]
    lines += quote(text, indent="  ") if text else []
    lines += [f"- **For:** customer {code(task['customer_id'])}",
              f"- **When:** {task['not_before']} .. {task['due_by']}",
              f"- **Why:** {_why(task, titles)}"]
    lines += [f"  - {code(f'{fact} = {value}')}" for fact, value in reason_pairs(task)]
    lines += _merged_lines(task, templates, locale, titles)
    lines.append(f"- **Priority:** {task['priority']}")
    if task["params"]:
        lines.append(f"- **Values:** {_values(task['params'])}")
    return [*lines, f"- **Action id:** {code(task['action_id'])}", ""]


def _sheet_text(sheet: Sheet, templates: Templates | None, locale: str,
                titles: Mapping[str, str]) -> str:
    count = len(sheet.tasks)
    lines = [f"# Tasks for {sheet.describe()} at store {code(sheet.store_id)}", "",
             f"As of {_dates(sheet.tasks)}: {count} task{'s' * (count != 1)}, "
             "by due date, then priority (highest first).", ""]
    for number, task in enumerate(sheet.tasks, start=1):
        lines += _task_lines(number, task, templates, locale, titles)
    return "\n".join(lines)


def _index_text(sheets: list[Sheet]) -> str:
    tasks = [task for sheet in sheets for task in sheet.tasks]
    if not tasks:
        return "# Task sheets\n\nNo tasks.\n"
    lines = ["# Task sheets", "",
             f"As of {_dates(tasks)}: {len(tasks)} tasks on {len(sheets)} sheets.", ""]
    for sheet in sheets:
        count = len(sheet.tasks)
        lines.append(f"- [{sheet.name}]({sheet.name}): store {code(sheet.store_id)}, "
                     f"{sheet.describe()}, {count} task{'s' * (count != 1)}, "
                     f"first due {sheet.tasks[0]['due_by']}")
    return "\n".join([*lines, ""])


def write_task_sheets(actions: Iterable[Mapping[str, Any]], folder: str | os.PathLike[str],
                      templates: Templates | None = None, locale: str = "en",
                      titles: Mapping[str, str] | None = None, *,
                      prune: bool = False) -> list[Path]:
    """Write one sheet per (store, assignee) and `index.md` into `folder`.

    `templates` maps template id -> locale -> text; `titles` maps policy id -> title.
    Each file is replaced atomically; the index is written last. With `prune`, other
    `.md` files in the folder (sheets an earlier writing had and this one has not) are
    then removed, so the folder holds exactly what the index lists. Returns the paths
    written, sheets in index order, then the index.
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    sheets = _group(actions)
    written: list[Path] = []
    for sheet in sheets:
        path = target / sheet.name
        with atomic_text_file(path) as out:
            out.write(_sheet_text(sheet, templates, locale, titles or {}))
        written.append(path)
    index = target / INDEX_NAME
    with atomic_text_file(index) as out:
        out.write(_index_text(sheets))
    if prune:
        keep = {path.name for path in written} | {INDEX_NAME}
        after_replace(lambda: _prune(target, keep))
    return [*written, index]


def _prune(folder: Path, keep: set[str]) -> None:
    for path in folder.glob("*.md"):
        if path.name not in keep:
            path.unlink(missing_ok=True)
