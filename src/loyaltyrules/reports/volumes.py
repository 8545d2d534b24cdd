"""Action volumes: how many actions per ISO week, policy and store, from the ledger.

An action counts in the week of its as_of (the business date that fired it), in the
ISO calendar (weeks start on Monday; 2025-12-29 is in 2026-W01). Every action the
ledger holds counts, whatever its status, escalation and routing tasks included.
Invitations also count by their answer: sent, accepted (attending included), attended.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from ..outcomes.state import connect
from ..state import StateStore
from .model import Cell, Chart, Report

__all__ = ["invitation_answers", "iso_week", "volume_counts", "volumes_report"]


def iso_week(day: str) -> str:
    year, week, _ = dt.date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def volume_counts(state: StateStore | str | Path, start: dt.date,
                  end: dt.date) -> Counter[tuple[str, str, str]]:
    """(week, policy, store) -> number of actions with as_of in start..end; every store's."""
    query = """SELECT as_of, policy, store_id, count(*) FROM actions
               WHERE as_of BETWEEN ? AND ? GROUP BY as_of, policy, store_id"""
    conn = connect(state)
    try:
        rows = conn.execute(query, (start.isoformat(), end.isoformat())).fetchall()
    finally:
        conn.close()
    counts: Counter[tuple[str, str, str]] = Counter()
    for as_of, policy, store, n in rows:
        counts[(iso_week(as_of), policy, store or "")] += int(n)
    return counts


def invitation_answers(state: StateStore | str | Path, start: dt.date,
                       end: dt.date) -> Counter[str]:
    """Invitations with as_of in start..end: sent, accepted (attending included), attended."""
    query = """SELECT o.status, count(*) FROM actions a LEFT JOIN outcomes o USING (action_id)
               WHERE a.type = 'invitation' AND a.as_of BETWEEN ? AND ? GROUP BY o.status"""
    conn = connect(state)
    try:
        rows = conn.execute(query, (start.isoformat(), end.isoformat())).fetchall()
    finally:
        conn.close()
    found: Counter[str] = Counter()
    for status, n in rows:
        found["sent"] += int(n)
        found["accepted"] += int(n) if status in ("accepted", "attended") else 0
        found["attended"] += int(n) if status == "attended" else 0
    return found


def volumes_report(state: StateStore | str | Path, start: dt.date, end: dt.date) -> Report:
    counts = volume_counts(state, start, end)
    answers = invitation_answers(state, start, end)
    rows: list[list[Cell]] = [[w, p, s, n] for (w, p, s), n in sorted(counts.items())]
    weeks = sorted({w for w, _, _ in counts})
    policies = sorted({p for _, p, _ in counts})
    by_week = Chart("Actions per week, by policy", weeks,
                    {p: [float(sum(n for (w2, p2, _), n in counts.items()
                                   if w2 == w and p2 == p)) for w in weeks] for p in policies})
    stores = sorted({s for _, _, s in counts})
    by_store = Chart("Actions per store, by policy", stores,
                     {p: [float(sum(n for (_, p2, s2), n in counts.items()
                                    if s2 == s and p2 == p)) for s in stores] for p in policies})
    per_policy = Counter[str]()
    for (_, policy, _), n in counts.items():
        per_policy[policy] += n
    return Report(
        title="Action volumes",
        subtitle=f"actions with as_of from {start} to {end}, per ISO week, policy and store",
        columns=["week", "policy", "store", "actions"], rows=rows,
        facts=[("actions", sum(counts.values())),
               *((f"policy {p}", per_policy[p]) for p in policies),
               *((f"invitations {k}", answers[k]) for k in ("sent", "accepted", "attended"))],
        charts=[by_week, by_store])
