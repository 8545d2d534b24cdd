"""A real `loyaltyrules run` killed with SIGKILL at random points, many times.

Afterwards one uninterrupted run must leave the ledger identical to a ledger that
was never interrupted: nothing lost, nothing doubled, no half-written run. Each
attempt runs the same range as the reference, as a nightly job retried after a
crash would (the contact rules' caps make decisions depend on the order of dates,
so only the same order can be compared record for record); a second test kills
runs of random sub-ranges and checks that every action is there exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

START, END = dt.date(2025, 1, 1), dt.date(2025, 4, 30)
KILLS = 14


def _run(
    store: Path, state: Path, out: Path, start: dt.date, end: dt.date
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loyaltyrules",
            "run",
            "--as-of",
            start.isoformat(),
            "--through",
            end.isoformat(),
            "--data",
            str(store),
            "--state",
            str(state),
            "--out",
            str(out),
            "-q",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=out.parent,
    )


def _contents(state: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(state) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return con.execute("SELECT action_id, record FROM actions ORDER BY action_id").fetchall()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_kill_at_random_points_loses_and_doubles_nothing(
    example_store: Path, tmp_path: Path
) -> None:
    reference = tmp_path / "reference.sqlite"
    started = time.monotonic()
    assert _run(example_store, reference, tmp_path / "ref-out", START, END).wait(120) == 0
    whole_run = time.monotonic() - started
    expected = _contents(reference)
    assert len(expected) > 100

    # kill points spread over the run as long as it takes on this machine
    state = tmp_path / "killed.sqlite"
    killed = _kill_many(example_store, state, tmp_path, random.Random(20251122), same_range=True,
                        within=whole_run)
    assert killed >= KILLS // 2, "most runs must really be interrupted"

    assert _run(example_store, state, tmp_path / "out", START, END).wait(120) == 0
    assert _contents(state) == expected


def _kill_many(store: Path, state: Path, tmp_path: Path, rng: random.Random,
               *, same_range: bool, within: float = 2.5) -> int:
    """Start a run and SIGKILL it at a random moment in the first `within` seconds,
    KILLS times; the number of runs really interrupted."""
    days = (END - START).days
    killed = 0
    for _ in range(KILLS):
        first, last = START, END
        if not same_range:
            first = START + dt.timedelta(days=rng.randrange(days))
            last = min(END, first + dt.timedelta(days=rng.randrange(60)))
        process = _run(store, state, tmp_path / "out", first, last)
        time.sleep(rng.uniform(0.02, 0.95) * within)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        process.wait(30)
    return killed


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_kill_during_runs_of_random_dates_keeps_every_action_once(example_store: Path,
                                                                  tmp_path: Path) -> None:
    reference = tmp_path / "reference.sqlite"
    assert _run(example_store, reference, tmp_path / "ref-out", START, END).wait(120) == 0
    expected = set(_policy_actions(reference))

    state = tmp_path / "killed.sqlite"
    _kill_many(example_store, state, tmp_path, random.Random(7), same_range=False)
    assert _run(example_store, state, tmp_path / "out", START, END).wait(120) == 0
    found = _policy_actions(state)
    assert len(found) == len(set(found)) and set(found) == expected


def _policy_actions(state: Path) -> list[str]:
    """The ids of the policies' actions (escalations depend on when runs happened)."""
    return [action_id for action_id, record in _contents(state)
            if json.loads(record)["policy"] not in ("escalation", "routing")]
