"""The durable_rules backend against the native one: on generated receipt streams both
fire the same actions, field for field; through `Engine` the contact rules and the
ledger decide alike; 10,000 customers in one process never reach the engine's
1,024-session limit; no timer thread is started; errors read as sentences."""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from loyaltyrules.api import Engine, StatelessEngine
from loyaltyrules.conditions.catalog import all_facts
from loyaltyrules.event.durable.compiler import OPEN_FACT, OPEN_RULE, RESERVED, field_name
from loyaltyrules.event.durable.session import DurableError, DurableUnavailable, Ruleset, readable
from loyaltyrules.event.durable.values import fnv1a
from loyaltyrules.event.errors import EventError
from loyaltyrules.event.view import CustomerView
from test_pack_properties import histories

from _durable import need_durable, subset_pack
from pack_oracle import Customer, Receipt

STORES = {"S1": "south", "S2": "north", "S3": None}
SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@pytest.fixture(autouse=True)
def _durable() -> None:
    need_durable()


@functools.cache
def _engines() -> tuple[StatelessEngine, StatelessEngine]:
    folder = Path(tempfile.mkdtemp(prefix="loyaltyrules-durable-"))
    atexit.register(shutil.rmtree, folder, True)
    pack = subset_pack(folder / "policies", rich=True)
    return (StatelessEngine.load(pack, STORES),
            StatelessEngine.load(pack, STORES, backend="durable_rules"))


def _customer(c: Customer) -> dict[str, Any]:
    return {"customer_id": c.customer_id, "region": c.region,
            "birthday": c.birthday.isoformat() if c.birthday else None,
            "referred_by": c.referred_by, "address": "somewhere" if c.has_address else None,
            "consent_mail": c.consent_mail}


def _stream(engine: StatelessEngine, customers: list[Customer], receipts: list[Receipt],
            stores: list[str], days: list[dt.date]) -> list[dict[str, Any]]:
    """Every receipt in order (each purchase_id once), then each customer's days."""
    views: dict[str, CustomerView] = {c.customer_id: engine.new_view(_customer(c))
                                      for c in customers}
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    ordered = sorted(zip(receipts, stores, strict=False), key=lambda p: (p[0].at,
                                                                       p[0].purchase_id))
    for receipt, store in ordered:
        if receipt.purchase_id in seen or receipt.customer_id is None:
            continue
        seen.add(receipt.purchase_id)
        view = views[receipt.customer_id]
        referrer = views.get(view.record.referred_by or "") if view.record else None
        actions, views[receipt.customer_id] = engine.on_purchase(
            {"purchase_id": receipt.purchase_id, "customer_id": receipt.customer_id,
             "store_id": store, "staff_id": "E1" if store == "S1" else None,
             "purchased_at": receipt.at.isoformat(), "amount": str(receipt.amount)},
            view, referrer)
        found += actions
    for day in days:
        for view in views.values():
            found += engine.on_day(view, day)
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=SLOW)
@given(histories(), st.lists(st.sampled_from(sorted(STORES)), min_size=15, max_size=15))
def test_native_and_durable_rules_fire_the_same_actions(
        history: tuple[list[Customer], list[Receipt]], stores: list[str]) -> None:
    """Same ids, and the same records field for field (windows, params, reasons)."""
    customers, receipts = history
    native, durable = _engines()
    days = [dt.date(2025, 1, 1), dt.date(2025, 1, 8)]
    expected = _stream(native, customers, receipts, stores, days)
    got = _stream(durable, customers, receipts, stores, days)
    event(f"actions fired: {min(len(expected), 5)}{'+' if len(expected) >= 5 else ''}")
    for policy in sorted({a["policy"] for a in expected}):
        event(f"fired {policy}")
    assert [a["action_id"] for a in got] == [a["action_id"] for a in expected]
    assert got == expected


def test_every_policy_of_the_subset_fires_on_durable_rules() -> None:
    """Not vacuous: a known stream fires each policy, through durable_rules' rules."""
    customers = [Customer("R", "north"), Customer("C1", "north", dt.date(1990, 5, 1), "R")]
    amounts = ["2500", "9000", "-150", "60000"]
    receipts = [Receipt(f"P{i}", "C1", dt.datetime(2025, 3, 1 + i, 10), Decimal(a))
                for i, a in enumerate(amounts)]
    native, durable = _engines()
    got = _stream(durable, customers, receipts, ["S2"] * 4, [dt.date(2027, 1, 1)])
    assert got == _stream(native, customers, receipts, ["S2"] * 4, [dt.date(2027, 1, 1)])
    assert {a["policy"] for a in got} == {"big-purchase-call", "choice-purchase",
                                          "cumulative-thanks", "referral-thanks", "vip-tiers"}
    assert {a["reason"]["trigger"] for a in got} >= {"purchase", "first_purchase", "crossing",
                                                     "upgrade", "downgrade"}


def test_the_engine_decides_alike_on_either_backend(tmp_path: Path) -> None:
    """Contact rules and ledger unchanged: the same decisions and open actions."""
    pack = subset_pack(tmp_path / "policies", rich=True)
    answers = {}
    for backend in ("native", "durable_rules"):
        engine = Engine.load(pack, state=tmp_path / f"{backend}.db", stores=STORES,
                             backend=backend)
        try:
            engine.on_customer({"customer_id": "R", "region": "north"})
            engine.on_customer({"customer_id": "C1", "region": "north", "referred_by": "R",
                                "phone": "1"})
            said = [engine.on_purchase({"purchase_id": f"P{i}", "customer_id": "C1",
                                        "store_id": store, "amount": amount,
                                        "purchased_at": f"2025-03-0{i + 1}T10:00:00"}).decisions
                    for i, (store, amount) in enumerate([("S1", "2500"), ("S2", "9000"),
                                                         ("S2", "-150"), ("S3", "60000")])]
            answers[backend] = (said, engine.open_actions("C1"), engine.open_actions("R"))
        finally:
            engine.close()
    assert answers["durable_rules"] == answers["native"]
    assert sum(len(d) for d in answers["native"][0]) >= 6


