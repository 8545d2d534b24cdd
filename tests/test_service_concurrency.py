"""The service and a nightly `run` on one state at the same time, as real processes: a
SQLite file, or a PostgreSQL database (`serve --state postgresql://...`).

A client posts a store's receipts of one business day to `loyaltyrules serve` while
`loyaltyrules run` evaluates that day from the store's files into the same SQLite
state (the till still ringing while the night's job runs). Afterwards: neither handed
an action out twice, the run's output holds every action out for the day (the POS's
too: a host deduplicates by action_id), the ledger holds exactly the decisions of the
same run done alone (statuses, reasons, dates, merges, records), each answer at the
till says what the ledger says, and every customer view counts each receipt once.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from loyaltyrules.api import Engine
from loyaltyrules.contact import ledger_state
from loyaltyrules.ledger import Ledger

from _paths import PACK
from _service import start_serve

CUSTOMERS = 40
RECEIPTS = 400
CLIENTS = 4
DAY = dt.date.today() - dt.timedelta(days=1)
CONSENTS = ("consent_sms", "consent_call", "consent_mail", "consent_visit")


def _write_store(folder: Path, seed: int = 7) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    rng = random.Random(seed)
    folder.mkdir()
    stores = [{"store_id": f"S{n}", "region": "north" if n < 3 else "south"} for n in (1, 2, 3)]
    customers = [{"customer_id": f"C{n:03d}", "home_store": f"S{1 + n % 3}",
                  "region": "", "referred_by": f"C{n - 1:03d}" if n % 5 == 1 else "",
                  **{c: "false" if n % 7 == i else "true" for i, c in enumerate(CONSENTS)}}
                 for n in range(CUSTOMERS)]
    receipts = []
    for i in range(RECEIPTS):
        at = dt.datetime.combine(DAY, dt.time(9)) + dt.timedelta(seconds=rng.randrange(43200))
        amount = Decimal(str(round(rng.lognormvariate(6.3, 1.1), 2)))
        receipts.append({"purchase_id": f"P{i:05d}",
                         "customer_id": f"C{rng.randrange(CUSTOMERS):03d}",
                         "store_id": f"S{rng.randrange(1, 4)}", "staff_id": f"E{i % 2}",
                         "purchased_at": at.isoformat(), "amount": f"{amount:.2f}",
                         "currency": "EUR", "return_of": ""})
    receipts.sort(key=lambda r: (r["purchased_at"], r["purchase_id"]))
    for name, rows in (("stores", stores), ("customers", customers), ("purchases", receipts)):
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return customers, receipts


def _run(data: Path, state: Path | str, out: Path, day: dt.date = DAY) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "loyaltyrules", "run", "--as-of", str(day),
         "--data", str(data), "--state", str(state), "--policies", str(PACK),
         "--out", str(out), "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[bytes]) -> None:
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _decisions(state: Path | str) -> dict[str, dict[str, Any]]:
    with Ledger.open(state) as ledger:
        return {r["action_id"]: r for r in ledger_state(ledger)}


def _family(customer_id: str) -> int:
    """A referrer and the customer they brought share a client: a thank-you to the
    referrer is decided in event order with the referrer's own receipts."""
    return (int(customer_id[1:]) // 5) % CLIENTS


def test_service_and_nightly_run_share_the_state(tmp_path: Path, any_state: str) -> None:
    customers, receipts = _write_store(tmp_path / "data")

    # the night before ran on both states (the till knows the stores' regions from it)
    for name, night in (("alone", tmp_path / "alone.sqlite"), ("shared", any_state)):
        _finish(_run(tmp_path / "data", night, tmp_path / f"{name}-0.jsonl",
                     DAY - dt.timedelta(days=1)))
    # the same run alone, on its own state: what the ledger must hold in the end
    started = time.monotonic()
    _finish(_run(tmp_path / "data", tmp_path / "alone.sqlite", tmp_path / "alone.jsonl"))
    run_seconds = time.monotonic() - started
    expected = _decisions(tmp_path / "alone.sqlite")
    statuses = {(r["status"], r["status_reason"]) for r in expected.values()}
    assert {("open", None), ("merged", "merged"), ("expired", "no-consent:call")} <= statuses
    assert any(status == "deferred" for status, _reason in statuses), statuses

    state = any_state
    server, base = start_serve(state)
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            for customer in customers:
                record = {k: v for k, v in customer.items() if v and k not in CONSENTS}
                record.update({c: customer[c] == "true" for c in CONSENTS})
                assert client.post("/v1/customers", json=record).status_code == 200

        # each client thread owns some families of customers and posts their receipts
        # in order, paced to last about twice as long as the run, which starts at once
        pause = 2 * run_seconds / (RECEIPTS / CLIENTS)

        def post(part: int) -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = []
            with httpx.Client(base_url=base, timeout=60) as client:
                for receipt in receipts:
                    if _family(receipt["customer_id"]) != part:
                        continue
                    response = client.post("/v1/purchases", json=receipt)
                    assert response.status_code == 200, response.text
                    got.extend(response.json()["decisions"])
                    time.sleep(pause)
            return got

        nightly = _run(tmp_path / "data", state, tmp_path / "shared.jsonl")
        with ThreadPoolExecutor(CLIENTS) as pool:
            answered = [d for part in pool.map(post, range(CLIENTS)) for d in part]
        _finish(nightly)
        assert server.poll() is None  # the service survived the contention
    finally:
        server.terminate()
        server.wait(timeout=30)

    served = [d["action"]["action_id"] for d in answered if d["status"] == "emitted"]
    written = [a["action_id"] for a in _lines(tmp_path / "shared.jsonl")]
    assert served, "the service emitted no action; the test would prove nothing"
    assert len(served) == len(set(served)), "the service handed an action out twice"
    assert len(written) == len(set(written)), "the run wrote an action twice"
    recorded = _decisions(state)
    assert recorded == expected  # every status as the run alone decides it
    out = {aid for aid, r in recorded.items() if r["status"] == "open"}
    # the run's output holds every action out for its date, the POS's as well
    # (at least once: a host deduplicates by action_id, docs/outputs.md)
    assert set(served) <= set(written) == out
    for answer in answered:  # the till was told what the ledger holds
        row = recorded[answer["action"]["action_id"]]
        status = "open" if answer["status"] == "emitted" else answer["status"]
        assert (status, answer["deferred_to"], answer["merged_into"]) == (
            row["status"], row["deferred_to"], row["merged_into"])

    engine = Engine.load(policies=[PACK], state=state)
    try:
        for customer in customers:
            mine = [r for r in receipts if r["customer_id"] == customer["customer_id"]]
            view = engine.view(customer["customer_id"])
            assert view is not None
            assert view.purchase_count == len(mine)
            metrics = engine.metrics(customer["customer_id"])
            assert metrics is not None
            assert metrics["lifetime_spend"] == sum(Decimal(r["amount"]) for r in mine)
    finally:
        engine.close()
