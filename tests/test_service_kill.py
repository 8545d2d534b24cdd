"""kill -9 of `loyaltyrules serve` (sync "normal", the default) loses no answered receipt,
on a SQLite file and on PostgreSQL (where "normal" is synchronous_commit off: the
server has every commit it answered, whatever happens to the service).

With synchronous=NORMAL a commit is not fsynced, but it is in the operating system's
cache when COMMIT returns, so only an OS crash or power loss could lose it; a process
crash cannot. The service is killed at random moments while a client posts receipts;
after each kill the file must be intact, every receipt the service answered must be
marked seen and logged, every action it returned must be in the ledger, and each
customer view must count exactly the receipts logged for that customer.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from loyaltyrules.api import Engine

from _paths import PACK
from _service import start_serve
from _states import intact, rows

CUSTOMERS = 30
KILLS = 4


def _receipt(n: int, rng: random.Random) -> dict[str, Any]:
    return {"purchase_id": f"K{n:06d}", "customer_id": f"C{rng.randrange(CUSTOMERS):03d}",
            "store_id": "S1", "staff_id": "E1",
            "purchased_at": f"2025-06-{1 + n % 28:02d}T{10 + n % 8:02d}:00:00",
            "amount": f"{rng.choice([40, 300, 2500, 6000])}.00", "currency": "EUR"}


def _post_until_killed(base: str, start: int, rng: random.Random,
                       answered: dict[str, list[str]], stop: threading.Event) -> int:
    n = start
    with httpx.Client(base_url=base, timeout=10) as client:
        while not stop.is_set():
            receipt = _receipt(n, rng)
            try:
                response = client.post("/v1/purchases", json=receipt)
            except httpx.TransportError:
                break  # killed mid-request: this receipt may or may not be kept
            assert response.status_code == 200, response.text
            answered[receipt["purchase_id"]] = [a["action_id"]
                                                for a in response.json()["actions"]]
            n += 1
    return n


def _check(state: str, answered: dict[str, list[str]]) -> None:
    intact(state)  # opening replays the WAL the killed process left
    seen = {r[0] for r in rows(state, "SELECT purchase_id FROM seen_purchases")}
    logged = {r[0] for r in rows(state, "SELECT purchase_id FROM pos_receipts")}
    actions = {r[0] for r in rows(state, "SELECT action_id FROM actions")}
    per_customer = dict(rows(
        state, "SELECT customer_id, count(*) FROM pos_receipts GROUP BY customer_id"))
    missing = set(answered) - seen
    assert not missing, f"{len(missing)} answered receipts lost"
    assert set(answered) <= logged
    returned = {a for ids in answered.values() for a in ids}
    assert returned <= actions, "an action handed out is not in the ledger"
    engine = Engine.load(policies=[PACK], state=state)
    try:
        for customer_id, count in per_customer.items():
            view = engine.view(customer_id)
            assert view is not None and view.purchase_count == count
    finally:
        engine.close()


def test_kill_9_loses_no_answered_receipt(any_state: str) -> None:
    state = any_state
    rng, receipts = random.Random(20251121), random.Random(7)  # kill moments, receipts
    answered: dict[str, list[str]] = {}
    next_id = 0
    for kill in range(KILLS):
        server, base = start_serve(state)
        try:
            if kill == 0:
                with httpx.Client(base_url=base, timeout=10) as client:
                    for c in range(CUSTOMERS):
                        record = {"customer_id": f"C{c:03d}", "home_store": "S1"}
                        assert client.post("/v1/customers", json=record).status_code == 200
            stop = threading.Event()
            with ThreadPoolExecutor(1) as pool:
                posted = pool.submit(_post_until_killed, base, next_id, receipts, answered,
                                     stop)
                time.sleep(rng.uniform(0.3, 1.2))
                os.kill(server.pid, signal.SIGKILL)
                server.wait(timeout=30)
                stop.set()
                next_id = posted.result(timeout=30) + 1  # the one in flight may be kept
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(timeout=30)
        _check(state, answered)
    assert len(answered) > 50, "too few receipts answered for the test to mean much"
    assert any(answered.values()), "no action fired; the ledger check would prove nothing"
