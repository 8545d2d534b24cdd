"""Catch-up after missed nights on the example store: what is past its validity expires
as stale instead of arriving late, escalation covers the follow-ups falling overdue
on the run's dates only, and a range escalates what its nights escalate."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.nightly import load_source, run_range
from loyaltyrules.plan import Plan

from _paths import PACK

YEAR_BEFORE, LAST, NEXT = "2024-11-21", "2025-11-20", "2025-11-21"


def _run(store: Path, state: Path, out: Path, *dates: str) -> dict[str, Any]:
    summary = out.parent / f"{out.name}-summary.json"
    result = CliRunner().invoke(cli, [
        "run", *dates, "--data", str(store), "--state", str(state), "--out", str(out),
        "--policies", str(PACK), "--quiet", "--summary-json", str(summary)])
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(summary.read_text("utf-8"))
    return found


def _rows(state: Path, where: str = "1") -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(state)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(f"SELECT * FROM actions WHERE {where}")]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_a_year_of_catch_up_then_the_next_night(example_store: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    year = _run(example_store, state, tmp_path / "year", "--as-of", YEAR_BEFORE,
                "--through", LAST)
    # what the host receives from the catch-up (a file per date): nothing past its day
    received = [a for day in sorted((tmp_path / "year").glob("actions-*.jsonl"))
                for a in _lines(day)]
    assert received and len(received) == year["contact"]["emitted"]
    greetings = [a for a in received if a["policy"] == "birthday-greeting"]
    assert all(a["as_of"] == LAST for a in greetings)
    assert all(a["valid_until"] is None or a["valid_until"] >= LAST for a in received)
    stale = year["contact"]["reasons"]["expired stale"]
    late_greetings = _rows(state, "policy = 'birthday-greeting' AND status_reason = 'stale'")
    assert stale >= len(late_greetings) > 250  # a year of birthdays, not sent months late
    assert {r["status"] for r in _rows(state, f"as_of < '{LAST}' AND type = 'sms'")} <= {
        "expired"}
    tiers = _rows(state, "policy = 'vip-tiers'")
    assert tiers and all(r["status"] == "open" for r in tiers)  # a tier change never stales

    night = _run(example_store, state, tmp_path / "night", "--as-of", NEXT)
    escalated = [json.loads(r["record"]) for r in _rows(state, "policy = 'escalation'")]
    originals = {r["action_id"]: r for r in _rows(state)}
    assert night["per_policy"].get("escalation", {"candidates": 0})["candidates"] == len(
        escalated) < 10
    for task in escalated:  # only follow-ups (staff tasks) falling overdue that night
        original = originals[task["params"]["original_action_id"]]
        # due by the last day, or due at an hour of the next (a complaint's 24 hours)
        due_at = json.loads(original["record"]).get("due_at")
        assert task["as_of"] == NEXT
        assert original["due_by"] == LAST or (due_at and due_at.startswith(NEXT))
        assert original["type"] in ("call", "visit", "gift", "task")


def _escalations(state: Path) -> dict[str, tuple[str, str | None]]:
    return {json.loads(r["record"])["params"]["original_action_id"]:
            (r["status"], r["status_reason"]) for r in _rows(state, "policy = 'escalation'")}


def test_a_range_escalates_what_its_nights_escalate(example_store: Path, tmp_path: Path,
                                                    pack_plan: Plan) -> None:
    source = load_source(example_store, dt.date(2025, 3, 31), None)
    before = tmp_path / "before.sqlite"
    first, last = dt.date(2025, 3, 4), dt.date(2025, 3, 17)
    run_range(pack_plan, source, dt.date(2025, 2, 1), first - dt.timedelta(1), before)
    nights, in_one = tmp_path / "nights.sqlite", tmp_path / "range.sqlite"
    shutil.copy(before, nights)
    shutil.copy(before, in_one)
    for n in range((last - first).days + 1):
        run_range(pack_plan, source, first + dt.timedelta(n), first + dt.timedelta(n), nights)
    run_range(pack_plan, source, first, last, in_one)
    by_night, by_range = _escalations(nights), _escalations(in_one)
    # what the range delivers late it expires instead, and a stale follow-up is not
    # escalated: the range escalates all the rest, with the same decisions
    stale = {r["action_id"] for r in _rows(in_one, "status_reason = 'stale'")}
    # a task whose earlier due date came from one that joined it on its night, and
    # that the range expired as stale instead, keeps its own later due date there
    joined = {r["merged_into"] for r in _rows(nights, "status = 'merged'")
              if r["action_id"] in stale}
    assert by_range == {k: v for k, v in by_night.items() if k not in stale | joined}
    assert by_range and len(by_night) > len(by_range)  # both kinds are in play
