"""The embedding API: dedupe, bad input, threads, the ledger shared with the nightly run."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from loyaltyrules import Engine, EventError
from loyaltyrules.api import StatelessEngine, evaluate_purchase
from loyaltyrules.engine.batch import evaluate
from loyaltyrules.event import rebuild
from loyaltyrules.ledger import Ledger, RunRecord
from loyaltyrules.plan import Plan
from loyaltyrules.sources import open_source

from _paths import PACK

DAY = dt.date(2025, 3, 10)


def _receipt(pid: str, cid: str | None, amount: str, hour: int = 10, **extra: Any
             ) -> dict[str, Any]:
    return {"purchase_id": pid, "customer_id": cid, "store_id": "S1", "staff_id": "E1",
            "purchased_at": f"{DAY.isoformat()}T{hour:02d}:00:00", "amount": amount, **extra}


@pytest.fixture()
def engine(tmp_path: Path) -> Any:
    eng = Engine.load(PACK, state=tmp_path / "state.db", stores={"S1": "north"})
    eng.on_customer({"customer_id": "C1", "region": "north", "phone": "+1 555 0100"})
    eng.on_customer({"customer_id": "C2", "referred_by": "C1", "birthday": "1990-03-10"})
    yield eng
    eng.close()


def _metric(engine: Engine, customer_id: str, name: str) -> Any:
    metrics = engine.metrics(customer_id)
    assert metrics is not None
    return metrics[name]


def test_a_receipt_seen_twice_counts_once(engine: Engine) -> None:
    first = engine.on_purchase(_receipt("P1", "C1", "2500"))
    assert [a["policy"] for a in first] == ["big-purchase-call"]
    assert engine.on_purchase(_receipt("P1", "C1", "2500")) == []
    view = engine.view("C1")
    assert view is not None and view.purchase_count == 1
    assert _metric(engine, "C1", "lifetime_spend") == Decimal("2500.000")


def test_referral_birthday_and_open_actions(engine: Engine) -> None:
    actions = engine.on_purchase(_receipt("P2", "C2", "10"))
    assert sorted(a["customer_id"] for a in actions) == ["C1", "C2", "C2"]
    assert [d["status"] for d in actions.decisions] == ["emitted"] * 3
    # the birthday greeting closes C2's day, after the referral thank-you of the same
    # day: the sms cap holds it, and a greeting is worth sending on its day only
    closed = engine.on_day("C2", DAY)
    assert closed == [] and [(d["action"]["policy"], d["status"], d["reason"])
                             for d in closed.decisions] == [
        ("birthday-greeting", "expired", "cap:sms")]
    assert engine.on_day("C2", DAY).decisions == []  # already in the ledger
    assert {a["policy"] for a in engine.open_actions("C2")} == {"referral-thanks"}
    complaint = {"complaint_id": "K1", "customer_id": "C2", "topic": "fit",
                 "received_at": f"{DAY}T10:00:00"}
    (reply,) = engine.on_complaint(complaint)  # the pack answers every complaint
    next_day = DAY + dt.timedelta(days=1)
    assert (reply["policy"], reply["type"], reply["due_at"][:16]) == (
        "complaint-reply", "task", f"{next_day}T10:00")  # within 24 hours
    with pytest.raises(EventError) as missing:
        engine.on_complaint({"customer_id": "C2", "topic": "fit"})
    assert missing.value.code == "missing-field"


@pytest.mark.parametrize(("event", "code"), [
    ({"customer_id": "C1", "store_id": "S1", "purchased_at": "2025-03-10T10:00:00",
      "amount": "1"}, "missing-field"),
    (_receipt("P3", "C1", "+1 555 0100"), "bad-amount"),
    (_receipt("P3", "C1", "NaN"), "bad-amount"),
    (_receipt("P3", "C1", "4006381333931"), "bad-amount"),  # a barcode: beyond the money limit
    (_receipt("P3", "C1", "1", purchased_at="2025-02-30T10:00:00+02:00"), "bad-timestamp"),
    (_receipt("P3", "C1", "1", purchased_at="yesterday"), "bad-timestamp"),
    (_receipt("P3", 7, "1"), "bad-type"),  # type: ignore[arg-type]
    (["not", "a", "mapping"], "bad-event"),
])
def test_bad_input_is_a_typed_error_without_the_value(engine: Engine, event: Any,
                                                      code: str) -> None:
    with pytest.raises(EventError) as info:
        engine.on_purchase(event)
    assert info.value.code == code
    assert "555" not in str(info.value)


def test_threads_share_one_engine(engine: Engine) -> None:
    def buy(worker: int) -> None:
        for i in range(25):
            engine.on_purchase(_receipt(f"T{worker}-{i}", "C1", "1.5"))
            engine.on_purchase(_receipt(f"T{worker}-{i}", "C1", "1.5"))  # re-sent

    threads = [threading.Thread(target=buy, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    view = engine.view("C1")
    assert view is not None and view.purchase_count == 200
    assert _metric(engine, "C1", "lifetime_spend") == Decimal("300.000")


def _store(folder: Path) -> Any:
    (folder / "customers.csv").write_text("customer_id,region\nC1,north\n")
    (folder / "purchases.csv").write_text(
        "purchase_id,customer_id,store_id,purchased_at,amount\n"
        "P1,C1,S1,2025-03-09T10:00:00,9000\nP2,C1,S1,2025-03-10T10:00:00,2500\n")
    return open_source(folder, as_of_limit=DAY).connection


def test_the_nightly_run_finds_pos_actions_in_the_ledger(tmp_path: Path, pack_plan: Plan
                                                         ) -> None:
    con = _store(tmp_path)
    state = tmp_path / "state.db"
    rebuild(state, con, DAY - dt.timedelta(days=1), pack_plan)
    eng = Engine.load(PACK, state=state)
    pos = eng.on_purchase(_receipt("P2", "C1", "2500", staff_id=None))
    eng.close()
    assert {a["policy"] for a in pos} == {"big-purchase-call", "cumulative-thanks"}
    nightly = evaluate(con, pack_plan, DAY, DAY).actions
    run = RunRecord(run_id="night", started_at="now", bundle=pack_plan.bundle,
                    as_of=DAY.isoformat())
    with Ledger.open(state) as ledger:
        assert ledger.record_run(nightly, run) == []  # each emitted once, at the POS
    with sqlite3.connect(state) as conn:  # POS emissions count towards contact caps
        columns = {r[1] for r in conn.execute("PRAGMA table_info(actions)")}
        if "contact_day" in columns:
            days = conn.execute("SELECT DISTINCT contact_day FROM actions").fetchall()
            assert days == [(DAY.isoformat(),)]
    by_id = sorted(nightly, key=lambda a: a["action_id"])
    assert sorted(json.loads(json.dumps(pos)), key=lambda a: a["action_id"]) == by_id


def test_rebuild_replays_pos_receipts_newer_than_the_history(tmp_path: Path,
                                                             pack_plan: Plan) -> None:
    con = _store(tmp_path)
    state = tmp_path / "state.db"
    eng = Engine.load(PACK, state=state)
    eng.on_purchase(_receipt("P9", "C1", "100", hour=11, purchased_at="2025-03-11T09:00:00"))
    eng.close()
    rebuild(state, con, DAY, pack_plan)
    eng = Engine.load(PACK, state=state)
    view = eng.view("C1")
    spend = _metric(eng, "C1", "lifetime_spend")
    eng.close()
    assert view is not None and view.purchase_count == 3
    assert spend == Decimal("11600.000")


def test_the_stateless_path_stores_nothing(pack_plan: Plan) -> None:
    engine = StatelessEngine.load(PACK)
    view = engine.new_view({"customer_id": "C1"})
    actions, after = evaluate_purchase(engine, _receipt("P1", "C1", "6000"), view)
    assert {a["policy"] for a in actions} == {"big-purchase-call", "vip-tiers"}
    assert engine.metrics(after)["points_this_year"] == 6000 and view.purchase_count == 0
    again, _ = evaluate_purchase(pack_plan, _receipt("P1", "C1", "6000"), view)
    assert again == actions


def test_the_embedding_doc_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = (Path(__file__).parents[1] / "docs" / "embedding.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    for block in blocks:
        exec(compile(block, "embedding.md", "exec"), {})  # the doc's own example code
    printed = capsys.readouterr().out.splitlines()
    expected = [line.strip().removeprefix("# ") for block in blocks
                for line in block.splitlines() if line.strip().startswith("# ")]
    assert printed == expected
