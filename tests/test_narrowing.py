"""Evaluating a range does only the work its dates need, with the same actions.

Two narrowings (engine/datepins.py, engine/segments.py):
* a daily schedule whose condition reads only the date and params (the A-class
  pre-season call) gets candidates only on the days that condition can hold, for any
  store's override;
* a class or percentile is ranked only on the dates, and within the partitions, of
  the candidates that pass every other test.
Each is checked against the evaluation without it, over the example store's year, with
a store that moves the pre-season dates.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from loyaltyrules.engine import batch, compile, triggers
from loyaltyrules.engine.datepins import pinned_dates
from loyaltyrules.examples import example_data_dir
from loyaltyrules.plan import Plan, compile_paths
from loyaltyrules.sources import open_source

from _paths import PACK

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
MOVED = """kind: override
target:
  store: S2
policies:
  a-class-preseason-call:
    params:
      spring_month: 3
      spring_day: 5
"""


@pytest.fixture(scope="module")
def moved_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    """The pack with store S2's pre-season call moved to 5 March."""
    folder = tmp_path_factory.mktemp("moved") / "policies"
    shutil.copytree(PACK, folder)
    (folder / "overrides").mkdir(exist_ok=True)
    (folder / "overrides" / "s2.yaml").write_text(MOVED, encoding="utf-8")
    return compile_paths([folder])


def _preseason(plan: Plan) -> Any:
    return next(p for p in plan.policies if p.id == "a-class-preseason-call")


def test_the_dates_a_condition_pins_include_every_stores_override(moved_plan: Plan) -> None:
    policy = _preseason(moved_plan)
    _text, checked = policy.conditions[0]
    assert checked.node is not None
    days = pinned_dates(policy, checked.node, checked, START, END)
    # Every combination of the values taken anywhere: HQ's 20 February and 20 August,
    # S2's 5 March, and the spring mixtures (5 February, 20 March), a superset.
    assert days == [dt.date(2025, 2, 5), dt.date(2025, 2, 20), dt.date(2025, 3, 5),
                    dt.date(2025, 3, 20), dt.date(2025, 8, 20)]


def test_a_condition_reading_a_customer_fact_pins_no_date(moved_plan: Plan) -> None:
    policy = _preseason(moved_plan)
    _text, checked = policy.conditions[1]  # abc_class(customer.spend_365d, "store")
    assert checked.node is not None
    assert pinned_dates(policy, checked.node, checked, START, END) is None


def _actions(plan: Plan) -> list[tuple[Any, ...]]:
    source = open_source(example_data_dir(), as_of_limit=END)
    try:
        found = batch.evaluate(source.connection, plan, START, END, source.config.timezone)
    finally:
        source.connection.close()
    return sorted((a["action_id"], a["policy"], str(a["as_of"]), a["customer_id"],
                   str(a.get("due_by"))) for a in found.actions)


@pytest.fixture()
def unnarrowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every day scanned, and every date's whole population ranked."""
    monkeypatch.setitem(batch.CANDIDATES, "schedule",
                        functools.partial(triggers.schedule, anchored=False))
    monkeypatch.setattr(compile, "_narrowing", lambda *_args: None)
    yield


def test_narrowed_evaluation_gives_the_same_actions(moved_plan: Plan,
                                                    request: pytest.FixtureRequest) -> None:
    narrowed = _actions(moved_plan)
    request.getfixturevalue("unnarrowed")
    whole = _actions(moved_plan)
    assert narrowed == whole
    fired = {policy for _id, policy, *_rest in narrowed}
    assert {"a-class-preseason-call", "a-class-thanks-card"} <= fired
    moved = {day for _id, policy, day, *_rest in narrowed if policy == "a-class-preseason-call"}
    assert moved == {"2025-02-20", "2025-03-05", "2025-08-20"}
