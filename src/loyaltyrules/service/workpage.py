"""The store work page: `/stores/{store}/today` lists the day's open tasks per
associate, and a tap on Done, Unreachable or Declined (an invitation: Accepted, Attended,
Declined or Unreachable) records the outcome.

Plain server-rendered HTML, no script: it works on any phone. An outcome goes through
`import_rows`, the path of `POST /v1/outcomes` and of `loyaltyrules outcomes import`
(the same checks, the same idempotent upsert, the note dropped before anything is
written). Behind the token when the service has one (a login form gives the browser a
session cookie, service/session.py); every form carries a CSRF field; without a token
(loopback only) a request must name a loopback host, which keeps out pages that
rebind their own name to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import re
import zoneinfo
from collections.abc import Awaitable, Callable, Sequence
from html import escape
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..api import Engine
from ..outcomes import REASONS
from ..sinks.directory import Directory
from ..sinks.taskhtml import STYLE, page, plain, task_card
from ..sinks.tasksheet import Sheet, group_sheets, store_html, who_html
from ..sinks.taskview import view_tasks
from .auth import is_loopback
from .outcomes import import_rows
from .people import People
from .reload import PolicyReloader
from .session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_HOURS,
    Keys,
    cookie,
    new_csrf_cookie,
    same_origin,
)
from .settings import ServiceSettings
from .worklist import WorkItem, owner_of, work_of

__all__ = ["WorkPage"]

STATUSES = {"done": "Done", "unreachable": "Unreachable", "declined": "Declined"}
# An invitation is answered by the customer: yes (accepted), came (attended), or no.
INVITATION_STATUSES = {"accepted": "Accepted", "attended": "Attended",
                       "declined": "Declined", "unreachable": "Unreachable"}
LABELS = {**STATUSES, **INVITATION_STATUSES}
TOPICS = {"": "no one", "region": "the regional office", "company": "HQ customer service"}
NOTE_LIMIT = 2000
_STYLE = STYLE + """
.bar{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
form.outcome{margin:.5rem 0 0}
.buttons{display:flex;flex-wrap:wrap;gap:.4rem;margin-top:.4rem}
button{font:inherit;min-height:44px;padding:.3rem 1rem;border-radius:6px;border:1px solid #888;
background:#fff}
button.done,button.accepted,button.attended{background:#1f7a3a;color:#fff;
border-color:#1f7a3a}
textarea,select{font:inherit;width:100%;max-width:30rem}
.ok{background:#e6f4ea;border-left:4px solid #1f7a3a;padding:.4rem .6rem}
.error{background:#fde7e4;border-left:4px solid #c0392b;padding:.4rem .6rem}
.recorded{color:#555}.overdue{color:#8a1c10;font-weight:600}"""
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Pool = Callable[..., Awaitable[Any]]


class WorkPage:
    def __init__(self, settings: ServiceSettings, engines: PolicyReloader[Engine],
                 people: People, in_pool: Pool) -> None:
        self.settings, self.engines, self.people, self.in_pool = settings, engines, people, in_pool
        self.keys = Keys.for_token(settings.token)

    def routes(self) -> list[Route]:
        return [Route("/stores/{store}/today", self.today, methods=["GET"]),
                Route("/stores/{store}/tasks/{action_id}", self.record, methods=["POST"]),
                Route("/login", self.login_form, methods=["GET"]),
                Route("/login", self.login, methods=["POST"]),
                Route("/logout", self.logout, methods=["POST"])]

    # -- the list ------------------------------------------------------------------
    async def today(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        store = request.path_params["store"]
        directory = await self.in_pool(self.people.current)
        day = _day(request.query_params.get("day"), directory, store)
        if day is None:
            return _error_page("The date must be written YYYY-MM-DD.", 400)
        items = await self.in_pool(work_of, self._state(), store, day)
        csrf = request.cookies.get(CSRF_COOKIE) or new_csrf_cookie()
        body = self._list_html(request, store, day, items, directory, self.keys.form_field(csrf))
        answer = HTMLResponse(page(f"Tasks {store} {day}", body).replace(STYLE, _STYLE))
        answer.headers["cache-control"] = "no-store"
        answer.headers["set-cookie"] = cookie(CSRF_COOKIE, csrf, secure=_https(request),
                                              max_age=SESSION_HOURS * 3600, path="/")
        return answer

    def _list_html(self, request: Request, store: str, day: dt.date, items: list[WorkItem],
                   directory: Directory, csrf: str) -> list[str]:
        open_items = [i.record for i in items if i.outcome is None]
        done = {i.record["action_id"]: i.outcome for i in items if i.outcome is not None}
        sheets = group_sheets(open_items)
        body = [f"<h1>Tasks at {store_html(store, directory)}</h1>",
                f'<p class="sub bar">{plain(day.strftime("%a %d %b %Y"))} · {len(open_items)} '
                f"open · {_day_links(store, day)}{self._logout_html(csrf)}</p>",
                _flash(request.query_params)]
        if sheets:
            body.append("<p>" + " · ".join(
                f'<a href="#who-{plain(sheet.stem)}">{who_html(sheet, directory)}</a> '
                f"({len(sheet.tasks)})" for sheet in sheets) + "</p>")
        else:
            body.append("<p>No open tasks.</p>")
        plan = self.engines.current.engine.plan
        titles = {p.id: p.spec.title for p in plan.policies}
        for sheet in sheets:
            body += self._sheet_html(sheet, day, directory, plan.templates, titles, csrf)
        if done:
            body.append(_recorded_html(items, directory))
        return body

    def _sheet_html(self, sheet: Sheet, day: dt.date, directory: Directory,
                    templates: Any, titles: dict[str, str], csrf: str) -> list[str]:
        views = view_tasks(sheet.tasks, directory, templates, titles)
        parts = [f'<section id="who-{plain(sheet.stem)}"><h2>{who_html(sheet, directory)}</h2>']
        for view in views:
            late = view.record["due_by"] < day.isoformat()
            extra = ('<p class="overdue">Overdue</p>' if late else "") + _form(
                sheet.store_id, view.record, day, csrf)
            parts.append(task_card(view, None, extra))
        return [*parts, "</section>"]

    def _logout_html(self, csrf: str) -> str:
        if self.settings.token is None:
            return ""
        return (f' · <form method="post" action="/logout" style="display:inline">'
                f'<input type="hidden" name="csrf" value="{csrf}">'
                '<button type="submit">Log out</button></form>')

    # -- recording an outcome --------------------------------------------------------
    async def record(self, request: Request) -> Response:
        refused = self._refused(request) or await self._bad_form(request)
        if refused is not None:
            return refused
        form = await _form_fields(request)
        store, action_id = request.path_params["store"], request.path_params["action_id"]
        status = form.get("status", "")
        if status not in LABELS or form.get("topic", "") not in TOPICS:
            return _error_page("Choose one of the task's buttons.", 400)
        owner = await self.in_pool(owner_of, self._state(), action_id)
        if owner is None or owner.store_id != store:
            return _error_page("No such task at this store.", 404)
        if status not in choices(owner.type):
            return _error_page(f"Choose {_words(choices(owner.type))}.", 400)
        directory = await self.in_pool(self.people.current)
        row = {"action_id": action_id, "status": status,
               "completed_at": _now(directory, store).isoformat(timespec="seconds"),
               "staff_id": owner.staff_id, "topic": form.get("topic") or None,
               "note": form.get("note", "")[:NOTE_LIMIT]}  # dropped by import_rows
        answer = await self.in_pool(import_rows, self._state(), [row])
        back = {"day": form.get("day", ""), "recorded": action_id, "status": status}
        if answer["rejected"]:
            back = {"day": form.get("day", ""), "problem": answer["rejected"][0]["reason"]}
        return RedirectResponse(f"/stores/{quote(store)}/today?{urlencode(back)}", 303)

    async def _bad_form(self, request: Request) -> Response | None:
        form = await _form_fields(request)
        if not same_origin(request.headers) or not self.keys.form_ok(
                request.cookies.get(CSRF_COOKIE), form.get("csrf")):
            return _error_page("This form is out of date or came from another site: go back, "
                               "reload the page and try again.", 403)
        return None

    # -- signing in with the token -----------------------------------------------------
    async def login_form(self, request: Request) -> Response:
        target = _local(request.query_params.get("next"))
        return HTMLResponse(page("Sign in", _login_html(target, "")).replace(STYLE, _STYLE))

    async def login(self, request: Request) -> Response:
        form = await _form_fields(request)
        target = _local(form.get("next"))
        token = self.settings.token
        if token is None:
            return RedirectResponse(target, 303)
        if not same_origin(request.headers) or not _same(form.get("token", ""), token):
            await asyncio.sleep(0.5)  # slows down guessing
            return HTMLResponse(page("Sign in", _login_html(target, "That is not the token."))
                                .replace(STYLE, _STYLE), 401)
        answer = RedirectResponse(target, 303)
        answer.headers["set-cookie"] = cookie(SESSION_COOKIE, self.keys.new_session(),
                                              secure=_https(request),
                                              max_age=SESSION_HOURS * 3600)
        return answer

    async def logout(self, request: Request) -> Response:
        refused = await self._bad_form(request)
        if refused is not None:
            return refused
        answer = RedirectResponse("/login", 303)
        answer.headers["set-cookie"] = cookie(SESSION_COOKIE, "", secure=_https(request),
                                              max_age=0)
        return answer

    # -- helpers -------------------------------------------------------------------------
    def _refused(self, request: Request) -> Response | None:
        """Without a token the service is loopback-only: the Host must say so too."""
        host = request.headers.get("host", "").rsplit(":", 1)[0]
        if self.settings.token is None and not is_loopback(host):
            return _error_page("This page answers on localhost only.", 403)
        if self.settings.state is None:
            return _error_page("The service runs without a state file.", 503)
        return None

    def _state(self) -> Any:
        return self.settings.state


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


async def _form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (the first value of each); the body is bounded by the
    service's request size limit (and read once: Starlette keeps it)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body).items()}


def choices(action_type: str) -> dict[str, str]:
    """The outcomes the page offers for a task of this type (status -> button)."""
    return INVITATION_STATUSES if action_type == "invitation" else STATUSES


def _words(options: dict[str, str]) -> str:
    names = list(options.values())
    return ", ".join(names[:-1]) + " or " + names[-1]


def _form(store: str, record: dict[str, Any], day: dt.date, csrf: str) -> str:
    action_id = record["action_id"]
    topics = "".join(f'<option value="{k}">{escape(v)}</option>' for k, v in TOPICS.items())
    buttons = "".join(
        f'<button type="submit" name="status" value="{k}" class="{k}">{v}</button>'
        for k, v in choices(record["type"]).items())
    return (f'<form class="outcome" method="post" action="/stores/{quote(store)}/tasks/'
            f'{quote(action_id)}"><input type="hidden" name="csrf" value="{csrf}">'
            f'<input type="hidden" name="day" value="{day}">'
            "<details><summary>Note or feedback</summary>"
            f'<label>Note (not kept by loyaltyrules)<textarea name="note" rows="2" '
            f'maxlength="{NOTE_LIMIT}"></textarea></label>'
            f'<label>Feedback for <select name="topic">{topics}</select></label></details>'
            f'<div class="buttons">{buttons}</div></form>')


def _recorded_html(items: Sequence[WorkItem], directory: Directory) -> str:
    rows = []
    for item in items:
        if item.outcome is None:
            continue
        record = item.record
        card = directory.customers([record["customer_id"]])[record["customer_id"]]
        who = plain(card.name) + " " if card.name else ""
        rows.append(f"<li>{plain(LABELS.get(item.outcome, item.outcome))}: "
                    f"{plain(record['type'])} {who}<span class=\"cid\">"
                    f"{plain(record['customer_id'])}</span></li>")
    return f'<h2>Recorded</h2><ul class="recorded">{"".join(rows)}</ul>'


def _flash(params: Any) -> str:
    if params.get("problem") in REASONS:
        message = REASONS[params["problem"]].replace("{column}", "the outcome")
        return f'<p class="error">Not recorded: {escape(message)}.</p>'
    if params.get("recorded") and params.get("status") in LABELS:
        return (f'<p class="ok">Recorded: {LABELS[params["status"]].lower()} '
                f'<span class="aid">{plain(params["recorded"])}</span>.</p>')
    return ""


def _day_links(store: str, day: dt.date) -> str:
    def link(other: dt.date, text: str) -> str:
        return f'<a href="/stores/{quote(store)}/today?day={other}">{text}</a>'

    return f"{link(day - dt.timedelta(days=1), '‹ previous day')} · " \
           f"{link(day + dt.timedelta(days=1), 'next day ›')}"


def _login_html(target: str, problem: str) -> list[str]:
    return ["<h1>Sign in</h1>",
            f'<p class="error">{escape(problem)}</p>' if problem else "",
            '<form method="post" action="/login">',
            f'<input type="hidden" name="next" value="{escape(target)}">',
            '<label>Service token<br><input type="password" name="token" '
            'autocomplete="current-password" required style="font:inherit;width:100%;'
            'max-width:30rem"></label>',
            '<div class="buttons"><button type="submit" class="done">Sign in</button></div>',
            "</form>"]


def _local(target: str | None) -> str:
    """Only a path of this service's work pages may follow a login (no open redirect)."""
    if target and target.startswith("/stores/") and "//" not in target and "\\" not in target:
        return target
    return "/login"


def _error_page(message: str, status: int) -> Response:
    return HTMLResponse(page("Not done", [f'<p class="error">{escape(message)}</p>']), status)


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


def _zone(directory: Directory, store: str) -> dt.tzinfo | None:
    name = directory.store(store).timezone
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _now(directory: Directory, store: str) -> dt.datetime:
    """The store's wall-clock time (its time zone, else the machine's), as outcomes
    are written: store-local, without an offset."""
    zone = _zone(directory, store)
    return (dt.datetime.now(zone) if zone else dt.datetime.now()).replace(tzinfo=None)


def _day(given: str | None, directory: Directory, store: str) -> dt.date | None:
    if not given:
        return _now(directory, store).date()
    if not _DAY.match(given):
        return None
    try:
        return dt.date.fromisoformat(given)
    except ValueError:
        return None
