"""Delivery: each date's files rebuilt from the ledger, re-runs that reproduce them,
`export`, the outbox, and what a run says when an output cannot be written."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.delivery import Target, deliver, outbox
from loyaltyrules.ledger import SCHEMA_VERSION, Ledger, migrate, migration_step
from loyaltyrules.sinks import write_task_sheets

from _received import assert_same_as_reference, owed, received, received_actions
from _states import new_state, rows, untouched

DAY = "2025-11-20"


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _run(store: Path, state: Path | str, out: Path | str, as_of: str = DAY,
         through: str | None = None) -> str:
    args = ["run", "--as-of", as_of, "--data", str(store), "--state", str(state),
            "--out", str(out), "-q"]
    code, output = _cli(*args, *(["--through", through] if through else []))
    assert code == 0, output
    return output


# ---------------------------------------------------------------- re-runs


@pytest.mark.parametrize("name", ["out", "actions.jsonl", "actions.csv"])
def test_re_running_a_date_reproduces_its_files_byte_for_byte(
        example_store: Path, tmp_path: Path, name: str, any_state: str) -> None:
    state, out = any_state, tmp_path / name
    _run(example_store, state, out)
    first = received(out) if out.is_dir() else {name: out.read_bytes()}
    assert any(body.count(b"\n") > 2 for body in first.values()), "the day has actions"
    _run(example_store, state, out)
    again = received(out) if out.is_dir() else {name: out.read_bytes()}
    assert again == first


def test_a_re_run_restores_a_day_whose_files_were_damaged(example_store: Path,
                                                          tmp_path: Path,
                                                          any_state: str) -> None:
    state, out = any_state, tmp_path / "out"
    _run(example_store, state, out)
    first = received(out)
    (out / f"actions-{DAY}.jsonl").write_text("")
    shutil.rmtree(out / f"tasks-{DAY}")
    (out / f"tasks-{DAY}").mkdir()
    (out / f"tasks-{DAY}" / "S9-nobody.md").write_text("a sheet of no one now\n")
    _run(example_store, state, out)
    assert received(out) == first  # the stray sheet is gone: the index says it all


def test_a_range_writes_one_complete_set_of_files_per_date_equal_to_its_nights(
        example_store: Path, tmp_path: Path, any_state: str, state_kind: str) -> None:
    """A range is delivered on its last date: what the nights handed out on time and
    would now arrive late (the New Year greetings, worth sending on 1 January only)
    expires as stale (docs/contact-rules.md); every other action is the nights' own,
    and each date whose actions are all still worth doing has the nights' very files."""
    nights = tmp_path / "nights"
    for day in ("2025-01-01", "2025-01-02", "2025-01-03"):
        _run(example_store, any_state, nights, day)
    ranged = tmp_path / "range"
    with new_state(state_kind, tmp_path, "r.sqlite") as other:
        _run(example_store, other, ranged, "2025-01-01", "2025-01-03")
    want = {k: v for k, v in received(nights).items() if not k.startswith("rejects-")}
    got = {k: v for k, v in received(ranged).items() if not k.startswith("rejects-")}
    assert {name.split("/")[0] for name in got} == {
        f"{kind}-2025-01-0{d}{ext}" for d in (1, 2, 3)
        for kind, ext in (("actions", ".jsonl"), ("actions", ".csv"), ("tasks", ""))}
    late = [r for r in received_actions(want)
            if r["valid_until"] is not None and r["valid_until"] < "2025-01-03"]
    assert late and {r["as_of"] for r in late} == {"2025-01-01"}
    on_time = [r for r in received_actions(want) if r not in late]
    assert received_actions(got) == on_time
    later = {k: v for k, v in want.items() if "2025-01-01" not in k}
    assert_same_as_reference({k: v for k, v in got.items() if "2025-01-01" not in k}, later)


def test_a_date_without_actions_still_gets_its_files(example_store: Path,
                                                     tmp_path: Path,
                                                     any_state: str) -> None:
    out = tmp_path / "out"
    _run(example_store, any_state, out, "2023-01-02")  # before any data
    assert (out / "actions-2023-01-02.jsonl").read_bytes() == b""
    assert (out / "actions-2023-01-02.csv").read_text("utf-8-sig").startswith("action_id,")
    assert (out / "tasks-2023-01-02" / "index.md").read_text() == "# Task sheets\n\nNo tasks.\n"


