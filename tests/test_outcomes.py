"""Outcomes import: exact rejects, idempotence, the latest outcome wins; into a SQLite
file and into PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from loyaltyrules.ledger import Ledger, RunRecord, action_id
from loyaltyrules.outcomes import BadOutcomesFile, NoLedger, import_outcomes, write_rejects

from _states import is_postgres, rows

TODAY = dt.date(2025, 6, 30)
NOTE = "Jane Roe, 010-5555-1234, asked about 12 Elm Street"


def action(key: str, kind: str = "call", as_of: str = "2025-03-03", due_by: str = "2025-03-10",
           staff: str | None = "E1", store: str = "S1", policy: str = "big-purchase-call",
           status_role: str = "store_staff") -> dict[str, Any]:
    return {
        "action_id": action_id(policy, f"C-{key}", key), "policy": policy,
        "policy_version": 1, "bundle": "test", "type": kind, "customer_id": f"C-{key}",
        "store_id": store, "region": "north", "assignee": {"role": status_role, "id": staff},
        "not_before": as_of, "due_by": due_by, "as_of": as_of, "priority": 50,
        "template": None, "params": {}, "reason": {"trigger": "purchase", "values": {}},
    }


def make_ledger(path: Path | str, actions: list[dict[str, Any]]) -> Path | str:
    with Ledger.open(path) as ledger:
        ledger.record_run(actions, RunRecord(run_id="r1", started_at="2025-01-01T00:00:00Z",
                                             bundle="test", as_of="2025-01-01"))
    return path


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("action_id,status,completed_at,staff_id,note,topic\n" + "\n".join(rows)
                    + "\n", encoding="utf-8")
    return path


def dump(db: Path | str) -> list[Any]:
    return [rows(db, "SELECT action_id, status, completed_at, staff_id, topic, digest, "
                     "imported_at FROM outcomes ORDER BY action_id"),
            rows(db, "SELECT action_id, status FROM actions ORDER BY 1")]


@pytest.fixture()
def ledger(any_state: str) -> Path | str:
    return make_ledger(any_state, [action("a"), action("b"), action("c")])


A, B, C = (action(k)["action_id"] for k in "abc")


def test_rejects_are_exact_and_never_carry_the_note(ledger: Path, tmp_path: Path) -> None:
    file = write_csv(tmp_path / "in.csv", [
        f'{A},done,2025-03-09T10:00:00,E1,"{NOTE}",none',        # 1 ok
        f'{"f" * 32},done,2025-03-09T10:00:00,E1,"{NOTE}",',      # 2 unknown id
        f'{B},finished,2025-03-09,E1,"{NOTE}",weather',          # 3 three bad values
        f',,,E1,"{NOTE}",',                                      # 4 two missing values
        f'{C},done,2025-02-30T10:00:00,E1,"{NOTE}",region',      # 5 impossible day
        f'{C},done,2025-07-05T10:00:00,E1,"{NOTE}",region',      # 6 future
        f'{C},done,2025-03-09T10:00:00,"{NOTE}"',                # 7 column count
        "",                                                      # blank: not a row
        f'{B},Declined,2025-03-12 09:00+0900,,"{NOTE}",Company',  # 9 ok (case, offset)
    ])
    result = import_outcomes(ledger, file, today=TODAY)
    got = [(r.row, r.column, r.reason) for r in result.rejects]
    assert got == [
        (2, "action_id", "unknown-action"),
        (3, "completed_at", "bad-timestamp"), (3, "status", "bad-status"),
        (3, "topic", "bad-topic"),
        (4, "action_id", "missing-value"), (4, "completed_at", "missing-value"),
        (4, "status", "missing-value"),
        (5, "completed_at", "bad-timestamp"),
        (6, "completed_at", "future-date"),
        (7, None, "malformed-line"),
    ]
    assert (result.rows_read, result.rows_rejected, result.new) == (8, 6, 2)
    assert result.rejects[0].ids == {"action_id": "f" * 32}
    assert result.rejects[4].ids == {}
    out = tmp_path / "rejects.jsonl"
    assert write_rejects(result.rejects, out) == 10
    text = out.read_text(encoding="utf-8")
    assert "Jane" not in text and "010-5555" not in text and "Elm" not in text
    first = json.loads(text.splitlines()[0])
    assert set(first) == {"table", "file", "row", "column", "reason", "severity", "message", "ids"}
    assert first["table"] == "outcomes" and first["file"] == "in.csv"
    stored = dump(ledger)
    assert stored[0][0][:5] == (A, "done", "2025-03-09T10:00:00", "E1", "none")
    assert stored[0][1][:5] == (B, "declined", "2025-03-12T09:00:00+09:00", None, "company")
    assert dict(stored[1]) == {A: "done", B: "declined", C: "open"}
    assert "Jane" not in repr(rows(ledger, "SELECT * FROM outcomes"))
    if not is_postgres(ledger):  # nor anywhere in the file
        assert "Jane" not in Path(ledger).read_bytes().decode("latin-1")


def test_importing_twice_changes_nothing(ledger: Path, tmp_path: Path) -> None:
    file = write_csv(tmp_path / "in.csv", [
        f"{A},done,2025-03-09T10:00:00,E1,,none", f"{B},failed,2025-03-09T11:00:00,E1,,",
        f"{B},failed,2025-03-09T11:00:00,E1,,", "nope,done,2025-03-09T10:00:00,E1,,"])
    first = import_outcomes(ledger, file, today=TODAY)
    assert (first.new, first.unchanged, first.rows_rejected) == (2, 1, 1)
    before = dump(ledger)
    second = import_outcomes(ledger, file, today=TODAY)
    assert (second.new, second.replaced, second.unchanged) == (0, 0, 3)
    assert [(r.row, r.column, r.reason) for r in second.rejects] == [
        (4, "action_id", "unknown-action")]
    assert dump(ledger) == before


def test_the_latest_outcome_wins_in_any_order(tmp_path: Path) -> None:
    early = [f"{A},unreachable,2025-03-08T10:00:00,E1,,none"]
    late = [f"{A},done,2025-03-11T10:00:00,E2,,region"]
    states = []
    for order in ((early, late), (late, early)):
        db = make_ledger(tmp_path / f"s{len(states)}.sqlite", [action("a")])
        counts = []
        for number, lines in enumerate(order):
            result = import_outcomes(db, write_csv(tmp_path / f"f{number}.csv", lines),
                                     today=TODAY)
            counts.append((result.new, result.replaced, result.superseded))
        states.append([row[:6] for row in dump(db)[0]])
        assert counts == ([(1, 0, 0), (0, 1, 0)] if order[0] is early
                          else [(1, 0, 0), (0, 0, 1)])
    assert states[0] == states[1]
    assert states[0][0][1:5] == ("done", "2025-03-11T10:00:00", "E2", "region")


def test_jsonl_rows_and_bad_lines(ledger: Path, tmp_path: Path) -> None:
    file = tmp_path / "in.jsonl"
    lines = [json.dumps({"action_id": A, "status": "done", "completed_at": "2025-03-09T10:00Z",
                         "note": NOTE, "extra": 1}).encode(),
             b"{not json",
             json.dumps({"action_id": B, "status": 3, "completed_at": "2025-03-09T10:00:00",
                         "topic": None}).encode(),
             b"",
             b'{"action_id": "' + C.encode() + b'", "status": "done\xff"}',
             b"[1, 2]"]
    file.write_bytes(b"\n".join(lines) + b"\n")
    result = import_outcomes(ledger, file, today=TODAY)
    assert [(r.row, r.column, r.reason) for r in result.rejects] == [
        (2, None, "malformed-line"), (3, "status", "bad-value"), (5, None, "bad-encoding"),
        (6, None, "malformed-line")]
    assert result.new == 1
    assert dump(ledger)[0][0][2] == "2025-03-09T10:00:00+00:00"


def test_unusable_inputs(ledger: Path, tmp_path: Path) -> None:
    no_status = tmp_path / "x.csv"
    no_status.write_text("action_id,completed_at\n", encoding="utf-8")
    with pytest.raises(BadOutcomesFile, match="status"):
        import_outcomes(ledger, no_status)
    with pytest.raises(BadOutcomesFile):
        import_outcomes(ledger, tmp_path / "x.xlsx")
    with pytest.raises(NoLedger):
        import_outcomes(tmp_path / "missing.sqlite", write_csv(tmp_path / "ok.csv", []))
