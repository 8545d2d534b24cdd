"""`loyaltyrules run` end to end on the example store: outputs, ledger, exit codes."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.engine.batch import evaluate
from loyaltyrules.ledger import Ledger
from loyaltyrules.plan import Plan
from loyaltyrules.sources import open_source

from _paths import PACK, REPO

SCHEMA = json.loads((REPO / "schemas" / "action.schema.json").read_text(encoding="utf-8"))


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", *args])
    return result.exit_code, result.output


def _night(store: Path, tmp_path: Path, *extra: str) -> tuple[int, str]:
    """`run` for 2025-11-20 on a store, with its own ledger and output folder."""
    return _run("--as-of", "2025-11-20", "--data", str(store), "--state",
                str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "o"), *extra)


def test_run_writes_valid_actions_and_a_second_run_adds_nothing_and_blanks_nothing(
    example_store: Path, tmp_path: Path
) -> None:
    out, state = tmp_path / "out", tmp_path / "state.sqlite"
    args = (
        "--as-of",
        "2025-11-20",
        "--data",
        str(example_store),
        "--state",
        str(state),
        "--out",
        str(out),
        "--policies",
        str(PACK),
    )
    code, output = _run(*args)
    assert code == 0, output
    lines = (out / "actions-2025-11-20.jsonl").read_text(encoding="utf-8").splitlines()
    actions = [json.loads(line) for line in lines]
    assert actions, "the example store has work on 2025-11-20"
    validator = jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for action in actions:
        validator.validate(action)
        assert action["as_of"] == "2025-11-20"
    assert {a["policy"] for a in actions} >= {"lapsed-contact", "birthday-greeting"}
    assert (out / "actions-2025-11-20.csv").exists()
    assert (out / "tasks-2025-11-20" / "index.md").exists()
    with Ledger.open(state) as ledger:
        assert ledger.count() == len(actions)
    first = _tree(out)
    code, output = _run(*args)
    assert code == 0, output
    assert _tree(out) == first  # the day's files again, byte for byte (not blanked)
    with Ledger.open(state) as ledger:
        assert ledger.count() == len(actions)
        assert len(ledger.runs()) == 2


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_rejects_are_written_beside_the_actions(example_store: Path, tmp_path: Path) -> None:
    code, output = _night(example_store, tmp_path)
    assert code == 0, output
    rejects = [
        json.loads(line)
        for line in (tmp_path / "o" / "rejects-2025-11-20.jsonl").read_text().splitlines()
    ]
    assert any(r["reason"] == "unknown-referrer" for r in rejects)


def test_stdout_mode_prints_json_lines_only(example_store: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "loyaltyrules",
            "run",
            "--as-of",
            "2025-11-20",
            "--data",
            str(example_store),
            "--state",
            str(tmp_path / "s.sqlite"),
            "--out",
            "-",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records and all(r["as_of"] == "2025-11-20" for r in records)
    assert "total" in result.stderr


def test_missing_table_is_unusable_input_exit_2(example_store: Path, tmp_path: Path) -> None:
    (example_store / "purchases.csv").unlink()
    code, output = _night(example_store, tmp_path)
    assert code == 2
    assert "purchases" in output and "Traceback" not in output


def test_invalid_policies_exit_1(example_store: Path, tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(PACK, policies)
    path = policies / "big-purchase-call.yaml"
    path.write_text(path.read_text().replace("purchase.amount >=", "purchase.amont >="))
    code, output = _night(example_store, tmp_path, "--policies", str(policies))
    assert code == 1
    assert "expr.unknown-fact" in output and "big-purchase-call.yaml:" in output


def test_range_equals_night_by_night_and_catch_up_adds_nothing(
    example_store: Path, tmp_path: Path
) -> None:
    state = tmp_path / "s.sqlite"
    common = ("--data", str(example_store), "--state", str(state), "--out", str(tmp_path / "o"))
    for day in ("2025-01-01", "2025-01-02", "2025-01-03"):
        assert _run("--as-of", day, *common)[0] == 0
    with Ledger.open(state) as ledger:
        nightly = ledger.count()
    range_state = tmp_path / "r.sqlite"
    code, output = _run(
        "--as-of",
        "2025-01-01",
        "--through",
        "2025-01-03",
        "--data",
        str(example_store),
        "--state",
        str(range_state),
        "--out",
        str(tmp_path / "r"),
    )
    assert code == 0, output
    with Ledger.open(state) as a, Ledger.open(range_state) as b:
        # the same candidates, each decided once; a range delivers when it ends, so
        # the same-day greetings of its earlier dates (New Year's Day) expire as stale
        assert b.count(every=True) == a.count(every=True) > 0
        assert 0 < b.count() < nightly
        ids = [r["action_id"] for r in b.actions_for_customer("C0097")]
        assert ids == [r["action_id"] for r in a.actions_for_customer("C0097")]
    code, _ = _run("--as-of", "2025-01-01", "--through", "2025-01-03", *common)
    with Ledger.open(state) as ledger:
        assert code == 0 and ledger.count() == nightly


def test_every_policy_of_a_year_emits_records_valid_against_the_schema(
    example_store: Path, pack_plan: Plan
) -> None:
    source = open_source(example_store, as_of_limit=dt.date(2025, 12, 31))
    actions = evaluate(source.connection, pack_plan, dt.date(2025, 1, 1),
                       dt.date(2025, 12, 31)).actions
    validator = jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for action in actions:
        validator.validate(action)
    assert {a["policy"] for a in actions} == {p.id for p in pack_plan.policies}
    assert {a["reason"]["trigger"] for a in actions} >= {
        "purchase", "first_purchase", "crossing", "upgrade", "schedule"}


def test_a_later_run_escalates_follow_ups_left_without_outcome(
    example_store: Path, tmp_path: Path
) -> None:
    state = tmp_path / "s.sqlite"
    common = ("--data", str(example_store), "--state", str(state), "--out", str(tmp_path / "o"))
    assert _run("--as-of", "2025-03-01", "--through", "2025-03-31", *common)[0] == 0
    with Ledger.open(state) as ledger:
        runs = ledger.runs()
    summary = tmp_path / "summary.json"
    code, output = _run("--as-of", "2025-04-01", "--through", "2025-04-15",
                        "--summary-json", str(summary), *common)
    assert code == 0, output
    per_policy = json.loads(summary.read_text())["per_policy"]
    assert per_policy["escalation"]["candidates"] > 0
    with Ledger.open(state) as ledger:
        assert len(ledger.runs()) == len(runs) + 1
        for customer in {a["customer_id"] for a in _escalated(state)}:
            for task in (a for a in ledger.actions_for_customer(customer)
                         if a["policy"] == "escalation"):
                assert task["assignee"] == {"role": "store_manager", "id": None}
                assert "2025-04-01" <= task["as_of"] <= "2025-04-15"


def _escalated(state: Path) -> list[dict[str, object]]:
    with contextlib.closing(sqlite3.connect(state)) as conn:
        rows = conn.execute("SELECT record FROM actions WHERE policy = 'escalation'")
        return [json.loads(r[0]) for r in rows]