def test_the_day_file_holds_the_point_of_sale_actions_too(example_store: Path,
                                                          tmp_path: Path,
                                                          any_state: str) -> None:
    """An action recorded at checkout is part of its date: the night's files list it
    (at least once; the host deduplicates by action_id)."""
    from loyaltyrules.api import Engine

    state, out = any_state, tmp_path / "out"
    _run(example_store, state, out, "2025-11-19")
    engine = Engine.load(state=state)
    try:
        fired = engine.on_purchase({"purchase_id": "POS-1", "customer_id": "C0001",
                                    "store_id": "S1", "purchased_at": f"{DAY}T11:00:00",
                                    "amount": "2500.00"})
    finally:
        engine.close()
    assert fired
    _run(example_store, state, out)
    ids = [a["action_id"] for a in received_actions(received(out))]
    assert {a["action_id"] for a in fired} <= set(ids) and len(ids) == len(set(ids))


# ---------------------------------------------------------------- export


def test_export_rebuilds_any_day_or_range_byte_for_byte(example_store: Path,
                                                        tmp_path: Path,
                                                     any_state: str) -> None:
    state, out = any_state, tmp_path / "out"
    _run(example_store, state, out, "2025-03-01", "2025-03-31")
    delivered = {k: v for k, v in received(out).items() if not k.startswith("rejects-")}
    shutil.rmtree(out)  # the host lost everything

    code, output = _cli("export", "--as-of", "2025-03-01", "--through", "2025-03-31",
                        "--state", str(state), "--out", str(out), "--data", str(example_store))
    assert code == 0, output
    assert received(out) == delivered
    assert "31 dates (2025-03-01 .. 2025-03-31)" in output

    one = tmp_path / "one"
    code, output = _cli("export", "--as-of", "2025-03-15", "--state", str(state), "--out",
                        str(one), "--data", str(example_store))
    assert code == 0, output
    assert received(one) == {k: v for k, v in delivered.items() if "2025-03-15" in k}


