"""The nightly refresh of the point-of-sale views against a full rebuild.

Generated seasons of nights, one after another, on each kind of state: receipts
appended each night (customers with and without a record, receipts without a
customer), a changed customer row, the year's end and 1 January, nights on which
receipts leave the rolling windows (365, 90, 30 days) and calendar periods, a
changed metrics file, a corrected past receipt and a removed customer, receipts the
point of sale applied before the night (in the history then, or never). After every
night the views a state refreshed night after night equal, row for row, the views a
full rebuild gives (and so do the seen purchases, the POS tables and the inputs kept
for the next night), and the refresh computed exactly the customers whose inputs
changed. The point of sale then answers a receipt the same on both states.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyaltyrules import Engine
from loyaltyrules.event import rebuild
from loyaltyrules.plan import Plan, compile_paths

from _states import new_state, rows
from _tables import load_tables, pack_with_edge_metrics, with_crossing_notes

SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
IDS = ["C1", "C2", "C3", "C4", 'C"5', "Cé6"]  # may have a record
STRANGERS = ["X1", "X2"]  # never have one
STORES = {"S1": "south", "S2": "north", "S3": None}  # S4: not in the stores table
# Seven nights: the year's end, 1 January, then nights whose 365-day windows drop the
# receipts of 2-5 January 2025 (drawn below), a new metrics file from the sixth.
NIGHTS = [dt.date(2025, 12, 29) + dt.timedelta(days=n) for n in range(7)]
CHANGED_ROW, NEW_METRICS, CORRECTIONS = 2, 5, 6  # the nights (indexes) of each change
DAYS = [dt.date(2024, 12, 31), dt.date(2025, 1, 1), dt.date(2025, 1, 2), dt.date(2025, 1, 3),
        dt.date(2025, 1, 4), dt.date(2025, 1, 5), dt.date(2025, 6, 15), dt.date(2025, 10, 2),
        dt.date(2025, 12, 1), *NIGHTS]
AMOUNTS = [Decimal(v) for v in ("-2500.5", "0", "35.505", "999.999", "2000", "5000",
                                "9000", "12000.5")]
TIMES = [dt.time(10, 0), dt.time(23, 59, 59), dt.time(0, 0, 0, 1)]
# A metrics file HQ changed: one more rolling metric, another window for one.
NEW_METRIC = "  spend_7d: {aggregate: sum, of: purchase.amount, window: 7d, publish: true}\n"


@dataclass(frozen=True)
class Season:
    records: dict[str, tuple[Any, ...]]
    receipts: list[tuple[Any, ...]]  # purchases columns
    changed_row: tuple[Any, ...] | None  # a customer's row from CHANGED_ROW on
    corrected: int | None  # the receipt whose amount is corrected from CORRECTIONS on
    removed: str | None  # the customer whose row is gone from CORRECTIONS on
    pos: dict[int, list[tuple[tuple[Any, ...], bool]]]  # night: (receipt, in the history)


def _record(draw: st.DrawFn, cid: str) -> tuple[Any, ...]:
    maybe = st.sampled_from([True, False, None])
    return (cid, draw(st.none() | st.just(dt.date(1980, 5, 1))),
            draw(st.sampled_from(["north", "south", "default"])),
            draw(st.sampled_from([None, "S1", "S2", "S4"])), None,
            draw(st.sampled_from([None, "C1"])), draw(st.sampled_from([None, "E1"])),
            draw(maybe), draw(maybe), draw(maybe), draw(maybe), draw(st.booleans()),
            draw(st.booleans()), draw(st.booleans()))


def _receipt(pid: str, cid: str | None, store: str, staff: str | None, at: dt.datetime,
             amount: Decimal) -> tuple[Any, ...]:
    return (pid, cid, store, staff, at, at.date(), amount, None, None, amount < 0)


@st.composite
def seasons(draw: st.DrawFn) -> Season:
    records = {cid: _record(draw, cid)
               for cid in draw(st.lists(st.sampled_from(IDS), unique=True, min_size=1))}
    buyers = st.sampled_from([*IDS, *STRANGERS, None])
    receipts = [_receipt(f"P{n}", draw(buyers), draw(st.sampled_from([*STORES, "S4"])),
                         draw(st.sampled_from([None, "E1"])),
                         dt.datetime.combine(draw(st.sampled_from(DAYS)),
                                             draw(st.sampled_from(TIMES))),
                         draw(st.sampled_from(AMOUNTS)))
                for n in range(draw(st.integers(1, 40)))]
    changed = draw(st.sampled_from(sorted(records)))
    pos: dict[int, list[tuple[tuple[Any, ...], bool]]] = {}
    for n, night in enumerate(draw(st.lists(st.integers(1, len(NIGHTS) - 1), max_size=3))):
        at = dt.datetime.combine(NIGHTS[night], dt.time(9, n))
        receipt = _receipt(f"POS{n}", draw(st.sampled_from([*IDS, "X1", None])), "S1", None, at,
                           draw(st.sampled_from(AMOUNTS[2:])))
        pos.setdefault(night, []).append((receipt, draw(st.booleans())))
    return Season(records, receipts, _record(draw, changed) if draw(st.booleans()) else None,
                  draw(st.none() | st.integers(0, len(receipts) - 1)),
                  draw(st.none() | st.sampled_from(sorted(records))), pos)


def _night_inputs(season: Season, night: int) -> tuple[list[tuple[Any, ...]],
                                                      list[tuple[Any, ...]]]:
    """The customers and the receipts dated up to the night, as that night's files give them."""
    records = dict(season.records)
    if night >= CHANGED_ROW and season.changed_row is not None:
        records[season.changed_row[0]] = season.changed_row
    receipts = list(season.receipts)
    if night >= CORRECTIONS:
        records.pop(season.removed or "", None)
        if season.corrected is not None:
            old = receipts[season.corrected]
            receipts[season.corrected] = (*old[:6], old[6] + Decimal("100.5"), *old[7:])
    for earlier in range(night + 1):
        receipts += [r for r, kept in season.pos.get(earlier, []) if kept]
    return list(records.values()), [r for r in receipts if r[5] <= NIGHTS[night]]


