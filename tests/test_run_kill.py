"""A real `loyaltyrules run` killed with SIGKILL at random points, many times.

Afterwards one uninterrupted run must leave the ledger identical to a ledger that
was never interrupted: nothing lost, nothing doubled, no half-written run.
"""

from __future__ import annotations

import datetime as dt
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
    assert _run(example_store, reference, tmp_path / "ref-out", START, END).wait(120) == 0
    expected = _contents(reference)
    assert len(expected) > 100

    state = tmp_path / "killed.sqlite"
    rng = random.Random(20251122)
    days = (END - START).days
    killed = 0
    for _ in range(KILLS):
        first = START + dt.timedelta(days=rng.randrange(days))
        last = min(END, first + dt.timedelta(days=rng.randrange(60)))
        process = _run(example_store, state, tmp_path / "out", first, last)
        time.sleep(rng.uniform(0.05, 2.0))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        process.wait(30)
    assert killed >= KILLS // 2, "most runs must really be interrupted"

    assert _run(example_store, state, tmp_path / "out", START, END).wait(120) == 0
    assert _contents(state) == expected
