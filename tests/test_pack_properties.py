"""Generated histories: the engine agrees with an independent model of the pack, and
a range evaluated in one pass equals the same dates evaluated night by night."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyaltyrules.engine.batch import evaluate
from loyaltyrules.plan import Plan
from loyaltyrules.sources import open_source

from pack_oracle import CalendarDay, Complaint, Customer, History, HostEvent, Receipt

START, END = dt.date(2024, 12, 24), dt.date(2025, 1, 8)
AMOUNTS = [
    Decimal(v)
    for v in (
        "-3000",
        "-400",
        "0",
        "35.50",
        "1999.99",
        "2000",
        "4999.99",
        "5000",
        "5000",
        "9000",
        "10000",
        "15000",
        "25000",
        "49000",
    )
]
BIRTHDAYS = [
    None,
    dt.date(1990, 12, 25),
    dt.date(2000, 1, 1),
    dt.date(1996, 2, 29),
    dt.date(1980, 1, 5),
]
IDS = ["C1", "C2", "C3", "C4", "C5"]


Occasions = tuple[list[CalendarDay], list[Complaint], list[HostEvent]]


@st.composite
def occasions(draw: st.DrawFn) -> Occasions:
    """Calendar days, complaints and host events in and around the evaluated window."""
    day = st.builds(lambda n: START + dt.timedelta(days=n), st.integers(-2, (END - START).days))
    moment = st.builds(lambda d, h, m: dt.datetime.combine(d, dt.time(h, m)), day,
                       st.integers(0, 23), st.sampled_from([0, 59]))
    calendar = draw(st.lists(st.builds(
        CalendarDay, day, st.sampled_from(["Christmas", "christmas", "Lunar New Year", "Winter"]),
        st.sampled_from(["holiday", "Holiday", "season", "closed"]),
        st.sampled_from([None, "north", "south"])), max_size=4))
    who = st.sampled_from([*IDS, None, "C9"])
    complaints = [Complaint(f"K{i}", draw(who), draw(moment))
                  for i in range(draw(st.integers(0, 3)))]
    kinds = st.sampled_from(["email", "EMAIL", "visit", "inquiry"])
    events = [HostEvent(f"M{i}", draw(kinds), draw(who), draw(moment))
              for i in range(draw(st.integers(0, 3)))]
    return calendar, complaints, events


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Customer], list[Receipt]]:
    count = draw(st.integers(1, len(IDS)))
    customers = [
        Customer(
            IDS[i],
            draw(st.sampled_from(["north", "south"])),
            draw(st.sampled_from(BIRTHDAYS)),
            draw(st.sampled_from([None, "C1", "C2", "C9"])),
            draw(st.booleans()),
            draw(st.booleans()),
        )
        for i in range(count)
    ]
    customers = [
        c if c.referred_by != c.customer_id else Customer(c.customer_id, c.region, c.birthday)
        for c in customers
    ]
    receipts = []
    for n in range(draw(st.integers(0, 14))):
        # In the evaluated window, exactly 90 days before it (lapses), or anywhere.
        near = START + dt.timedelta(days=draw(st.integers(-3, (END - START).days)))
        lapse = near - dt.timedelta(days=90)
        far = dt.date(2023, 9, 1) + dt.timedelta(days=draw(st.integers(0, 495)))
        day = draw(st.sampled_from([near, near, lapse, far]))
        at = dt.datetime.combine(
            day, dt.time(draw(st.integers(9, 20)), draw(st.sampled_from([0, 30])))
        )
        receipts.append(
            Receipt(
                f"P{n:02d}", draw(st.sampled_from(IDS[:count])), at, draw(st.sampled_from(AMOUNTS))
            )
        )
    if receipts and draw(st.booleans()):
        receipts.append(receipts[draw(st.integers(0, len(receipts) - 1))])  # a re-sent receipt
    return customers, receipts


def _jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    if rows:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _write_occasions(folder: Path, calendar: list[CalendarDay], complaints: list[Complaint],
                     events: list[HostEvent]) -> None:
    _jsonl(folder / "calendar.jsonl", [
        {"date": c.day.isoformat(), "name": c.name, "kind": c.kind, "region": c.region}
        for c in calendar])
    _jsonl(folder / "complaints.jsonl", [
        {"complaint_id": k.complaint_id, "customer_id": k.customer_id,
         "received_at": k.at.isoformat(), "channel": "phone"} for k in complaints])
    _jsonl(folder / "events.jsonl", [
        {"event_id": e.event_id, "kind": e.kind, "customer_id": e.customer_id,
         "store_id": "S1", "occurred_at": e.at.isoformat()} for e in events])


def _load(
    folder: Path,
    customers: list[Customer],
    receipts: list[Receipt],
    occasions: Occasions | None = None,
) -> duckdb.DuckDBPyConnection:
    rows = [
        {
            "customer_id": c.customer_id,
            "region": c.region,
            "birthday": c.birthday.isoformat() if c.birthday else None,
            "referred_by": c.referred_by,
            "address": "somewhere" if c.has_address else None,
            "consent_mail": c.consent_mail,
        }
        for c in customers
    ]
    (folder / "customers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = [
        {
            "purchase_id": r.purchase_id,
            "customer_id": r.customer_id,
            "store_id": "S1",
            "purchased_at": r.at.isoformat(),
            "amount": str(r.amount),
        }
        for r in receipts
    ]
    (folder / "purchases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines) or "")
    if occasions is not None:
        _write_occasions(folder, *occasions)
    if not lines:
        (folder / "purchases.jsonl").unlink()
        (folder / "purchases.csv").write_text(
            "purchase_id,customer_id,store_id,purchased_at,amount\n"
        )
    source = open_source(folder, as_of_limit=END)
    return source.connection


def _fired(actions: list[dict[str, object]]) -> Counter[tuple[object, ...]]:
    return Counter(
        (a["policy"], a["customer_id"], *(_day(a[k]) for k in ("as_of",)), a["type"],
         _day(a["not_before"]), _day(a["due_by"]))
        for a in actions
    )


def _day(value: object) -> dt.date:
    return dt.date.fromisoformat(str(value))


SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=40, deadline=None, suppress_health_check=SLOW)
@given(histories(), occasions())
def test_engine_agrees_with_the_playbook_model(
    pack_plan: Plan,
    tmp_path_factory: object,
    history: tuple[list[Customer], list[Receipt]],
    occasions: Occasions,
) -> None:
    customers, receipts = history
    folder = tmp_path_factory.mktemp("h")  # type: ignore[attr-defined]
    con = _load(folder, customers, receipts, occasions)
    in_one_pass = evaluate(con, pack_plan, START, END).actions
    model = History(customers, receipts, *occasions)
    assert _fired(in_one_pass) == Counter(model.fired(START, END))


@settings(max_examples=12, deadline=None, suppress_health_check=SLOW)
@given(histories())
def test_a_range_equals_its_nights(
    pack_plan: Plan, tmp_path_factory: object, history: tuple[list[Customer], list[Receipt]]
) -> None:
    customers, receipts = history
    con = _load(tmp_path_factory.mktemp("h"), customers, receipts)  # type: ignore[attr-defined]
    start, end = dt.date(2024, 12, 30), dt.date(2025, 1, 2)
    in_one_pass = evaluate(con, pack_plan, start, end).actions
    nightly = [
        a
        for i in range((end - start).days + 1)
        for a in evaluate(
            con, pack_plan, start + dt.timedelta(days=i), start + dt.timedelta(days=i)
        ).actions
    ]
    assert sorted(a["action_id"] for a in nightly) == sorted(a["action_id"] for a in in_one_pass)
