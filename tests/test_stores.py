"""Stores sharing one ledger: each store's run (`run --store S`) into one state, at the
same moment, ends exactly as that store's run alone in a SQLite file of its own.

The franchise is generated (benchmarks/generate.py, small scale); every store's run
reads all of it and keeps its own actions. Afterwards, per store: the same actions,
statuses and records as its own ledger, the same files received, the same point-of-
sale views of its customers; no action twice in the shared ledger; HQ's reports read
every store's rows. benchmarks/bench_stores.py does the same for 200 stores.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.delivery import Target, outbox
from loyaltyrules.ledger import Ledger
from loyaltyrules.reports.staff import CHANNELS
from loyaltyrules.runlock import RunLockTimeout, run_lock

from _paths import PACK, REPO
from _received import received, recorded
from _states import new_schema, new_state, rows

GENERATOR = REPO / "benchmarks" / "generate.py"
FIRST, LAST = "2025-12-01", "2025-12-31"
STORES = ("S001", "S002", "S003")


@pytest.fixture(scope="module")
def franchise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("franchise") / "data"
    subprocess.run([sys.executable, str(GENERATOR), str(data), "--scale", "0.002",
                    "--stores", "6", "--threads", "1"], check=True, capture_output=True)
    return data


def _run(data: Path, state: str, out: Path, store: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "loyaltyrules", "run", "--as-of", FIRST, "--through", LAST,
         "--data", str(data), "--state", state, "--store", store, "--policies", str(PACK),
         "--out", str(out), "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[bytes]) -> None:
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err.decode()


def _views(state: str, customers: set[str]) -> dict[str, str]:
    return {c: v for c, v in rows(state, "SELECT customer_id, view FROM customer_views")
            if c in customers}


def test_stores_at_once_in_one_ledger_end_as_each_store_alone(
        franchise: Path, tmp_path: Path, state_kind: str) -> None:
    alone = {}
    for store in STORES:  # the references: each store in a SQLite file of its own
        state = str(tmp_path / f"{store}.sqlite")
        _finish(_run(franchise, state, tmp_path / f"alone-{store}", store))
        alone[store] = state
    with new_state(state_kind, tmp_path, "shared.sqlite") as shared:
        runs = [_run(franchise, shared, tmp_path / f"shared-{s}", s) for s in STORES]
        for process in runs:
            _finish(process)
        everything = recorded(shared)
        ids = [row[0] for row in everything]
        assert len(ids) == len(set(ids))
        per_store = {s: rows(shared, "SELECT action_id FROM actions WHERE store_id = ?", (s,))
                     for s in STORES}
        assert sum(map(len, per_store.values())) == len(everything)  # nothing of no store
        for store in STORES:
            want = recorded(alone[store])
            assert want, f"{store} has no actions: the comparison would prove nothing"
            mine = {row[0] for row in per_store[store]}
            assert [row for row in everything if row[0] in mine] == want, store
            assert received(tmp_path / f"shared-{store}") == received(
                tmp_path / f"alone-{store}"), store
            customers = {c for (c,) in rows(alone[store], "SELECT customer_id FROM "
                                                           "customer_views")}
            assert customers and _views(shared, customers) == _views(alone[store], customers)
        assert {r[0] for r in rows(shared, "SELECT store_id FROM runs")} == set(STORES)
        assert rows(shared, "SELECT count(*) FROM deliveries WHERE delivered_at IS NULL") \
            == [(0,)]
        _hq_reports_read_every_store(shared)


def _hq_reports_read_every_store(state: str) -> None:
    tables = {}
    for report in ("actions", "staff"):
        result = CliRunner().invoke(cli, ["report", report, "--from", FIRST, "--to", LAST,
                                          "--state", state, "--format", "csv"])
        assert result.exit_code == 0, result.output
        tables[report] = list(csv.reader(io.StringIO(result.output)))
    named = {cell for line in tables["actions"] for cell in line}
    assert all(any(store in cell for cell in named) for store in STORES)
    # The staff report counts follow-ups handed to people: every store that had one.
    channels = ", ".join(f"'{kind}'" for kind in CHANNELS)
    handed = {store for (store,) in rows(
        state, f"SELECT DISTINCT store_id FROM actions WHERE type IN ({channels}) "
               "AND status NOT IN ('merged', 'expired', 'deferred')")}
    assert len(handed) >= 2
    assert {line[0] for line in tables["staff"][1:]} - {"(all)"} == handed


def test_one_store_s_outputs_are_apart_from_another_s_of_the_same_name(
        any_state: str, tmp_path: Path) -> None:
    """Two stores' machines may both write to /srv/loyalty/out: the outbox names a
    target by store and place, so neither writes or settles the other's."""
    place = str(tmp_path / "out")
    with Ledger.open(any_state) as ledger, ledger.transaction() as conn:
        first = outbox.target_id(conn, Target.parse(place, "S001"))
        second = outbox.target_id(conn, Target.parse(place, "S002"))
        assert first != second
        assert outbox.target_id(conn, Target.parse(place, "S001")) == first


def _hold(state: str, store: str | None, held: threading.Event,
          release: threading.Event) -> threading.Thread:
    def hold() -> None:
        with run_lock(state, 0, store=store):
            held.set()
            release.wait(60)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(30)
    return thread


@pytest.mark.postgres
@pytest.mark.parametrize(("holder", "runner", "waits"), [
    ("S001", "S002", False), ("S001", "S001", True), (None, "S002", True),
    ("S001", None, True)])
def test_the_run_lock_of_a_database_is_per_store(holder: str | None, runner: str | None,
                                                 waits: bool) -> None:
    """In PostgreSQL, stores run at once; a store waits for its own runs, and for a run
    of every store (which waits for all)."""
    with new_schema() as url:
        Ledger.open(url).close()
        held, release = threading.Event(), threading.Event()
        thread = _hold(url, holder, held, release)
        try:
            if waits:
                with pytest.raises(RunLockTimeout), run_lock(url, 0.3, store=runner):
                    pass
            else:
                with run_lock(url, 0, store=runner):
                    pass
        finally:
            release.set()
            thread.join()
