"""The service and a nightly `run` on one state file at the same time, as real processes.

A client posts a store's receipts to `loyaltyrules serve` while `loyaltyrules run`
evaluates the same receipts from the store's files into the same SQLite state.
Afterwards: neither handed an action out twice, the run's output holds every action
out for its dates (the POS's too: a host deduplicates by action_id), the ledger holds
exactly the actions of the same run done alone, each once, and every customer view
counts each receipt once.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from loyaltyrules.api import Engine
from loyaltyrules.ledger import Ledger

from _paths import PACK
from _service import start_serve

CUSTOMERS = 40
RECEIPTS = 400
DAYS = 20
CLIENTS = 4


def _write_store(folder: Path, seed: int = 7) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    rng = random.Random(seed)
    folder.mkdir()
    stores = [{"store_id": f"S{n}", "region": "north" if n < 3 else "south"} for n in (1, 2, 3)]
    customers = [{"customer_id": f"C{n:03d}", "home_store": f"S{1 + n % 3}",
                  "region": "", "referred_by": f"C{n - 1:03d}" if n % 5 == 1 else ""}
                 for n in range(CUSTOMERS)]
    first = dt.date.today() - dt.timedelta(days=DAYS + 1)
    receipts = []
    for i in range(RECEIPTS):
        day = first + dt.timedelta(days=rng.randrange(DAYS))
        at = dt.datetime.combine(day, dt.time(10)) + dt.timedelta(seconds=rng.randrange(36000))
        amount = Decimal(str(round(rng.lognormvariate(6.0, 1.0), 2)))
        receipts.append({"purchase_id": f"P{i:05d}",
                         "customer_id": f"C{rng.randrange(CUSTOMERS):03d}",
                         "store_id": f"S{rng.randrange(1, 4)}", "staff_id": "E1",
                         "purchased_at": at.isoformat(), "amount": f"{amount:.2f}",
                         "currency": "EUR", "return_of": ""})
    receipts.sort(key=lambda r: (r["purchased_at"], r["purchase_id"]))
    for name, rows in (("stores", stores), ("customers", customers), ("purchases", receipts)):
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return customers, receipts


def _run(data: Path, state: Path, out: Path) -> subprocess.Popen[bytes]:
    first = dt.date.today() - dt.timedelta(days=DAYS + 1)
    last = dt.date.today() - dt.timedelta(days=1)
    return subprocess.Popen(
        [sys.executable, "-m", "loyaltyrules", "run", "--as-of", str(first), "--through",
         str(last), "--data", str(data), "--state", str(state), "--policies", str(PACK),
         "--out", str(out), "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[bytes]) -> None:
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _ledger_ids(state: Path, customers: list[dict[str, str]]) -> list[str]:
    with Ledger.open(state) as ledger:
        return sorted(a["action_id"] for c in customers
                      for a in ledger.actions_for_customer(c["customer_id"]))


def _out_for_the_run(state: Path) -> set[str]:
    first = dt.date.today() - dt.timedelta(days=DAYS + 1)
    last = dt.date.today() - dt.timedelta(days=1)
    with sqlite3.connect(state) as con:
        rows = con.execute("SELECT action_id FROM actions WHERE status NOT IN ('deferred', "
                           "'merged', 'expired') AND contact_day BETWEEN ? AND ?",
                           (first.isoformat(), last.isoformat())).fetchall()
    return {r[0] for r in rows}


def test_service_and_nightly_run_share_the_state(tmp_path: Path) -> None:
    customers, receipts = _write_store(tmp_path / "data")

    # the same run alone, on its own state: what the ledger must hold in the end
    started = time.monotonic()
    _finish(_run(tmp_path / "data", tmp_path / "alone.sqlite", tmp_path / "alone.jsonl"))
    run_seconds = time.monotonic() - started
    expected = _ledger_ids(tmp_path / "alone.sqlite", customers)
    assert expected and len(expected) == len(set(expected))

    state = tmp_path / "shared.sqlite"
    server, base = start_serve(state)
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            for customer in customers:
                record = {k: v for k, v in customer.items() if v}
                assert client.post("/v1/customers", json=record).status_code == 200

        # each client thread owns some customers and posts their receipts in order,
        # paced to last about twice as long as the run, which starts at the same moment
        pause = 2 * run_seconds / (RECEIPTS / CLIENTS)

        def post(part: int) -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = []
            with httpx.Client(base_url=base, timeout=60) as client:
                for receipt in receipts:
                    if int(receipt["customer_id"][1:]) % CLIENTS != part:
                        continue
                    response = client.post("/v1/purchases", json=receipt)
                    assert response.status_code == 200, response.text
                    got.extend(response.json()["actions"])
                    time.sleep(pause)
            return got

        nightly = _run(tmp_path / "data", state, tmp_path / "shared.jsonl")
        with ThreadPoolExecutor(CLIENTS) as pool:
            served = [a for part in pool.map(post, range(CLIENTS)) for a in part]
        _finish(nightly)
        assert server.poll() is None  # the service survived the contention
    finally:
        server.terminate()
        server.wait(timeout=30)

    written = [a["action_id"] for a in _lines(tmp_path / "shared.jsonl")]
    served_ids = [a["action_id"] for a in served]
    assert served, "the service fired no action; the test would prove nothing"
    assert len(served_ids) == len(set(served_ids)), "the service handed an action out twice"
    assert len(written) == len(set(written)), "the run wrote an action twice"
    recorded = _ledger_ids(state, customers)
    assert len(recorded) == len(set(recorded))
    assert set(served_ids) | set(written) <= set(recorded)
    assert recorded == expected  # nothing lost, nothing extra
    # the run's output holds every action out for its dates, the POS's as well
    # (at least once: a host deduplicates by action_id, docs/outputs.md)
    assert set(written) == _out_for_the_run(state)

    engine = Engine.load(policies=[PACK], state=state)
    try:
        for customer in customers:
            mine = [r for r in receipts if r["customer_id"] == customer["customer_id"]]
            view = engine.view(customer["customer_id"])
            assert view is not None
            assert view.purchase_count == len(mine)
            assert view.lifetime_spend == sum(Decimal(r["amount"]) for r in mine)
    finally:
        engine.close()
