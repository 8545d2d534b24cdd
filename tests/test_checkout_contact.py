"""The contact rules at checkout: what the till receives (Engine answer, HTTP answer)
and what the ledger records, with the nightly run's meaning (docs/contact-rules.md)."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from loyaltyrules.api import Engine
from loyaltyrules.contact import ledger_state
from loyaltyrules.event import rebuild
from loyaltyrules.ledger import Ledger
from loyaltyrules.nightly import run_range
from loyaltyrules.plan import Plan
from loyaltyrules.service.app import create_app
from loyaltyrules.service.settings import ServiceSettings
from loyaltyrules.sources import open_source

from _paths import PACK, SCHEMAS

with warnings.catch_warnings():  # starlette's notice about its httpx-based test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

DAY = dt.date(2025, 3, 10)
OPTED_OUT = {"customer_id": "C9", "home_store": "S1", "consent_sms": False,
             "consent_call": False, "consent_mail": False, "consent_visit": False}
ACTION = json.loads((SCHEMAS / "action.schema.json").read_text(encoding="utf-8"))


def _receipt(pid: str, cid: str, amount: str, hour: int = 11, day: dt.date = DAY,
             staff: str | None = "E7") -> dict[str, Any]:
    return {"purchase_id": pid, "customer_id": cid, "store_id": "S1", "staff_id": staff,
            "purchased_at": f"{day.isoformat()}T{hour:02d}:00:00", "amount": amount}


def _rows(state: Path) -> dict[str, dict[str, Any]]:
    with Ledger.open(state) as ledger:
        return {r["action_id"]: r for r in ledger_state(ledger)}


def _by_policy(decisions: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["action"]["policy"], d["action"]["type"]): d for d in decisions}


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine.load(PACK, state=tmp_path / "state.db", stores={"S1": "north"})
    yield eng
    eng.close()


def test_an_opted_out_customers_big_purchase_gets_no_call(engine: Engine, tmp_path: Path
                                                          ) -> None:
    engine.on_customer(OPTED_OUT)
    answer = engine.on_purchase(_receipt("P1", "C9", "2350.00"))
    assert [a for a in answer if a["type"] == "call"] == []
    [decision] = answer.decisions
    assert (decision["status"], decision["reason"]) == ("expired", "no-consent:call")
    assert decision["action"]["policy"] == "big-purchase-call"
    assert engine.open_actions("C9") == []
    [row] = _rows(tmp_path / "state.db").values()
    assert (row["status"], row["status_reason"]) == ("expired", "no-consent:call")


def test_the_service_answers_what_the_contact_rules_did(tmp_path: Path) -> None:
    settings = ServiceSettings(policies=(PACK,), state=tmp_path / "state.sqlite",
                               reload_interval=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.post("/v1/customers", json=OPTED_OUT).status_code == 200
        assert client.post("/v1/customers", json={"customer_id": "C2", "referred_by": "C9",
                                                  "home_store": "S1"}).status_code == 200
        body = client.post("/v1/purchases", json=_receipt("P1", "C9", "2350.00")).json()
        assert body["actions"] == []
        assert [(d["status"], d["reason"]) for d in body["decisions"]] == [
            ("expired", "no-consent:call")]
        assert client.get("/v1/customers/C9/actions").json() == {"actions": []}
        # C2's first purchase: thank both (C9 has no sms consent), and two calls by E7 join
        body = client.post("/v1/purchases", json=_receipt("P2", "C2", "2500.00")).json()
    got = {(d["action"]["policy"], d["action"]["type"], d["action"]["customer_id"]):
           (d["status"], d["reason"], d["merged_into"]) for d in body["decisions"]}
    [call] = [a for a in body["actions"] if a["type"] == "call"]
    assert call["policy"] == "big-purchase-call"
    assert got == {
        ("referral-thanks", "sms", "C9"): ("expired", "no-consent:sms", None),
        ("referral-thanks", "sms", "C2"): ("emitted", None, None),
        ("big-purchase-call", "call", "C2"): ("emitted", None, None),
        ("referral-thanks", "call", "C2"): ("merged", None, call["action_id"])}
    assert [a["action_id"] for a in body["actions"]] == [
        d["action"]["action_id"] for d in body["decisions"] if d["status"] == "emitted"]
    for action in body["actions"]:
        jsonschema.validate(action, ACTION)
    rows = _rows(tmp_path / "state.sqlite")
    for decision in body["decisions"]:
        row = rows[decision["action"]["action_id"]]
        assert {"emitted": "open"}.get(decision["status"], decision["status"]) == row["status"]


def test_a_later_task_of_the_day_joins_the_one_handed_out(engine: Engine, tmp_path: Path
                                                          ) -> None:
    engine.on_customer({"customer_id": "C1", "home_store": "S1"})
    first = engine.on_purchase(_receipt("P1", "C1", "2100", hour=10))
    [call] = first
    later = engine.on_purchase(_receipt("P2", "C1", "2200", hour=15))
    [joined] = later.decisions
    assert later == [] and joined["status"] == "merged"
    assert joined["merged_into"] == call["action_id"]
    survivor = json.loads(_rows(tmp_path / "state.db")[call["action_id"]]["record"])
    assert [m["action_id"] for m in survivor["reason"]["merged"]] == [
        joined["action"]["action_id"]]
    assert survivor["reason"]["merged"][0]["reason"]["purchase_id"] == "P2"
    # the next day's call is a new task (beside the silver card, 6,600 points)
    next_day = engine.on_purchase(_receipt("P3", "C1", "2300", day=DAY + dt.timedelta(days=1)))
    assert sorted(a["type"] for a in next_day) == ["call", "tier_change"]


def test_a_deferral_at_checkout_is_carried_on_by_the_nightly_run(
        tmp_path: Path, pack_plan: Plan) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text(
        "customer_id,home_store,referred_by\nC1,S1,\nC2,S1,C1\nC3,S1,\n", encoding="utf-8")
    # C3 makes most of the store's year (its A class), so C2's big purchase earns no
    # A-class thank-you card, whose sms would take the capped day from the deferred one
    rows = ["P0,C3,S1,E7,2025-02-01T10:00:00,90000",
            "P1,C2,S1,E7,2025-03-10T10:00:00,50",  # thank-you sms to C2 (and C1)
            "P2,C2,S1,E7,2025-03-10T12:00:00,12000"]  # crosses 10,000: an sms, capped
    (data / "purchases.csv").write_text(
        "purchase_id,customer_id,store_id,staff_id,purchased_at,amount\n"
        + "\n".join(rows) + "\n", encoding="utf-8")
    state = tmp_path / "state.db"
    source = open_source(data, as_of_limit=DAY + dt.timedelta(days=5))
    rebuild(state, source.connection, DAY - dt.timedelta(days=1), pack_plan)
    eng = Engine.load(PACK, state=state)
    try:
        eng.on_purchase(_receipt("P1", "C2", "50", hour=10))
        answer = eng.on_purchase(_receipt("P2", "C2", "12000", hour=12))
    finally:
        eng.close()
    thanks = _by_policy(answer.decisions)[("cumulative-thanks", "sms")]
    assert (thanks["status"], thanks["reason"], thanks["deferred_to"]) == (
        "deferred", "cap:sms", "2025-03-13")
    pos = _rows(state)
    # the nights of 10 and 13 March keep what the till decided and carry the deferral on
    for night in (DAY, DAY + dt.timedelta(days=3)):
        run_range(pack_plan, source, night, night, state)
    after = _rows(state)
    aid = thanks["action"]["action_id"]
    assert (after[aid]["status"], after[aid]["contact_day"]) == ("open", "2025-03-13")
    moved = json.loads(after[aid]["record"])
    assert (moved["not_before"], moved["due_by"]) == ("2025-03-13", "2025-03-17")
    assert all(after[i] == row for i, row in pos.items() if i != aid)


def test_a_store_closed_by_the_calendar_table_defers_staff_tasks_at_checkout(
        tmp_path: Path, pack_plan: Plan) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text("customer_id,home_store\nC1,S1\n", encoding="utf-8")
    (data / "purchases.csv").write_text(
        "purchase_id,customer_id,store_id,purchased_at,amount\n", encoding="utf-8")
    (data / "stores.csv").write_text("store_id,region\nS1,north\n", encoding="utf-8")
    (data / "calendar.csv").write_text("date,name,kind,region\n"
                                       "2025-03-10,Inventory,closed,north\n", encoding="utf-8")
    state = tmp_path / "state.db"
    rebuild(state, open_source(data, as_of_limit=DAY).connection, DAY, pack_plan)
    eng = Engine.load(PACK, state=state)
    try:
        answer = eng.on_purchase(_receipt("P1", "C1", "2500"))
    finally:
        eng.close()
    [decision] = answer.decisions
    assert answer == [] and (decision["status"], decision["reason"],
                             decision["deferred_to"]) == ("deferred", "store-closed",
                                                          "2025-03-11")


def test_on_day_closes_the_customers_day_with_its_deferred_actions(engine: Engine) -> None:
    engine.on_customer({"customer_id": "C1", "home_store": "S1"})
    engine.on_customer({"customer_id": "C2", "referred_by": "C1", "home_store": "S1",
                        "birthday": "1990-03-12"})
    engine.on_purchase(_receipt("P1", "C2", "50", hour=10))
    crossing = engine.on_purchase(_receipt("P2", "C2", "12000", hour=12))
    waiting = _by_policy(crossing.decisions)[("cumulative-thanks", "sms")]
    assert waiting["deferred_to"] == "2025-03-13"
    # 12 March: the greeting is capped, and with it its only day passes; the silver
    # card's birthday discount (no cap) goes out
    twelfth = _by_policy(engine.on_day("C2", DAY + dt.timedelta(days=2)).decisions)
    assert {key: (d["status"], d["reason"]) for key, d in twelfth.items()} == {
        ("birthday-greeting", "sms"): ("expired", "cap:sms"),
        ("birthday-greeting", "discount"): ("emitted", None)}
    # 13 March: the deferred thank-you comes due and goes out, moved by three days
    thirteenth = engine.on_day("C2", DAY + dt.timedelta(days=3))
    [sent] = thirteenth
    assert sent["action_id"] == waiting["action"]["action_id"]
    assert (sent["not_before"], sent["due_by"], sent["as_of"]) == (
        "2025-03-13", "2025-03-17", "2025-03-10")