def test_ten_thousand_customers_never_reach_the_session_limit() -> None:
    """durable_rules keeps at most 1,024 live sessions per ruleset and then corrupts
    memory; one short session per event means 10,000 customers are fine."""
    _native, durable = _engines()
    fired = 0
    for n in range(10_000):
        view = durable.new_view({"customer_id": f"K{n}", "region": "south"})
        actions, _after = durable.on_purchase(
            {"purchase_id": f"Q{n}", "customer_id": f"K{n}", "store_id": "S1",
             "purchased_at": "2025-05-05T12:00:00", "amount": "2500"}, view)
        fired += sum(a["policy"] == "big-purchase-call" for a in actions)
    assert fired == 10_000


NO_THREAD = """
import sys, threading
from loyaltyrules.api import StatelessEngine
before = {t.ident for t in threading.enumerate()}
engine = StatelessEngine.load(sys.argv[1], backend="durable_rules")
view = engine.new_view({"customer_id": "C1"})
engine.on_purchase({"purchase_id": "P1", "customer_id": "C1", "store_id": "S1",
                    "purchased_at": "2025-05-05T12:00:00", "amount": "2500"}, view)
print(sorted(t.name for t in threading.enumerate() if t.ident not in before))
"""


def test_no_timer_thread_is_started(tmp_path: Path) -> None:
    """In a process of its own: the suite's other tests leave threads coming and going
    (servers, pools), which would blur a count taken here."""
    done = subprocess.run([sys.executable, "-c", NO_THREAD, str(subset_pack(tmp_path / "p"))],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_value_beyond_the_engines_exact_numbers_is_a_clear_event_error(tmp_path: Path) -> None:
    """Lifetime spend past 2**53 thousandths would be rounded by the C engine: refused."""
    pack = subset_pack(tmp_path / "p")
    (pack / "lifetime.yaml").write_text(LIFETIME)
    engine = StatelessEngine.load(pack, backend="durable_rules")
    view = engine.new_view({"customer_id": "C1"})
    taken = 0
    with pytest.raises(EventError) as err:
        for n in range(12):  # receipts of almost 10**12 each (the input's largest)
            _actions, view = engine.on_purchase(
                {"purchase_id": f"P{n}", "customer_id": "C1", "store_id": "S1",
                 "purchased_at": f"2025-05-{n + 1:02d}T12:00:00", "amount": "999999999999"},
                view)
            taken += 1
    assert taken == 9  # the tenth would take the lifetime spend past 9.007 * 10**12
    assert err.value.code == "durable-limit"
    assert "customer.lifetime_spend: a value beyond the engine's exact integers" in str(err.value)
    assert "999999999999" not in str(err.value)


LIFETIME = """id: lifetime-note
title: Lifetime note
description: Reads the lifetime spend.
version: 1
trigger: {kind: purchase}
conditions:
  - customer.lifetime_spend >= 5
actions:
  - type: call
    recipient: customer
    assignee: {role: store_manager}
    window: {due_by: 3d}
    template: big-purchase-call
"""


def test_engine_errors_read_as_sentences() -> None:
    with pytest.raises(DurableError) as err:
        Ruleset({"broken": {"all": [{"m": {"$lt": {}}}]}})
    assert "durable_rules: " in str(err.value) and "error code" in str(err.value)
    assert str(readable(RuntimeError("Could not assert event, error code: 302"))) == (
        "durable_rules: a fact with more than 255 properties (error code 302)")


def test_without_the_package_the_backend_refuses_clearly(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "durable_rules_engine", None)  # as on Python 3.13
    with pytest.raises(DurableUnavailable) as err:
        StatelessEngine.load(subset_pack(tmp_path / "p"), backend="durable_rules")
    assert "pip install 'loyaltyrules[durable]'" in str(err.value)
    assert "native backend" in str(err.value)


def test_sessions_in_which_no_rule_fires_end_cleanly() -> None:
    """durable_rules 2.0.28 frees an invalid pointer deleting a session where no rule
    fired; each session opens with a fact a rule answers, so these events are safe."""
    _native, durable = _engines()
    for n in range(2_000):
        view = durable.new_view({"customer_id": f"L{n}", "region": "south"})
        actions, _after = durable.on_purchase(
            {"purchase_id": f"L{n}", "customer_id": f"L{n}", "store_id": "S3",
             "purchased_at": "2025-05-05T12:00:00", "amount": "15"}, view)
        assert [a["policy"] for a in actions] == []


def test_property_names_that_share_a_hash_are_confused_by_the_engine() -> None:
    """Why names are checked at load: 'SeCpj' and 'SA0ta' have one FNV-1a hash, and the
    engine matches a rule on one with a fact holding only the other."""
    assert fnv1a("SeCpj") == fnv1a("SA0ta")
    rules = Ruleset({"x/v0": {"all": [{"m": {"$and": [{"policy": "x"},
                                                      {"$gte": {"SeCpj": 5}}]}}]},
                     OPEN_RULE: {"all": [{"m": OPEN_FACT}]}})
    assert rules.fired([{"policy": "x", "SA0ta": 10}]) == [{"x/v0"}]
    rules.close()


def test_every_fact_the_catalog_knows_has_a_hash_of_its_own() -> None:
    names = {field_name(path) for path in all_facts()} | set(RESERVED)
    assert len({fnv1a(name) for name in names}) == len(names)
