"""Group commit at the point of sale: `Engine.on_purchases` gives the answers, ledger and
views that `on_purchase` gives receipt by receipt, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from loyaltyrules import Engine, EventError
from loyaltyrules.event.receipts import parse_receipt

from _paths import PACK
from _states import new_state, rows

CUSTOMERS = [f"C{i}" for i in range(12)]


def _stream(seed: int, count: int) -> list[dict[str, Any]]:
    """Receipts over a few customers in two stores: repeats, big ones, returns, anonymous
    sales, and a purchase id sent twice."""
    rng = random.Random(seed)
    receipts = []
    for i in range(count):
        day = 1 + i // 15
        amount = rng.choice(["12.50", "80", "640", "2500", "-30"])
        receipts.append({
            "purchase_id": f"P{i}", "customer_id": rng.choice([*CUSTOMERS, None]),
            "store_id": rng.choice(["S1", "S2"]), "staff_id": "E1",
            "purchased_at": f"2025-03-{day:02d}T{10 + i % 10:02d}:00:00", "amount": amount})
    receipts.insert(count // 2, dict(receipts[3]))  # seen before: answers []
    return receipts


def _engine(state: str) -> Engine:
    engine = Engine.load(PACK, state=state, stores={"S1": "north", "S2": "south"})
    for i, customer in enumerate(CUSTOMERS):
        referrer = {"referred_by": CUSTOMERS[i - 1]} if i % 4 == 1 else {}
        engine.on_customer({"customer_id": customer, "region": "north",
                            "phone": "+1 555 0100", **referrer})
    return engine


def _ledger(state: str) -> list[tuple[Any, ...]]:
    return rows(state, "SELECT action_id, customer_id, policy, status, record FROM actions "
                       "ORDER BY action_id")


@pytest.mark.parametrize("seed", [1, 2])
def test_groups_answer_as_one_by_one(state_kind: str, tmp_path: Path, seed: int) -> None:
    receipts = _stream(seed, 90)
    with new_state(state_kind, tmp_path, "one.sqlite") as one, \
            new_state(state_kind, tmp_path, "group.sqlite") as grouped:
        single, batched = _engine(one), _engine(grouped)
        expected = [single.on_purchase(r) for r in receipts]
        answers: list[Any] = []
        rng, at = random.Random(seed), 0
        while at < len(receipts):
            size = rng.choice([1, 5, 17, 40])
            answers += batched.on_purchases(receipts[at:at + size])
            at += size
        assert [list(a) for a in answers] == [list(a) for a in expected]
        assert [a.decisions for a in answers] == [a.decisions for a in expected]
        assert any(expected) and _ledger(grouped) == _ledger(one)
        for customer in CUSTOMERS:
            assert batched.view(customer) == single.view(customer)
        single.close()
        batched.close()


def test_a_bad_receipt_in_a_group_writes_nothing(tmp_path: Path) -> None:
    engine = _engine(str(tmp_path / "state.sqlite"))
    good = [{"purchase_id": f"G{i}", "customer_id": "C1", "store_id": "S1",
             "purchased_at": "2025-03-01T10:00:00", "amount": "2500"} for i in range(3)]
    bad = {"purchase_id": "X", "store_id": "S1", "amount": "ten"}
    with pytest.raises(EventError, match="receipt 2 of the group") as caught:
        engine.on_purchases([*good[:2], bad, good[2]])
    assert caught.value.code and "ten" not in str(caught.value)
    assert rows(str(tmp_path / "state.sqlite"), "SELECT count(*) FROM actions") == [(0,)]
    view = engine.view("C1")
    assert view is None or view.purchase_count == 0  # nothing of the group was kept
    (answer,) = engine.on_purchases(good[:1])
    assert "big-purchase-call" in [a["policy"] for a in answer]
    engine.close()


def test_a_group_looked_up_in_chunks_keeps_what_one_by_one_keeps(
        state_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A group's purchases and views are looked up in IN lists of IN_CHUNK ids: over
    several lists, with ids sent twice inside the group and ids of an earlier group,
    the receipts, seen marks, views and ledger are those of one call per receipt."""
    monkeypatch.setattr("loyaltyrules.event.store.IN_CHUNK", 7)
    receipts = _stream(5, 60)
    receipts += [dict(receipts[10]), dict(receipts[40])]  # again, inside the group
    tables = ("SELECT purchase_id, customer_id, store_id, staff_id, purchased_at, amount "
              "FROM pos_receipts ORDER BY purchase_id",
              "SELECT purchase_id, source FROM seen_purchases ORDER BY purchase_id",
              "SELECT customer_id, view FROM customer_views ORDER BY customer_id")
    with new_state(state_kind, tmp_path, "one.sqlite") as one, \
            new_state(state_kind, tmp_path, "group.sqlite") as grouped:
        single, batched = _engine(one), _engine(grouped)
        expected = [single.on_purchase(r) for r in [*receipts[:20], *receipts]]
        answers = batched.on_purchases(receipts[:20]) + batched.on_purchases(receipts)
        assert [a.decisions for a in answers] == [a.decisions for a in expected]
        assert answers[20:40] == [[]] * 20 and answers[-2:] == [[], []]
        for query in tables:
            assert rows(grouped, query) == rows(one, query)
        assert _ledger(grouped) == _ledger(one)
        single.close()
        batched.close()


def test_a_purchase_claimed_meanwhile_by_another_writer_keeps_nothing() -> None:
    """On PostgreSQL two writers hold different locks when one purchase id comes with
    different stores and customers: a group whose purchase another connection claimed
    between the group's lookup and its writes raises Busy and keeps nothing; sent
    again, that purchase answers [] (seen) and the others are applied once."""
    from loyaltyrules.event.store import Busy
    from loyaltyrules.ledger import connect_state
    from loyaltyrules.statefile import as_state

    from _states import new_schema

    with new_schema() as url:
        engine = _engine(url)
        group = [{"purchase_id": f"Q{i}", "customer_id": "C1", "store_id": "S1",
                  "purchased_at": "2025-03-01T10:00:00", "amount": "2500"} for i in range(3)]
        other = connect_state(as_state(url), "full")

        def claimed_meanwhile(tx: Any) -> Any:
            tx.prefetch([r["purchase_id"] for r in group], ["C1"])
            other.execute("INSERT INTO seen_purchases (purchase_id, source) VALUES ('Q1', 'x')")
            return [engine._purchase(tx, parse_receipt(r)) for r in group]

        with pytest.raises(Busy):
            engine.store.write(claimed_meanwhile, "store:S1", "customer:C1")
        assert rows(url, "SELECT count(*) FROM actions") == [(0,)]
        answers = engine.on_purchases(group)
        assert answers[1] == [] and all(answers[0::2])
        other.close()
        engine.close()
