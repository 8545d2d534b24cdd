"""benchmarks/baseline.sql, the hand-written yardstick of the benchmarks, fires exactly
the engine's actions on the example store (its calendar, complaints and e-mails
included), so a benchmark's ratio always compares the same work."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from loyaltyrules.engine.batch import evaluate
from loyaltyrules.examples import example_data_dir
from loyaltyrules.plan import Plan
from loyaltyrules.sources import open_source

BASELINE_SQL = Path(__file__).resolve().parents[1] / "benchmarks" / "baseline.sql"
Fired = Counter[tuple[str, str, str]]

RANGES = [
    (dt.date(2024, 12, 20), dt.date(2025, 1, 5)),  # New Year: tiers, top spenders, Q1
    (dt.date(2025, 1, 1), dt.date(2025, 12, 31)),  # a year's catch-up: every policy
    (dt.date(2025, 10, 1), dt.date(2025, 10, 1)),  # one night: a quarter day
]


def _both(pack_plan: Plan, start: dt.date, end: dt.date) -> tuple[Fired, Fired]:
    con = open_source(example_data_dir(), as_of_limit=dt.date(2025, 12, 31)).connection
    engine = Counter((str(a["policy"]), str(a["customer_id"]), str(a["as_of"]))
                     for a in evaluate(con, pack_plan, start, end).actions)
    con.execute("SET VARIABLE first_day = $d", {"d": start})
    con.execute("SET VARIABLE last_day = $d", {"d": end})
    rows = con.execute(BASELINE_SQL.read_text(encoding="utf-8")).fetchall()
    return engine, Counter((r[0], r[1], r[2].isoformat()) for r in rows)


@pytest.mark.parametrize(("start", "end"), RANGES)
def test_the_baseline_fires_what_the_engine_does(pack_plan: Plan, start: dt.date,
                                                 end: dt.date) -> None:
    engine, baseline = _both(pack_plan, start, end)
    assert engine - baseline == Counter(), "fired by the engine only"
    assert baseline - engine == Counter(), "fired by the baseline only"


def test_the_year_covers_every_policy_of_the_pack(pack_plan: Plan) -> None:
    _engine, baseline = _both(pack_plan, *RANGES[1])
    fired = {policy for policy, _customer, _day in baseline}
    assert fired == {p.id for p in pack_plan.policies}
