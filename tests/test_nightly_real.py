"""The real Online Retail data (UCI, CC BY 4.0), read in place as purchase_lines.

The data's last 30 days (2011-11-10 to 2011-12-09, on the whole year's history) are
evaluated night by night and as one range: the action sets are identical, and a second
pass adds nothing to the ledger. Every calendar date from 2010-12-01 to 2011-12-09 does
the same with LOYALTYRULES_TEST_FULL=1 (`.ci/run` sets it; docs/testing.md). The full
data lives outside the repository (../shared); the small real sample under tests/data
keeps the same path tested on every clone.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from loyaltyrules.config import load_config
from loyaltyrules.engine.batch import evaluate
from loyaltyrules.nightly import run_range
from loyaltyrules.plan import Plan
from loyaltyrules.sources import LoadedSource, open_source

from _paths import RETAIL_SAMPLE, SHARED_RETAIL


def _dates(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _nightly_equals_range(
    source: LoadedSource, plan: Plan, start: dt.date, end: dt.date, tmp_path: Path
) -> int:
    con = source.connection
    in_one_pass = {a["action_id"]: a for a in evaluate(con, plan, start, end).actions}
    night_by_night: dict[str, dict[str, object]] = {}
    for day in _dates(start, end):
        for action in evaluate(con, plan, day, day).actions:
            assert action["action_id"] not in night_by_night, "an action fired on two nights"
            night_by_night[action["action_id"]] = action
    assert night_by_night == in_one_pass
    state = tmp_path / "ledger.sqlite"
    first = run_range(plan, source, start, end, state)
    # Every candidate ends emitted, deferred, merged or expired (docs/contact-rules.md).
    assert sum(first.contact.values()) == len(in_one_pass)
    assert len(first.actions) == first.contact["emitted"]
    second = run_range(plan, source, start, end, state)
    assert second.actions == []
    return len(in_one_pass)


# The sample's days are 2010-12-19, 2010-12-22, 2011-02-06 and 2011-05-01: these
# windows hold its purchases and the lapses exactly 90 days after them.
SAMPLE_WINDOWS = [
    (dt.date(2010, 12, 15), dt.date(2010, 12, 31)),
    (dt.date(2011, 3, 16), dt.date(2011, 3, 24)),
    (dt.date(2011, 4, 29), dt.date(2011, 5, 8)),
]


@pytest.mark.parametrize(("start", "end"), SAMPLE_WINDOWS)
def test_sample_nightly_equals_range(
    pack_plan: Plan, tmp_path: Path, start: dt.date, end: dt.date
) -> None:
    source = open_source(RETAIL_SAMPLE, as_of_limit=dt.date(2011, 12, 9))
    count = _nightly_equals_range(source, pack_plan, start, end, tmp_path)
    assert count > 0


FULL = os.environ.get("LOYALTYRULES_TEST_FULL") == "1"
needs_shared = pytest.mark.skipif(
    not SHARED_RETAIL.is_dir(),
    reason="the full Online Retail data (../shared/data/online-retail) is "
    "not beside this clone; the sample test covers the same path",
)


@pytest.fixture(scope="module")
def real_year() -> LoadedSource:
    """The whole real year, read once for the module's tests (they only read it)."""
    config = load_config(RETAIL_SAMPLE / "loyaltyrules.toml")
    source_config = config.source.__class__(**{**config.source.__dict__, "data": SHARED_RETAIL})
    source = open_source(source_config, as_of_limit=dt.date(2011, 12, 9))
    assert source.counts["purchases"].rows_kept == 25_900
    return source


@needs_shared
def test_last_month_nightly_equals_range(
    real_year: LoadedSource, pack_plan: Plan, tmp_path: Path
) -> None:
    """The busiest weeks (the run-up to Christmas) with a year of history behind them:
    lapses, cumulative spend and tiers all read that history. Each night reads the whole
    history, so the cost grows with the nights: the year's 374 are opt-in (below)."""
    count = _nightly_equals_range(
        real_year, pack_plan, dt.date(2011, 11, 10), dt.date(2011, 12, 9), tmp_path
    )
    assert count > 300


@needs_shared
@pytest.mark.full
@pytest.mark.skipif(not FULL, reason="the whole real year night by night runs with "
                    "LOYALTYRULES_TEST_FULL=1 (.ci/run sets it; docs/testing.md)")
def test_full_year_nightly_equals_range(
    real_year: LoadedSource, pack_plan: Plan, tmp_path: Path
) -> None:
    count = _nightly_equals_range(
        real_year, pack_plan, dt.date(2010, 12, 1), dt.date(2011, 12, 9), tmp_path
    )
    assert count > 1000
