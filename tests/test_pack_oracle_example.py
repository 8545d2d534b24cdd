"""The example store, read by the independent model of the pack (tests/pack_oracle.py):
on the nights around its holidays, seasons, quarter days, Mother's Day, complaints and
e-mails, the engine fires exactly the actions the model does, windows included."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections import Counter
from decimal import Decimal

import pytest

from loyaltyrules.engine.batch import evaluate
from loyaltyrules.examples import example_data_dir
from loyaltyrules.plan import Plan
from loyaltyrules.sources import open_source

from pack_oracle import CalendarDay, Complaint, Customer, History, HostEvent, Receipt


def _rows(table: str) -> list[dict[str, str]]:
    with (example_data_dir() / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _customers() -> list[Customer]:
    region_of = {s["store_id"]: s["region"] for s in _rows("stores")}
    return [
        Customer(
            c["customer_id"],
            c["region"] or region_of.get(c["home_store"], "default"),
            dt.date.fromisoformat(c["birthday"]) if c["birthday"] else None,
            c["referred_by"] or None,
            bool(c["address"]),
            c["consent_mail"] != "false",  # missing is not an opt-out
            c["home_store"] or None,
        )
        for c in _rows("customers")
    ]


def _history() -> History:
    receipts = [
        Receipt(p["purchase_id"], p["customer_id"] or None,
                dt.datetime.fromisoformat(p["purchased_at"]), Decimal(p["amount"]), p["store_id"])
        for p in _rows("purchases")
    ]
    calendar = [CalendarDay(dt.date.fromisoformat(c["date"]), c["name"], c["kind"],
                            c["region"] or None) for c in _rows("calendar")]
    complaints = [Complaint(k["complaint_id"], k["customer_id"] or None,
                            dt.datetime.fromisoformat(k["received_at"]))
                  for k in _rows("complaints")]
    events = [HostEvent(e["event_id"], e["kind"], e["customer_id"] or None,
                        dt.datetime.fromisoformat(e["occurred_at"])) for e in _rows("events")]
    return History(_customers(), receipts, calendar, complaints, events)


def _fired(actions: list[dict[str, object]]) -> Counter[tuple[object, ...]]:
    day = lambda v: dt.date.fromisoformat(str(v))  # noqa: E731
    return Counter((a["policy"], a["customer_id"], day(a["as_of"]), a["type"],
                    day(a["not_before"]), day(a["due_by"])) for a in actions)


WINDOWS = [
    (dt.date(2024, 12, 20), dt.date(2025, 1, 5)),  # Christmas, New Year, Q1, top spenders
    (dt.date(2025, 5, 1), dt.date(2025, 5, 14)),  # Mother's Day (11 May)
    (dt.date(2025, 7, 30), dt.date(2025, 8, 3)),  # a festival of the south only
    (dt.date(2025, 8, 19), dt.date(2025, 8, 21)),  # A-class pre-season calls
    (dt.date(2025, 9, 28), dt.date(2025, 10, 8)),  # Q4's gathering, Chuseok
    (dt.date(2025, 11, 18), dt.date(2025, 12, 2)),  # the lapse night, winter
]


@pytest.mark.parametrize(("start", "end"), WINDOWS)
def test_the_engine_fires_what_the_model_does(pack_plan: Plan, start: dt.date, end: dt.date
                                               ) -> None:
    source = open_source(example_data_dir(), as_of_limit=dt.date(2025, 12, 31))
    actions = evaluate(source.connection, pack_plan, start, end).actions
    expected = Counter(_history().fired(start, end))
    assert _fired(actions) == expected
    new = {"holiday-greeting", "season-greeting", "complaint-reply", "email-reply",
           "vip-gathering", "mothers-day-gift", "a-class-preseason-call"}
    assert {policy for policy, *_ in expected} & new  # each window holds new work


# The action ids of the seven first policies over the example store's two years, as
# the pack gave them before the calendar, complaint and gathering policies joined it
# and before big-purchase-call's window moved (count, sha256 of the sorted ids).
FIRST_SEVEN = {
    "big-purchase-call": (168, "389afdcbb1f765ce"),
    "birthday-greeting": (600, "5a58160aa54fddf5"),
    "cumulative-thanks": (29, "98aedd53dd959206"),
    "lapsed-contact": (257, "a525de8f00df2eaf"),
    "referral-thanks": (99, "05de113ff0b050b1"),
    "top-spender-flowers": (3, "cd321ceacca62d25"),
    "vip-tiers": (57, "7efe322fe9f4a335"),
}


def test_the_first_seven_policies_keep_their_action_ids(pack_plan: Plan) -> None:
    source = open_source(example_data_dir(), as_of_limit=dt.date(2025, 12, 31))
    actions = evaluate(source.connection, pack_plan, dt.date(2024, 1, 1),
                       dt.date(2025, 12, 31)).actions
    ids: dict[str, list[str]] = {policy: [] for policy in FIRST_SEVEN}
    for action in actions:
        ids.get(str(action["policy"]), []).append(str(action["action_id"]))
    digests = {policy: (len(found), hashlib.sha256("\n".join(sorted(found)).encode())
                        .hexdigest()[:16]) for policy, found in ids.items()}
    assert digests == FIRST_SEVEN
