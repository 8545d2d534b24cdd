"""The ledger: deterministic ids, new-only recording, atomic runs, crash safety; on a
SQLite file and on PostgreSQL alike (the `any_state` cases, tests/_states.py)."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from loyaltyrules.ledger import (
    SCHEMA_VERSION,
    Ledger,
    LedgerError,
    RunRecord,
    action_id,
)
from loyaltyrules.statefile import UnusableState

from _states import in_schema, intact, new_schema, rows, server


def make_action(n: int, policy: str = "big-purchase-call", customer: str = "") -> dict[str, Any]:
    customer = customer or f"C{n:04d}"
    return {
        "action_id": action_id(policy, customer, f"P{n}"),
        "policy": policy,
        "policy_version": 1,
        "bundle": "b" * 16,
        "type": "call",
        "customer_id": customer,
        "store_id": "S1",
        "region": "north",
        "assignee": {"role": "store_staff", "id": "E1"},
        "not_before": "2025-03-01",
        "due_by": "2025-03-08",
        "as_of": "2025-03-01",
        "priority": 50,
        "template": policy,
        "params": {},
        "reason": {"trigger": "purchase", "purchase_id": f"P{n}"},
    }


def make_run(run_id: str, **counts: int) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        started_at="2025-03-02T01:00:00+00:00",
        bundle="b" * 16,
        as_of="2025-03-01",
        counts=counts,
    )


@pytest.fixture
def ledger(any_state: str) -> Any:
    with Ledger.open(any_state) as opened:
        yield opened


# --- action ids -------------------------------------------------------------


def test_action_id_is_a_fixed_function_of_its_inputs() -> None:
    # A known vector: the same on every platform and in every process.
    assert action_id("big-purchase-call", "C1", "P9") == "9afda67adfe5c9c6951dacfd1f5a4e83"
    assert len(action_id("p", "s", "k")) == 32
    assert action_id("p", "s", "k") == action_id("p", "s", "k")


def test_action_id_matches_in_another_process() -> None:
    code = "from loyaltyrules.ledger import action_id; print(action_id('p', 'C1', 'k'))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == action_id("p", "C1", "k")


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("a|b", "c", "d"), ("a", "b|c", "d")),
        (("ab", "", "c"), ("a", "b", "c")),
        (('a","b', "c", "d"), ("a", "b", "c")),
        (("p", "C1", "2025"), ("p", "C12", "025")),
    ],
)
def test_action_id_encoding_is_unambiguous(
    left: tuple[str, str, str], right: tuple[str, str, str]
) -> None:
    assert action_id(*left) != action_id(*right)


# --- recording runs -----------------------------------------------------------


def test_record_run_returns_new_actions_in_input_order(ledger: Ledger) -> None:
    actions = [make_action(n) for n in (5, 3, 9, 1)]
    assert ledger.record_run(actions, make_run("r1")) == actions
    assert ledger.count() == 4


def test_rerunning_the_same_actions_returns_nothing(ledger: Ledger) -> None:
    actions = [make_action(n) for n in range(10)]
    ledger.record_run(actions, make_run("r1"))
    assert ledger.record_run(actions, make_run("r2")) == []
    assert ledger.count() == 10
    assert [r.actions_new for r in ledger.runs()] == [10, 0]
    assert [r.actions_offered for r in ledger.runs()] == [10, 10]


def test_only_unknown_actions_are_returned(ledger: Ledger) -> None:
    ledger.record_run([make_action(n) for n in (2, 4)], make_run("r1"))
    offered = [make_action(n) for n in (1, 2, 3, 4, 5)]
    new = ledger.record_run(offered, make_run("r2"))
    assert [a["action_id"] for a in new] == [offered[i]["action_id"] for i in (0, 2, 4)]
    assert ledger.count() == 5


def test_an_id_repeated_within_a_run_counts_once(ledger: Ledger) -> None:
    first, again = make_action(1), make_action(1)
    again["priority"] = 99
    new = ledger.record_run([first, make_action(2), again], make_run("r1"))
    assert [a["action_id"] for a in new] == [first["action_id"], make_action(2)["action_id"]]
    assert new[0] is first
    stored = ledger.actions_for_customer("C0001")
    assert [a["priority"] for a in stored] == [50]


def test_a_reused_run_id_is_refused_and_nothing_is_written(ledger: Ledger) -> None:
    ledger.record_run([make_action(1)], make_run("r1"))
    with pytest.raises(LedgerError, match="already recorded"):
        ledger.record_run([make_action(2)], make_run("r1"))
    assert ledger.count() == 1
    assert ledger.known_ids([make_action(2)["action_id"]]) == set()


def test_a_bad_action_writes_nothing(ledger: Ledger) -> None:
    bad = make_action(2)
    bad["params"] = {"when": object()}
    with pytest.raises(TypeError):
        ledger.record_run([make_action(1), bad], make_run("r1"))
    with pytest.raises(LedgerError, match="action_id"):
        ledger.record_run([{"policy": "p"}], make_run("r2"))
    assert ledger.count() == 0
    assert ledger.runs() == []


def test_known_ids_handles_many_ids(ledger: Ledger) -> None:
    actions = [make_action(n) for n in range(1200)]
    ledger.record_run(actions[:700], make_run("r1"))
    ids = [a["action_id"] for a in actions]
    assert ledger.known_ids(ids) == set(ids[:700])
    assert ledger.known_ids([]) == set()


def test_stored_record_round_trips_decimals_and_dates(ledger: Ledger) -> None:
    action = make_action(7)
    action["as_of"] = dt.date(2025, 3, 1)
    action["reason"]["values"] = {"purchase.amount": Decimal("2350.00")}
    ledger.record_run([action], make_run("r1"))
    (stored,) = ledger.actions_for_customer("C0007")
    assert stored["as_of"] == "2025-03-01"
    assert stored["reason"]["values"] == {"purchase.amount": "2350.00"}
    assert stored["status"] == "open"
    assert stored["created_run"] == "r1"


def test_actions_for_customer_and_runs(ledger: Ledger) -> None:
    ledger.record_run(
        [make_action(1, customer="C1"), make_action(2, customer="C2")], make_run("r1", sms=2)
    )
    ledger.record_run([make_action(3, customer="C1")], make_run("r2"))
    assert [a["created_run"] for a in ledger.actions_for_customer("C1")] == ["r1", "r2"]
    assert ledger.actions_for_customer("nobody") == []
    first, second = ledger.runs()
    assert first.run == make_run("r1", sms=2)
    assert (first.actions_new, second.actions_new) == (2, 1)


def test_one_hundred_thousand_actions_in_a_few_seconds(ledger: Ledger) -> None:
    actions = [make_action(n) for n in range(100_000)]
    started = time.perf_counter()
    assert len(ledger.record_run(actions, make_run("r1"))) == 100_000
    assert ledger.record_run(actions, make_run("r2")) == []
    # PostgreSQL's server updates five indexes per row where SQLite's file has the
    # same work in process: about twice the time (docs/postgresql.md, Performance)
    assert time.perf_counter() - started < (10 if ledger.state.kind == "sqlite" else 20)


# --- the file -------------------------------------------------------------------


def test_open_sets_wal_full_sync_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger.open(path) as ledger:
        ledger.record_run([make_action(1)], make_run("r1"))
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    with Ledger.open(path) as reopened:  # reopening keeps the data, migrates nothing
        assert reopened.count() == 1
        sync = reopened._conn.execute("PRAGMA synchronous").fetchone()[0]
        assert sync == 2  # FULL


def test_open_creates_missing_folders(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "state" / "nested" / "ledger.sqlite") as ledger:
        assert ledger.count() == 0


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(UnusableState, match="newer"):
        Ledger.open(path)
    assert path.read_bytes() == before  # refused before any write


@pytest.mark.postgres
def test_a_newer_schema_in_postgresql_is_refused_before_any_write() -> None:
    import psycopg

    with new_schema() as url:
        Ledger.open(url).close()
        newer = SCHEMA_VERSION + 1
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE schema_version SET version = %s", (newer,))
        with pytest.raises(UnusableState, match="newer") as refused:
            Ledger.open(url)
        assert refused.value.code == "state.newer-version"
        with psycopg.connect(url) as conn:  # the project's own connection refuses it now
            assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
            assert conn.execute("SELECT version FROM schema_version").fetchall() == [(newer,)]


@pytest.mark.postgres
def test_another_programs_schema_is_not_a_state() -> None:
    import psycopg

    with new_schema() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE invoices (id integer)")
        with pytest.raises(UnusableState) as refused:
            Ledger.open(url)
        assert refused.value.code == "state.not-a-state"
        with psycopg.connect(url) as conn:  # nothing was created beside it
            tables = conn.execute("SELECT relname FROM pg_class WHERE relkind = 'r' AND "
                                  "relnamespace = current_schema()::regnamespace").fetchall()
        assert tables == [("invoices",)]


@pytest.mark.postgres
def test_a_search_path_naming_no_schema_is_refused() -> None:
    with pytest.raises(UnusableState) as refused:
        Ledger.open(in_schema(server(), "no_such_schema_here"))
    assert refused.value.code == "state.no-schema"


def test_two_writers_at_once_never_duplicate(any_state: str) -> None:
    path = any_state
    Ledger.open(path).close()
    actions = [make_action(n) for n in range(3000)]
    returned: list[list[str]] = [[], []]

    def write(slot: int) -> None:
        rng = random.Random(slot)
        with Ledger.open(path) as ledger:
            for batch in range(20):
                sample = rng.sample(actions, 400)
                new = ledger.record_run(sample, make_run(f"w{slot}-{batch}"))
                returned[slot].extend(a["action_id"] for a in new)

    threads = [threading.Thread(target=write, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    emitted = returned[0] + returned[1]
    assert len(emitted) == len(set(emitted))
    with Ledger.open(path) as ledger:
        assert ledger.count() == len(emitted)
        assert sum(r.actions_new for r in ledger.runs()) == len(emitted)


# --- kill -9 ----------------------------------------------------------------------


def batch(b: int) -> list[dict[str, Any]]:
    """Batch b of the kill test: 200 to 2,000 actions, ids unique to the batch."""
    size = random.Random(b).randint(200, 2000)
    return [
        {
            "action_id": action_id("kill-test", f"C{b}-{i}", "k"),
            "policy": "kill-test",
            "customer_id": f"C{b}-{i}",
            "as_of": "2025-01-01",
            "note": "x" * 200,
        }
        for i in range(size)
    ]


WRITER = textwrap.dedent(
    """
    import random, sys
    from typing import Any
    from loyaltyrules.ledger import Ledger, RunRecord, action_id

    BATCH_SOURCE

    ledger = Ledger.open(sys.argv[1])
    print("ready", flush=True)
    b = len(ledger.runs())  # the next batch: a killed batch left no trace
    while True:
        actions = batch(b)
        run = RunRecord(run_id=f"batch-{b}", started_at="t", bundle="b", as_of="2025-01-01",
                        counts={"actions": len(actions)})
        ledger.record_run(actions, run)
        b += 1
    """
)


def check_consistent(path: str) -> int:
    """Every run is whole: its stored action count equals the actions carrying its id."""
    intact(path)
    per_run = dict(rows(path, "SELECT created_run, count(*) FROM actions GROUP BY created_run"))
    runs = rows(path, "SELECT run_id, counts, actions_new FROM runs")
    for run_id, counts, actions_new in runs:
        assert per_run.pop(run_id, 0) == json.loads(counts)["actions"] == actions_new
    assert per_run == {}, "actions without a run"
    assert sorted(r[0] for r in runs) == sorted(f"batch-{b}" for b in range(len(runs)))
    return len(runs)


def test_sigkill_at_random_moments_leaves_whole_runs(any_state: str, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER.replace("BATCH_SOURCE", inspect.getsource(batch)))
    path = any_state
    rng = random.Random(20250101)
    for _ in range(24):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        check_consistent(path)
    recorded = check_consistent(path)
    assert recorded > 5, "the writer should have committed several batches"

    # Re-recording every batch (and a few never reached) adds exactly the missing ones.
    batches = [batch(b) for b in range(recorded + 3)]
    expected = {a["action_id"] for actions in batches for a in actions}
    with Ledger.open(path) as ledger:
        for b, actions in enumerate(batches):
            new = ledger.record_run(actions, make_run(f"again-{b}"))
            assert (len(new) == 0) == (b < recorded)
        assert ledger.count() == len(expected)
        assert ledger.known_ids(expected) == expected
