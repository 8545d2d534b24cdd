"""The ledger stores an action record as its JSON Lines line when it can, and delivery
then copies that text: the files must be byte for byte what parsing the record and
writing it again gives (the path kept for other records and for older ledgers)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltyrules.contact.decide import Decision
from loyaltyrules.contact.store import write_decisions
from loyaltyrules.delivery import Target, deliver
from loyaltyrules.delivery.outbox import Stored
from loyaltyrules.ledger import Ledger, _json_default, stored_record
from loyaltyrules.sinks import ActionRecordError, action_line
from test_sinks import BASE, make, shuffled

from _received import received
from _states import rows

DAY = dt.date(2025, 11, 21)


def old_text(action: dict[str, Any]) -> str:
    """How ledgers before schema 5 stored a record: as given, keys in its own order."""
    return json.dumps(action, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def merged_task(n: int) -> dict[str, Any]:
    """A staff task that others of its day joined (contact/decide.py Survivors.absorb)."""
    joined = {"action_id": f"{n + 1:032x}", "policy": "lapsed-contact", "type": "call",
              "due_by": "2025-11-25", "priority": 40, "template": "lapsed-contact",
              "params": {"days": Decimal("90"), "spent": Decimal("12.50")},
              "reason": {"trigger": "schedule", "values": {"customer.name": "Zoë 山田"}}}
    record = make(n)
    record["reason"] = {**record["reason"], "merged": [joined, {**joined, "action_id": "x"}]}
    return record


def varied() -> list[dict[str, Any]]:
    """Records as every producer may hand them over: the engine's order, shuffled keys,
    Decimals, dates, non-ASCII text, merged tasks, windows in hours, invitations."""
    return [
        make(1),
        shuffled(make(2, customer_id="Ç-顧客-7", params={"amount": Decimal("2350.10"),
                                                        "n": Decimal("3"), "x": 1e-7})),
        merged_task(3),
        shuffled(merged_task(5)),
        make(7, due_at="2025-11-21T18:00:00+09:00", valid_until=None,
             invitation={"event_id": "E1", "date": dt.date(2025, 12, 1), "capacity": 20},
             params={"when": dt.date(2025, 12, 1), "big": 10**20, "neg": -0.0,
                     "list": [1, "二", None, True]}),
        {k: v for k, v in make(8).items() if k != "valid_until"},  # an older record
    ]


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    values = st.one_of(
        st.none(), st.booleans(), st.integers(), st.text(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.decimals(allow_nan=False, allow_infinity=False, places=2),
        st.dates())
    record = copy.deepcopy(BASE)
    record["customer_id"] = draw(st.text(min_size=1))
    record["params"] = draw(st.dictionaries(st.text(), values, max_size=4))
    record["reason"]["values"] = draw(st.dictionaries(st.text(), st.text(), max_size=3))
    if draw(st.booleans()):
        record["reason"]["merged"] = [merged_task(9)["reason"]["merged"][0]]
    return shuffled(record) if draw(st.booleans()) else record


def delivered_line(action: dict[str, Any]) -> str:
    """What delivery writes for `action` now: its stored text, copied or re-encoded."""
    text, is_line = stored_record(action)
    assert json.loads(text) == json.loads(old_text(action))  # the same record for readers
    return Stored(str(action["action_id"]), text, is_line).line()


@pytest.mark.parametrize("action", varied(), ids=lambda a: str(a["action_id"])[-2:])
def test_a_stored_line_is_what_parsing_and_writing_again_gives(action: dict[str, Any]) -> None:
    text, is_line = stored_record(action)
    assert is_line
    assert text + "\n" == action_line(json.loads(old_text(action)))
    assert delivered_line(action) == action_line(json.loads(text))


@settings(max_examples=200, deadline=None)
@given(records())
def test_any_record_is_delivered_as_before(action: dict[str, Any]) -> None:
    assert delivered_line(action) == action_line(json.loads(old_text(action)))


@pytest.mark.parametrize("broken", [
    {**make(1), "colour": "red"},
    {k: v for k, v in make(1).items() if k != "reason"},
    {**make(1), "assignee": ["store_staff", "E7"]},
    {**make(1), "reason": {"trigger": "x", "merged": {"action_id": "y"}}},
])
def test_a_record_that_is_no_action_record_fails_at_delivery_as_before(
        broken: dict[str, Any]) -> None:
    text, is_line = stored_record(broken)
    assert not is_line and text == old_text(broken)
    with pytest.raises(ActionRecordError):
        Stored("a", text, is_line).line()


def test_nan_is_stored_as_before_and_refused_at_delivery() -> None:
    action = make(1, params={"x": math.nan})
    text, is_line = stored_record(action)
    assert not is_line and json.loads(text)["params"]["x"] != 0
    with pytest.raises(ValueError, match="Out of range float"):
        Stored("a", text, is_line).line()


def test_stored_lines_and_older_rows_deliver_the_same_bytes(tmp_path: Path,
                                                           any_state: str) -> None:
    actions = varied()
    with Ledger.open(any_state) as ledger, ledger.transaction() as conn:
        write_decisions(conn, [Decision(a, "open", DAY) for a in actions], "r1")
    assert {bool(r[0]) for r in rows(any_state, "SELECT record_is_line FROM actions")} == {True}
    first = _deliver_all(any_state, tmp_path / "new")
    with Ledger.open(any_state) as ledger, ledger.transaction() as conn:
        conn.executemany("UPDATE actions SET record = ?, record_is_line = NULL "
                         "WHERE action_id = ?", [(old_text(a), a["action_id"]) for a in actions])
    assert _deliver_all(any_state, tmp_path / "old") == first
    lines = first["file.jsonl"].decode("utf-8").splitlines()
    assert sorted(json.loads(line)["action_id"] for line in lines) == sorted(
        a["action_id"] for a in actions)


def _deliver_all(state: str, folder: Path) -> dict[str, bytes]:
    """The day written to a folder (every sink) and to one JSON Lines file."""
    deliver(state, Target.parse(str(folder / "out")), [DAY], "r2")
    deliver(state, Target.parse(str(folder / "file.jsonl")), [DAY], "r2")
    return received(folder)