def _inputs_of(customers: list[tuple[Any, ...]], receipts: list[tuple[Any, ...]]
               ) -> dict[str, tuple[Any, ...]]:
    """What a customer's view is computed from (to find whose changed)."""
    found: dict[str, list[Any]] = {c[0]: [c, []] for c in customers}
    for r in receipts:
        if r[1] is not None:
            found.setdefault(r[1], [None, []])[1].append(r)
    return {cid: (record, sorted(map(str, bought))) for cid, (record, bought) in found.items()}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The policy folders of the season: before and after HQ changed the metrics file."""
    before = with_crossing_notes(pack_with_edge_metrics(tmp_path_factory.mktemp("before")))
    after = tmp_path_factory.mktemp("after") / "pack"
    shutil.copytree(before, after)
    with (after / "metrics.yaml").open("a", encoding="utf-8") as out:
        out.write(NEW_METRIC)
    return before, after


@pytest.fixture(scope="module")
def compiled(plans: tuple[Path, Path]) -> tuple[Plan, Plan]:
    before, after = (compile_paths([p]) for p in plans)
    assert before.bundle != after.bundle
    return before, after


# The state's tables a refresh writes, each read whole and in key order.
TABLES = {
    "customer_views": "SELECT customer_id, view FROM customer_views ORDER BY customer_id",
    "seen_purchases": "SELECT purchase_id, source FROM seen_purchases ORDER BY purchase_id",
    "pos_receipts": "SELECT purchase_id, customer_id, amount FROM pos_receipts "
                    "ORDER BY purchase_id",
    "pos_customers": "SELECT customer_id, record FROM pos_customers ORDER BY customer_id",
    "view_inputs": "SELECT customer_id, digest FROM view_inputs ORDER BY customer_id",
}


def _tables_of(state: str) -> dict[str, list[tuple[Any, ...]]]:
    return {name: rows(state, sql) for name, sql in TABLES.items()}


@contextmanager
def _engines(policies: Path, *states: str) -> Iterator[list[Engine]]:
    with ExitStack() as stack:
        engines = [Engine.load(policies, state=state) for state in states]
        for engine in engines:
            stack.callback(engine.close)
        yield engines


def _pos_receipt(receipt: tuple[Any, ...]) -> dict[str, Any]:
    return {"purchase_id": receipt[0], "customer_id": receipt[1], "store_id": receipt[2],
            "purchased_at": receipt[4].isoformat(), "amount": str(receipt[6])}


def _answer(engine: Engine, receipt: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in d.items() if k != "recorded_at"}
            for d in engine.on_purchase(receipt).decisions]


@settings(max_examples=6, deadline=None, suppress_health_check=SLOW)
@given(season=seasons())
def test_a_refreshed_night_equals_a_full_rebuild(
        plans: tuple[Path, Path], compiled: tuple[Plan, Plan], clean_tables: list[str],
        state_kind: str, tmp_path_factory: pytest.TempPathFactory, season: Season) -> None:
    folder = tmp_path_factory.mktemp("states")
    with new_state(state_kind, folder, "refreshed.db") as refreshed, \
            new_state(state_kind, folder, "rebuilt.db") as rebuilt:
        before: dict[str, tuple[Any, ...]] = {}
        for night, through in enumerate(NIGHTS):
            policies, plan = (plans[1], compiled[1]) if night >= NEW_METRICS else \
                (plans[0], compiled[0])
            written = set()
            if night in season.pos:  # the till's receipts of the day, before the night
                with _engines(policies, refreshed, rebuilt) as engines:
                    for receipt, _kept in season.pos[night]:
                        answers = [_answer(e, _pos_receipt(receipt)) for e in engines]
                        assert answers[0] == answers[1]
                        written.add(receipt[1])
            customers, receipts = _night_inputs(season, night)
            con = load_tables(clean_tables, customers, receipts, STORES)
            count = rebuild(refreshed, con, through, plan)
            full = rebuild(rebuilt, con, through, plan, full=True)
            assert _tables_of(refreshed) == _tables_of(rebuilt), through
            now = _inputs_of(customers, receipts)
            if night not in (0, NEW_METRICS):  # the customers whose inputs changed only
                changed = {c for c in now.keys() | before.keys() if now.get(c) != before.get(c)}
                assert count == len({c for c in changed | written if c in now}), through
            else:
                assert count == full == len(now)
            before = now
            con.close()


def test_the_point_of_sale_answers_alike_after_either(
        plans: tuple[Path, Path], compiled: tuple[Plan, Plan], clean_tables: list[str],
        any_state: str, tmp_path: Path) -> None:
    """Nights refreshed one after another, and fully rebuilt each night: a receipt at
    the till the next day fires the same actions, ids and statuses on either."""
    other = str(tmp_path / "full.db") if not any_state.startswith("postgresql") else None
    with ExitStack() as stack:
        if other is None:
            other = stack.enter_context(new_state("postgresql", tmp_path))
        records = [(cid, None, "north" if cid == "C1" else "south", "S1", None, None, None,
                    True, True, True, True, True, True, True) for cid in IDS[:4]]
        receipts = [_receipt(f"P{n}", IDS[n % 4], "S2" if n % 3 else "S1", None,
                             dt.datetime.combine(day, dt.time(11)), Decimal("2600"))
                    for n, day in enumerate([*DAYS[:6], *NIGHTS[:4]])]
        for through in NIGHTS[:4]:
            con = load_tables(clean_tables, records, [r for r in receipts if r[5] <= through],
                              STORES)
            rebuild(any_state, con, through, compiled[0])
            rebuild(other, con, through, compiled[0], full=True)
        at = dt.datetime.combine(NIGHTS[4], dt.time(10))
        with _engines(plans[0], any_state, other) as engines:
            for n, cid in enumerate(IDS[:4]):
                receipt = _pos_receipt(_receipt(f"T{n}", cid, "S1", None, at, Decimal("4000")))
                answers = [_answer(e, receipt) for e in engines]
                assert answers[0] == answers[1]
                assert answers[0], "each customer's receipt fires something"


def test_the_digest_reads_every_column(clean_tables: list[str], compiled: tuple[Plan, Plan],
                                       tmp_path: Path) -> None:
    """A corrected staff id (read by a metric) or consent refreshes the customer's view."""
    record = ("C1", None, "north", "S1", None, None, None, True, True, True, True, False,
              False, False)
    at = dt.datetime(2025, 12, 1, 10)
    receipt = _receipt("P1", "C1", "S1", "E1", at, Decimal("10"))
    state = str(tmp_path / "state.db")
    plan = compiled[0]
    for customers, bought in (([record], [receipt]), ([record], [(*receipt[:3], "E2",
                                                                  *receipt[4:])]),
                              ([(*record[:7], False, *record[8:])], [receipt])):
        con: duckdb.DuckDBPyConnection = load_tables(clean_tables, customers, bought, STORES)
        rebuild(state, con, at.date(), plan)
        assert rows(state, "SELECT view FROM customer_views") == rows(
            _fresh(tmp_path, con, at.date(), plan), "SELECT view FROM customer_views")


def _fresh(folder: Path, con: duckdb.DuckDBPyConnection, through: dt.date, plan: Plan) -> str:
    """A full rebuild, into a new state."""
    state = folder / f"fresh-{len(list(folder.glob('fresh-*')))}.db"
    rebuild(state, con, through, plan)
    return str(state)
