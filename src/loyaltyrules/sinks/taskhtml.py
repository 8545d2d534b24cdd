"""Tasks as HTML for people: the printable task sheet of one associate and day, its
index, and the task cards the store work page shows too (service/workpage.py).

Pages are self-contained (style inline; no script, font, image or link to anything
outside), the same bytes for the same input (no clock, no random), and every value is
escaped. The print style fits A4 and Letter alike: the margins leave 186 mm, the
narrower of the two, and a task is never split across pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from .markdown import one_line
from .message import Message
from .taskview import ENRICH_HINT, Part, TaskView

__all__ = ["STYLE", "page", "task_card"]

STYLE = """*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK KR",
"Noto Sans CJK SC",sans-serif;color:#1d1d1f;margin:0;padding:1rem;overflow-wrap:anywhere}
main{max-width:48rem;margin:0 auto}
h1{font-size:1.35rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .4rem}
.sub{color:#555;margin:.1rem 0 .8rem}
.notice{background:#fff4d6;border-left:4px solid #d9a400;padding:.4rem .6rem;margin:.6rem 0}
.task{border:1px solid #ccc;border-radius:6px;padding:.6rem .8rem;margin:.7rem 0;
break-inside:avoid}
.task.flagged{border-color:#c0392b;border-width:2px}
.head{display:flex;flex-wrap:wrap;gap:.2rem .6rem;align-items:baseline;font-weight:600}
.kind{background:#eef2f7;border-radius:4px;padding:0 .4rem}
.cid,.aid{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:400;color:#555}
.contact{margin:.3rem 0;font-size:1.05rem}.contact a{color:#0b57d0}
.due{margin:.2rem 0}.msg{margin:.4rem 0;padding:.4rem .7rem;background:#f6f6f6;
border-left:3px solid #888}
.msg mark{background:#ffd9d4;color:#8a1c10}
.flags{margin:.3rem 0;padding-left:1.2rem;color:#8a1c10}
.why{margin:.3rem 0}.facts,.meta{color:#555;font-size:.9rem;margin:.2rem 0}
.merged{margin:.4rem 0 .2rem;padding-left:.8rem;border-left:2px dotted #aaa}
.tick{margin:.4rem 0 0;letter-spacing:.02em}
table.list{border-collapse:collapse;width:100%}
table.list th,table.list td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #ddd}
@page{margin:14mm 12mm}
@media print{body{padding:0;font-size:10pt}main{max-width:none}
a{color:inherit;text-decoration:none}.noprint{display:none}}"""

LABELS = {"sms": "SMS", "tier_change": "Tier change"}
_CONTACT_LABEL = {"phone": "Phone", "email": "Email", "address": "Address"}


def plain(value: object) -> str:
    """A value from store data, escaped and on one line (control characters flattened)."""
    return escape(one_line(str(value)))


def label(kind: str) -> str:
    return LABELS.get(kind, kind.replace("_", " ").capitalize())


def day_text(iso: str) -> str:
    """`2025-11-27 (Thu)`: ISO for the eye, the weekday for planning."""
    try:
        return f"{iso} ({dt.date.fromisoformat(iso).strftime('%a')})"
    except ValueError:
        return iso


def page(title: str, body: Sequence[str], lang: str = "en") -> str:
    return "\n".join([
        "<!DOCTYPE html>", f'<html lang="{escape(lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>",
        "<body><main>", *body, "</main></body></html>", ""])


def message_html(message: Message) -> str:
    pieces = []
    for text, value, slot in message.pieces:
        if not slot:
            pieces.append(escape(text))
        elif value is None:
            pieces.append(f"<mark>{{{escape(text)}}}</mark>")
        else:
            pieces.append(escape(value))
    return (f'<blockquote class="msg" lang="{escape(message.locale)}">'
            f"{''.join(pieces)}</blockquote>")


def _contact_html(view: TaskView) -> str:
    field_name, value = view.contact or ("", None)
    if value is None:
        return ""
    shown = plain(value)
    if field_name == "phone":
        dial = "".join(ch for ch in value if ch.isdigit() or ch == "+")
        shown = f'<a href="tel:{escape(dial)}">{shown}</a>'
    elif field_name == "email":
        shown = f'<a href="mailto:{escape(value)}">{shown}</a>'
    return f'<p class="contact">{_CONTACT_LABEL[field_name]}: {shown}</p>'


def due_text(record: Mapping[str, Any]) -> str:
    """`2025-11-27 (Thu)`, or `2025-11-27 (Thu) 14:30` for a window in hours (due_at,
    the store's local time: its offset is left off, associates read the wall clock)."""
    due_at = record.get("due_at")
    if not due_at:
        return day_text(str(record["due_by"]))
    moment = str(due_at)
    return f"{day_text(moment[:10])} {moment[11:16]}"


def invitation_text(record: Mapping[str, Any]) -> str | None:
    """`vip-q1 on 2025-12-20 (Sat)` for an invitation, else None."""
    invitation = record.get("invitation")
    if not invitation:
        return None
    return f"{invitation.get('event_id')} on {day_text(str(invitation.get('date')))}"


def _due_html(record: dict[str, Any]) -> str:
    due, start = str(record["due_by"]), str(record["not_before"])
    since = "" if start == due else f", not before {day_text(start)}"
    return (f'<p class="due">Due by <strong>{plain(due_text(record))}</strong>'
            f"{plain(since)}</p>")


def _invitation_html(record: dict[str, Any]) -> str:
    text = invitation_text(record)
    return "" if text is None else f'<p class="invite">Invite to <strong>{plain(text)}</strong></p>'


def _facts_html(facts: Sequence[tuple[str, str]]) -> str:
    if not facts:
        return ""
    return ('<p class="facts">' + " · ".join(f"{plain(k)} {plain(v)}" for k, v in facts)
            + "</p>")


def _merged_html(parts: Sequence[Part]) -> str:
    if not parts:
        return ""
    rows = [f'<div class="merged"><p><strong>Also covers</strong> {len(parts)} more '
            f"task{'s' * (len(parts) != 1)} for this customer (one contact for all; report "
            "under this task):</p>"]
    for part in parts:
        record = part.record
        rows.append(f"<p><strong>{escape(label(str(record['type'])))}</strong>, due "
                    f"{plain(due_text(record) if record.get('due_by') else '-')}: "
                    f"{plain(part.why)}</p>")
        if part.message is not None:
            rows.append(message_html(part.message))
    return "\n".join([*rows, "</div>"])


def task_card(view: TaskView, number: int | None = None, extra: str = "") -> str:
    """One task as an <article>; `extra` is appended inside (the work page's form)."""
    record = view.record
    customer = view.customer
    who = plain(customer.name) if customer.name else "Customer"
    head = [f'<span class="no">{number}.</span>' if number is not None else "",
            f'<span class="kind">{plain(label(record["type"]))}</span>',
            f"<span>{who}</span>", f'<span class="cid">{plain(customer.customer_id)}</span>']
    flags = "".join(f"<li>{escape(flag)}</li>" for flag in view.flags)
    parts = [
        f'<article class="task{" flagged" if view.flags else ""}" '
        f'id="t-{plain(record["action_id"])}">',
        f'<div class="head">{"".join(head)}</div>', _contact_html(view), _due_html(record),
        _invitation_html(record),
        message_html(view.message) if view.message is not None else "",
        f'<ul class="flags">{flags}</ul>' if flags else "",
        f'<p class="why">{plain(view.why)}</p>', _facts_html(view.facts),
        _merged_html(view.merged),
        f'<p class="meta">Priority {record["priority"]} · action '
        f'<span class="aid">{plain(record["action_id"])}</span></p>', extra, "</article>"]
    return "\n".join(p for p in parts if p)


def enrich_notice(enrich: bool) -> str:
    if enrich:
        return ""
    return f'<p class="notice">Customers are shown by id: {escape(ENRICH_HINT)}.</p>'