def test_export_to_a_file_and_to_stdout(example_store: Path, tmp_path: Path,
                                        any_state: str) -> None:
    state, out = any_state, tmp_path / "out"
    _run(example_store, state, out, "2025-03-01", "2025-03-31")
    want = received_actions(received(out))
    csv_path = tmp_path / "march.csv"
    assert _cli("export", "--as-of", "2025-03-01", "--through", "2025-03-31", "--state",
                str(state), "--out", str(csv_path))[0] == 0
    rows = csv_path.read_text("utf-8-sig").splitlines()
    assert len(rows) == len(want) + 1
    done = subprocess.run([sys.executable, "-m", "loyaltyrules", "export", "--as-of",
                           "2025-03-01", "--through", "2025-03-31", "--state", str(state),
                           "--out", "-"], capture_output=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert [json.loads(line) for line in done.stdout.decode().splitlines()] == want
    assert b"exported" in done.stderr


def test_export_without_a_ledger_is_unusable_input(tmp_path: Path, any_state: str) -> None:
    code, output = _cli("export", "--as-of", DAY, "--state", any_state,
                        "--out", str(tmp_path / "out"))
    assert code == 2 and "no ledger" in output
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- failures


def test_an_unwritable_output_is_exit_74_and_the_next_night_writes_it(
        example_store: Path, tmp_path: Path, any_state: str) -> None:
    """A real OS error after the commit: a file stands where the day's task sheet
    folder must go. Everything stays recorded and owed; the next run delivers."""
    state, out = any_state, tmp_path / "out"
    out.mkdir()
    (out / f"tasks-{DAY}").write_text("in the way")
    code, output = _cli("run", "--as-of", DAY, "--data", str(example_store), "--state",
                        str(state), "--out", str(out), "-q")
    assert code == 74, output
    assert f"export --as-of {DAY} --out {out}" in output and "Traceback" not in output
    with Ledger.open(state) as ledger:
        recorded = ledger.count()
    assert recorded > 0 and owed(state) > 0

    (out / f"tasks-{DAY}").unlink()
    output = _run(example_store, state, out, "2025-11-21")
    assert "recorded by an earlier run" in output
    ids = {a["action_id"] for a in received_actions(received(out)) if a["as_of"] == DAY}
    assert len(ids) == recorded and owed(state) == 0


def test_export_settles_what_a_failed_run_owed(example_store: Path, tmp_path: Path,
                                               any_state: str) -> None:
    state, out = any_state, tmp_path / "out"
    out.mkdir()
    (out / f"tasks-{DAY}").write_text("in the way")
    assert _cli("run", "--as-of", DAY, "--data", str(example_store), "--state", str(state),
                "--out", str(out), "-q")[0] == 74
    (out / f"tasks-{DAY}").unlink()
    code, output = _cli("export", "--as-of", DAY, "--state", str(state), "--out", str(out))
    assert code == 0, output
    assert owed(state) == 0
    assert rows(state, "SELECT count(*) FROM runs WHERE delivered_at IS NULL "
                "AND delivery_target IS NOT NULL") == [(0,)]


def test_a_run_warns_about_actions_owed_to_another_output(example_store: Path,
                                                          tmp_path: Path,
                                                          any_state: str) -> None:
    state, blocked = any_state, tmp_path / "blocked"
    blocked.mkdir()
    (blocked / f"tasks-{DAY}").write_text("in the way")
    code, _ = _cli("run", "--as-of", DAY, "--data", str(example_store), "--state", str(state),
                   "--out", str(blocked), "-q")
    assert code == 74
    output = _run(example_store, state, tmp_path / "elsewhere", "2025-11-21")
    assert f"recorded for {blocked} are not written there yet" in output


def test_an_output_folder_that_cannot_be_made_records_nothing(example_store: Path,
                                                              tmp_path: Path,
                                                          any_state: str) -> None:
    (tmp_path / "file").write_text("a file, not a folder")
    code, output = _cli("run", "--as-of", DAY, "--data", str(example_store), "--state",
                        str(any_state), "--out", str(tmp_path / "file" / "out"))
    assert code == 74 and "nothing was recorded" in output
    assert untouched(any_state)


# ---------------------------------------------------------------- the outbox


def test_the_outbox_rows_commit_with_the_decisions_or_not_at_all(tmp_path: Path,
                                                                 any_state: str) -> None:
    state = any_state
    target = Target.parse(str(tmp_path / "out"))
    with Ledger.open(state) as ledger, pytest.raises(RuntimeError), \
            ledger.transaction() as conn:
        conn.execute("INSERT INTO runs (run_id, started_at, counts, actions_offered, "
                     "actions_new, recorded_at, as_of) VALUES ('r1', 'now', '{}', 0, 0, "
                     "'now', '2025-11-20')")
        outbox.enqueue(conn, "r1", target)
        raise RuntimeError("the run dies before its commit")
    with Ledger.open(state) as ledger, ledger.transaction() as conn:
        assert outbox.owed(conn, target).days == set()


def test_a_run_s_dates_stay_owed_until_written(tmp_path: Path, any_state: str) -> None:
    state = any_state
    target = Target.parse(str(tmp_path / "out"))
    with Ledger.open(state) as ledger, ledger.transaction() as conn:
        conn.execute("INSERT INTO runs (run_id, started_at, counts, actions_offered, "
                     "actions_new, recorded_at, as_of, through) VALUES ('r1', 'now', '{}', "
                     "0, 0, 'now', '2025-11-19', '2025-11-20')")
        outbox.enqueue(conn, "r1", target)
        assert outbox.owed(conn, target).days == {dt.date(2025, 11, 19), dt.date(2025, 11, 20)}
    deliver(state, target, [], "r2")  # a later writer finds the dates and writes them
    assert sorted(p.name for p in (tmp_path / "out").iterdir())[:2] == [
        "actions-2025-11-19.csv", "actions-2025-11-19.jsonl"]
    with Ledger.open(state) as ledger, ledger.transaction() as conn:
        assert outbox.owed(conn, target).days == set()


def test_a_schema_2_ledger_migrates_with_nothing_owed(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in range(2):
        for statement in migration_step(step):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    assert migrate(conn) == 2
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    assert conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0
    conn.close()


def test_pruned_task_sheets_leave_exactly_the_index(tmp_path: Path) -> None:
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "S1-gone.md").write_text("old")
    (folder / "notes.txt").write_text("not a sheet: kept")
    write_task_sheets([], folder, prune=True)
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "index.md", "notes.txt"]
