"""One test per contact rule, the contact-rules file kind, and `run` on the example store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.contact import (
    DEFAULT_RULES,
    Closure,
    History,
    Known,
    Rules,
    StoreCalendar,
    apply_range,
    decide_day,
)
from loyaltyrules.validation.pipeline import validate_paths

D = dt.date(2025, 3, 3)


def _action(aid: str, type_: str = "sms", priority: int = 50, role: str = "store_staff",
            customer: str = "C1", day: dt.date = D) -> dict[str, Any]:
    return {"action_id": aid, "policy": "p", "type": type_, "customer_id": customer,
            "store_id": "S1", "region": "north", "assignee": {"role": role, "id": "E1"},
            "not_before": day.isoformat(), "due_by": (day + dt.timedelta(2)).isoformat(),
            "as_of": day.isoformat(), "priority": priority, "template": None, "params": {},
            "reason": {"trigger": "schedule", "values": {"why": aid}}}


def _rules(consent: bool = True, closed: tuple[Closure, ...] = ()) -> Rules:
    return Rules(DEFAULT_RULES, lambda _c, _col: consent, StoreCalendar(closed))


def test_no_consent_expires_with_the_channel() -> None:
    [decision] = decide_day(D, [_action("a")], Known(), _rules(consent=False))
    assert (decision.status, decision.reason) == ("expired", "no-consent:sms")


def test_cap_defers_the_lower_priority_to_the_next_allowed_day_and_moves_its_window() -> None:
    result = apply_range(D, D + dt.timedelta(10), [_action("lo", priority=10),
                                                   _action("hi", priority=90)],
                         (), History(), _rules())
    hi, lo = result.decisions["hi"], result.decisions["lo"]
    assert hi.status == "open" and hi.day == D
    assert lo.status == "open" and lo.day == D + dt.timedelta(3)
    assert lo.record["not_before"] == "2025-03-06" and lo.record["due_by"] == "2025-03-08"
    assert result.counts == {"emitted": 2, "deferred": 0, "merged": 0, "expired": 0}


def test_cap_expires_past_the_deferral_limit() -> None:
    history = History(("C1", "sms", D + dt.timedelta(n)) for n in range(0, 12, 2))
    [decision] = decide_day(D, [_action("a")], Known(history), _rules())
    assert (decision.status, decision.reason) == ("expired", "cap:sms")


def test_closed_store_moves_staff_tasks_to_the_next_open_day() -> None:
    closed = (Closure(store="S1", date=D), Closure(region="north", date=D + dt.timedelta(1)))
    decisions = decide_day(D, [_action("call", "call"), _action("sms")], Known(),
                           _rules(closed=closed))
    by_id = {d.action_id: d for d in decisions}
    assert by_id["call"].status == "deferred" and by_id["call"].reason == "store-closed"
    assert by_id["call"].deferred_to == D + dt.timedelta(2)
    assert by_id["sms"].status == "open"  # not a staff task


def test_staff_tasks_merge_into_the_highest_priority_one_with_every_reason() -> None:
    decisions = decide_day(D, [_action("v", "visit", 40), _action("c", "call", 60),
                               _action("other", "call", 50, customer="C2")],
                           Known(), _rules())
    by_id = {d.action_id: d for d in decisions}
    assert by_id["v"].status == "merged" and by_id["v"].merged_into == "c"
    merged = by_id["c"].record["reason"]["merged"]
    assert [m["action_id"] for m in merged] == ["v"] and merged[0]["reason"]["values"]
    assert by_id["other"].status == "open" and "merged" not in by_id["other"].record["reason"]


def test_contact_rules_file_kind_and_semantic_checks(tmp_path: Path) -> None:
    # a policy set: contact rules beside a policy (a folder of no policy is an empty set)
    lapsed = (Path(__file__).parents[1] / "policies" / "lapsed-contact.yaml").read_text("utf-8")
    (tmp_path / "lapsed-contact.yaml").write_text(lapsed, encoding="utf-8")
    path = tmp_path / "contact-rules.yaml"
    path.write_text("caps:\n  - {channel: sms, max: 1, window: 3d}\n"
                    "  - {channel: sms, max: 2, window: 3d}\n", encoding="utf-8")
    codes = {(d.code, d.location.line) for d in validate_paths([tmp_path]).errors}
    assert codes == {("contact.duplicate-cap", 3)}
    path.write_text("kind: contact-rules\ncalendar:\n  closed_dates: [{date: '2025-02-30'}]\n",
                    encoding="utf-8")
    codes = {(d.code, d.location.line) for d in validate_paths([tmp_path]).errors}
    assert codes == {("schema.format", 3)}


def test_run_on_the_example_store_shows_the_four_counts(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [
        "run", "--example", "--as-of", "2025-03-01", "--through", "2025-03-08", "--quiet",
        "--state", str(tmp_path / "s.db"), "--out", str(tmp_path / "out"),
        "--summary-json", str(tmp_path / "summary.json")])
    assert result.exit_code == 0, result.output
    for status in ("emitted", "deferred", "merged", "expired"):
        assert f"  {status}" in result.output
    summary = json.loads((tmp_path / "summary.json").read_text("utf-8"))["contact"]
    assert summary["candidates"] == sum(summary[s] for s in
                                        ("emitted", "deferred", "merged", "expired")) > 0
    assert summary["expired"] > 0 and summary["merged"] > 0
    lines = [line for day in sorted((tmp_path / "out").glob("actions-*.jsonl"))
             for line in day.read_text("utf-8").splitlines()]  # one file per date
    assert len(lines) == summary["emitted"]
