"""The commands end to end on a ledger made by `loyaltyrules run` on the example store."""

from __future__ import annotations

import csv
import re
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from loyaltyrules.cli import cli

from _paths import PACK


def test_run_import_and_reports(example_store: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    runner = CliRunner()
    ran = runner.invoke(cli, ["run", "--as-of", "2025-01-01", "--through", "2025-06-30",
                              "--data", str(example_store), "--state", str(state),
                              "--out", str(tmp_path / "out"), "--policies", str(PACK), "-q"])
    assert ran.exit_code == 0, ran.output
    conn = sqlite3.connect(state)
    ids = [r[0] for r in conn.execute(  # calls handed out (the catch-up expired the stale)
        "SELECT action_id FROM actions WHERE type = 'call' AND status = 'open' "
        "ORDER BY action_id LIMIT 3")]
    conn.close()
    file = tmp_path / "outcomes.csv"
    with file.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["action_id", "status", "completed_at", "staff_id", "note", "topic"])
        writer.writerows([[ids[0], "done", "2025-02-01T10:00:00", "E1", "Ms Kim 010-1", "none"],
                          [ids[1], "declined", "2025-02-01T10:00:00", "", "", "company"],
                          ["0" * 32, "done", "2025-02-01T10:00:00", "", "Ms Kim 010-1", ""]])
    for new in ("2", "0"):
        done = runner.invoke(cli, ["outcomes", "import", str(file), "--state", str(state)])
        assert done.exit_code == 0, done.output
        assert f"new outcomes: {new}" in done.output and "rows rejected: 1" in done.output
        assert "Kim" not in done.output
    rejects = (tmp_path / "outcomes.rejects.jsonl").read_text(encoding="utf-8")
    assert '"row": 3' in rejects and "Kim" not in rejects

    args = {"staff": ["--from", "2025-01-01", "--to", "2025-06-30", "--state", str(state)],
            "actions": ["--from", "2025-01-01", "--to", "2025-06-30", "--state", str(state)],
            "churn": ["--year", "2025", "--data", str(example_store)]}
    for name, extra in args.items():
        table = runner.invoke(cli, ["report", name, *extra])
        assert table.exit_code == 0, table.output
        page = tmp_path / f"{name}.html"
        html = runner.invoke(cli, ["report", name, *extra, "--format", "html", "--out", str(page)])
        assert html.exit_code == 0, html.output
        text = page.read_text(encoding="utf-8")
        assert "<svg" in text and not re.search(r"(src|href)\s*=", text)
        sheet = tmp_path / f"{name}.csv"
        assert runner.invoke(cli, ["report", name, *extra, "--format", "csv",
                                   "--out", str(sheet)]).exit_code == 0
        assert sheet.read_bytes().startswith(b"\xef\xbb\xbf")
    staff = runner.invoke(cli, ["report", "staff", *args["staff"]]).output
    assert re.search(r"\(all\)\s+calls\s+\d+\s+1\s+", staff)  # one call done


def test_report_without_a_ledger(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "staff", "--from", "2025-01-01", "--to",
                                      "2025-01-31", "--state", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 2 and "no ledger" in result.output
