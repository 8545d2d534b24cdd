"""Staff review: per associate, follow-ups assigned, done, on time, late, still open.

A follow-up is an action of type call, sms/email/letter (messages) or visit whose
as_of (the day it was assigned) lies in the period. Its outcome decides the column:

* done: status done; on time when completed on or before due_by, else late;
* declined: the customer declined (closed, not done);
* open: no outcome yet, or only a failed or unreachable attempt (it still needs doing);
* invitations (channel `invitations`): accepted counts those the customer accepted
  (attending included), attended those who came; both are done for the associate.

So assigned = done + declined + open and done = on time + late. Actions a contact rule
merged, expired or (still) deferred were not handed to anyone and are left out. The
associate is the action's assignee id; a task for a role as a whole shows as
`role:store` (e.g. `store_manager:S1`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, fields
from pathlib import Path

from ..outcomes.state import connect
from ..state import StateStore, dialect_of
from .model import Cell, Chart, Report

__all__ = ["CHANNELS", "StaffFigures", "staff_figures", "staff_report"]

CHANNELS = {"call": "calls", "sms": "messages", "email": "messages", "letter": "messages",
            "visit": "visits", "invitation": "invitations"}
CHANNEL_ORDER = ("calls", "messages", "visits", "invitations", "all")
DONE = ("done", "accepted", "attended")
_LEFT_OUT = ("merged", "expired", "deferred")  # not (yet) handed to anyone


@dataclass
class StaffFigures:
    assigned: int = 0
    done: int = 0
    on_time: int = 0
    late: int = 0
    declined: int = 0
    open: int = 0
    accepted: int = 0
    attended: int = 0

    def add(self, outcome: str | None, completed: str | None, due_by: str) -> None:
        self.assigned += 1
        self.accepted += outcome in ("accepted", "attended")
        self.attended += outcome == "attended"
        if outcome in DONE:
            self.done += 1
            if completed is not None and completed <= due_by:  # ISO dates compare as text
                self.on_time += 1
            else:
                self.late += 1
        elif outcome == "declined":
            self.declined += 1
        else:
            self.open += 1

    def values(self) -> list[int]:
        return [getattr(self, f.name) for f in fields(self)]


def staff_figures(state: StateStore | str | Path, start: dt.date,
                  end: dt.date) -> dict[tuple[str, str], dict[str, StaffFigures]]:
    """(store, associate) -> channel (calls, messages, ..., all) -> figures; every store's,
    so HQ reading one ledger of many stores sees each associate beside their store."""
    types = ", ".join("?" * len(CHANNELS))
    conn = connect(state)
    dialect = dialect_of(conn)
    query = f"""SELECT a.type, a.store_id, a.due_by,
                       {dialect.json_text("a.record", "assignee", "role")},
                       {dialect.json_text("a.record", "assignee", "id")},
                       o.status, o.completed_date
                FROM actions a LEFT JOIN outcomes o USING (action_id)
                WHERE a.as_of BETWEEN ? AND ? AND a.type IN ({types})
                  AND a.status NOT IN (?, ?, ?)"""
    try:
        rows = conn.execute(query, (start.isoformat(), end.isoformat(), *CHANNELS,
                                    *_LEFT_OUT)).fetchall()
    finally:
        conn.close()
    figures: dict[tuple[str, str], dict[str, StaffFigures]] = defaultdict(
        lambda: {c: StaffFigures() for c in CHANNEL_ORDER})
    for kind, store, due_by, role, staff, status, completed in rows:
        who = staff if staff else f"{role}:{store}"
        for channel in (CHANNELS[kind], "all"):
            figures[store, who][channel].add(status, completed, due_by)
    return dict(sorted(figures.items()))


def staff_report(state: StateStore | str | Path, start: dt.date, end: dt.date) -> Report:
    figures = staff_figures(state, start, end)
    total = {c: StaffFigures() for c in CHANNEL_ORDER}
    rows: list[list[Cell]] = []
    for (store, who), by_channel in figures.items():
        for channel in CHANNEL_ORDER:
            rows.append([store, who, channel, *by_channel[channel].values()])
            for name, value in zip(_names(), by_channel[channel].values(), strict=True):
                setattr(total[channel], name, getattr(total[channel], name) + value)
    rows += [["(all)", "(all)", channel, *total[channel].values()] for channel in CHANNEL_ORDER]
    whole = total["all"]
    rate = f"{100 * whole.on_time / whole.assigned:.1f}%" if whole.assigned else "-"
    chart = Chart("Follow-ups per associate", [f"{store} {who}" for store, who in figures],
                  {"on time": [float(f["all"].on_time) for f in figures.values()],
                   "late": [float(f["all"].late) for f in figures.values()],
                   "declined": [float(f["all"].declined) for f in figures.values()],
                   "open": [float(f["all"].open) for f in figures.values()]})
    return Report(
        title="Follow-ups per associate",
        subtitle=f"actions assigned from {start} to {end} (calls, messages, visits, "
                 "invitations)",
        columns=["store", "associate", "channel", *_names()], rows=rows,
        facts=[("associates", len(figures)), ("follow-ups assigned", whole.assigned),
               ("done", whole.done), ("on time", whole.on_time), ("late", whole.late),
               ("declined", whole.declined), ("still open", whole.open),
               ("invitations accepted", whole.accepted), ("invitations attended",
                                                          whole.attended),
               ("done on time (share of assigned)", rate)],
        charts=[chart])


def _names() -> list[str]:
    return [f.name for f in fields(StaffFigures)]
