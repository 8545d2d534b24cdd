"""Personal data never reaches a log, an error, the ledger, JSON Lines or CSV, even with
enrichment on; it reaches the task sheets and the work page only then (DESIGN section 8).

The example store gets one more customer with unmistakable contact details and a bad
birthday (so a reject is written about the row), and a staff table. Every command a
store runs is run as a process with enrichment on, and everything it prints, logs or
leaves on disk is searched for every customer's name, phone, email and address.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import httpx

from _paths import PACK
from _service import start_serve

DAY = "2025-11-20"
SECRET = {"name": "Zora Secretname", "phone": "999-1234-5678", "email": "zora@secret.invalid",
          "address": "77 Hidden Lane, Quietville"}


def personal_values(store: Path) -> set[str]:
    with (store / "customers.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {row[f] for row in rows for f in ("name", "phone", "email", "address") if row[f]}


def with_secret_customer(store: Path) -> None:
    lines = (store / "customers.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = {**dict.fromkeys(header, ""), "customer_id": "C7777", "home_store": "S1",
           **SECRET, "birthday": "1990-02-31"}  # no such day: a reject about this row
    with (store / "customers.csv").open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, header, lineterminator="\n").writerow(row)


def loyaltyrules(*args: str, cwd: Path, code: int = 0) -> str:
    done = subprocess.run([sys.executable, "-m", "loyaltyrules", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == code, done.stdout + done.stderr
    return done.stdout + done.stderr


def leaks(text: str, values: set[str]) -> list[str]:
    return sorted(v for v in values if v in text)


def test_contact_details_stay_out_of_logs_errors_ledger_and_machine_outputs(
        example_store: Path, tmp_path: Path) -> None:
    with_secret_customer(example_store)
    values = personal_values(example_store) | set(SECRET.values())
    (tmp_path / "loyaltyrules.toml").write_text(
        f'[source]\ndata = "{example_store.as_posix()}"\n[sheets]\nenrich = true\n'
        f'[run]\npolicies = "{PACK.as_posix()}"\n', encoding="utf-8")
    said = [loyaltyrules("run", "--as-of", DAY, cwd=tmp_path),
            loyaltyrules("export", "--as-of", DAY, cwd=tmp_path),
            loyaltyrules("export", "--as-of", DAY, "--out", "day.csv", cwd=tmp_path),
            loyaltyrules("export", "--as-of", DAY, "--out", "-", cwd=tmp_path)]
    (tmp_path / "blocked").write_text("a file where a folder should be")
    said.append(loyaltyrules("export", "--as-of", DAY, "--out", "blocked/x", cwd=tmp_path,
                             code=74))
    for report in ("staff", "actions"):
        said.append(loyaltyrules("report", report, "--from", DAY, "--to", DAY, cwd=tmp_path))
    said.append(loyaltyrules("report", "churn", "--year", "2025", cwd=tmp_path))
    ids = re.findall(r"^([0-9a-f]{32}),", (tmp_path / "day.csv").read_text("utf-8-sig"), re.M)
    (tmp_path / "done.csv").write_text(
        "action_id,status,completed_at,note\n"
        f"{ids[0]},done,2025-11-21T10:00:00,{SECRET['name']} {SECRET['phone']}\n",
        encoding="utf-8")
    said.append(loyaltyrules("outcomes", "import", "done.csv", cwd=tmp_path))
    said.append(_served(tmp_path))
    assert leaks("\n".join(said), values) == []
    out = tmp_path / "out"
    machine = [*out.glob("*.jsonl"), *out.glob("*.csv"), tmp_path / "day.csv",
               tmp_path / "done.rejects.jsonl", *tmp_path.glob("loyaltyrules-state.sqlite*")]
    assert any("rejects" in p.name for p in machine) and len(machine) >= 6
    for path in machine:
        assert leaks(path.read_bytes().decode("utf-8", "replace"), values) == [], path.name
    rejects = (out / f"rejects-{DAY}.jsonl").read_text(encoding="utf-8")
    assert "C7777" in rejects  # the row is named by its id only
    sheets = "".join(p.read_text(encoding="utf-8") for p in (out / f"tasks-{DAY}").iterdir())
    assert leaks(sheets, values)  # with enrichment on, the sheets do carry them


def _served(folder: Path) -> str:
    """The work page, shown and used once, with the service's log at debug level."""
    log = folder / "serve.log"
    server, base = start_serve(folder / "loyaltyrules-state.sqlite", "--config",
                               str(folder / "loyaltyrules.toml"), "--log-level", "debug",
                               log=log)
    try:
        with httpx.Client(base_url=base, follow_redirects=True) as browser:
            page = browser.get(f"/stores/S2/today?day={DAY}").text
            assert "000-0000-" in page  # enrichment on: the page shows phones
            action = re.search(r'action="(/stores/S2/tasks/[0-9a-f]{32})"', page)
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
            assert action and csrf
            answer = browser.post(action.group(1), data={
                "csrf": csrf.group(1), "day": DAY, "status": "unreachable",
                "note": f"{SECRET['name']} {SECRET['phone']}"})
            assert answer.status_code == 200 and "Recorded: unreachable" in answer.text
            browser.get("/stores/S2/today?day=2025-02-31")  # an error page
    finally:
        server.terminate()
        server.wait(timeout=30)
    return log.read_text(encoding="utf-8")
