"""A real `loyaltyrules run` killed (SIGKILL) at random and at chosen points, and one
whose output disk fills up: what the HOST RECEIVED must end up as if nothing happened.

"Received" is the output folder: every date's JSON Lines, CSV and task sheets (hidden
`.*.tmp` files of an interrupted atomic write are not outputs; hosts ignore them).
After one clean run, it must equal, byte for byte, the folder of a run never
interrupted, and the ledger must equal that run's ledger: nothing lost, nothing
doubled, and no action received under another id. The chosen points
(crashpoints.py: right after the ledger commit, between two files, before the
outbox is marked, inside the view rebuild) are reached through the documented test
hook LOYALTYRULES_CRASH_AT; the random ones are kills from outside. Each case runs
on a SQLite file and on PostgreSQL, against the same reference (a SQLite run).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from loyaltyrules.crashpoints import ENV, POINTS
from loyaltyrules.examples import example_data_dir

from _paths import PACK
from _received import (
    Received,
    assert_same_as_reference,
    owed,
    received,
    received_actions,
    recorded,
)
from _states import is_postgres, rows

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

START, END = dt.date(2025, 1, 1), dt.date(2025, 4, 30)
NEXT_NIGHT = END + dt.timedelta(days=1)
KILLS = 12


def _command(store: Path, state: Path | str, out: Path, start: dt.date, end: dt.date
             ) -> list[str]:
    return [sys.executable, "-m", "loyaltyrules", "run", "--as-of", start.isoformat(),
            "--through", end.isoformat(), "--data", str(store), "--state", str(state),
            "--policies", str(_lasting(store)), "--out", str(out), "-q"]


def _lasting(store: Path) -> Path:
    """Beside the store, the pack with every action worth doing for ever: a catch-up
    then delivers all it decides (docs/contact-rules.md, Time-bound actions), so the
    kills land among many actions, not only the few still valid on the last date."""
    pack = store.parent / "lasting-policies"
    if not pack.exists():
        shutil.copytree(PACK, pack)
        for path in pack.glob("*.yaml"):
            path.write_text(re.sub(r"^( +)due_by: (.+)\n(?!\1valid_until)",
                                   r"\1due_by: \2\n\1valid_until: never\n",
                                   path.read_text(encoding="utf-8"), flags=re.M),
                            encoding="utf-8")
    return pack


def _run(store: Path, state: Path | str, out: Path, start: dt.date = START, end: dt.date = END,
         crash_at: str | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if crash_at:
        env[ENV] = crash_at
    return subprocess.Popen(_command(store, state, out, start, end), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=out.parent, env=env)


def _finish(process: subprocess.Popen[bytes]) -> None:
    _, err = process.communicate(timeout=180)
    assert process.returncode == 0, err.decode()


class Reference:
    """The uninterrupted run: its received folder, ledger and duration."""

    def __init__(self, store: Path, work: Path) -> None:
        self.store = store
        _finish(_run(store, work / "ref.sqlite", work / "ref-out"))
        self.files = received(work / "ref-out")
        self.ledger = recorded(work / "ref.sqlite")
        assert len(received_actions(self.files)) > 100
        # a run over a ledger that has the range already, as most killed runs are
        started = time.monotonic()
        _finish(_run(store, work / "ref.sqlite", work / "again-out"))
        self.seconds = time.monotonic() - started
        assert received(work / "again-out") == self.files  # a re-run writes the same


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    work = tmp_path_factory.mktemp("reference")
    store = work / "store"
    shutil.copytree(example_data_dir(), store)
    return Reference(store, work)


def _range_files(files: Received, start: dt.date, end: dt.date) -> Received:
    def day(name: str) -> dt.date | None:
        stem = name.split("/")[0].removesuffix(".jsonl").removesuffix(".csv")
        try:
            return dt.date.fromisoformat(stem.split("-", 1)[1])
        except (IndexError, ValueError):
            return None

    return {name: body for name, body in files.items()
            if (d := day(name)) is not None and start <= d <= end
            and not name.startswith("rejects-")}


@pytest.mark.parametrize("point", POINTS)
def test_a_crash_at_each_point_is_delivered_by_the_next_night(
        reference: Reference, tmp_path: Path, point: str, any_state: str) -> None:
    """The issue's case: the run dies after recording; the next night's run (another
    date) must first write what the dead run recorded."""
    state, out = any_state, tmp_path / "out"
    crashed = _run(reference.store, state, out, crash_at=point)
    crashed.communicate(timeout=180)
    assert crashed.returncode == -signal.SIGKILL, f"the run did not reach {point}"
    assert recorded(state) == reference.ledger  # recorded in full at every point

    _finish(_run(reference.store, state, out, NEXT_NIGHT, NEXT_NIGHT))
    got = received(out)
    assert_same_as_reference(_range_files(got, START, END),
                             _range_files(reference.files, START, END))
    assert f"actions-{NEXT_NIGHT}.jsonl" in got
    assert owed(state) == 0
    # the next run rebuilt the views
    through = rows(state, "SELECT value FROM view_meta WHERE key = 'through'")
    assert through == [(NEXT_NIGHT.isoformat(),)]


def test_a_kill_as_soon_as_the_run_is_committed_loses_nothing(
        reference: Reference, tmp_path: Path, any_state: str) -> None:
    """No test hook: the run is killed from outside the moment its run row is visible
    in the ledger (how the loss was first found: 977 of 977 actions never written)."""
    state, out = any_state, tmp_path / "out"
    with _watching(state) as committed:
        process = _run(reference.store, state, out)
        while process.poll() is None and not committed():
            time.sleep(0.002)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(60)
    _finish(_run(reference.store, state, out))
    assert_same_as_reference(received(out), reference.files)
    assert recorded(state) == reference.ledger


@contextlib.contextmanager
def _watching(state: str) -> Iterator[Callable[[], bool]]:
    """Whether a run row is visible yet, read without touching the state (no table
    made, no lock taken)."""
    if is_postgres(state):
        import psycopg

        with psycopg.connect(state, autocommit=True) as con:
            def committed() -> bool:
                row = con.execute("SELECT to_regclass('runs') IS NOT NULL").fetchone()
                return bool(row and row[0]) and con.execute(
                    "SELECT count(*) FROM runs").fetchone() != (0,)
            yield committed
        return
    import sqlite3

    def in_file() -> bool:
        try:
            with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=0.05) as con:
                return bool(con.execute("SELECT count(*) FROM runs").fetchone()[0])
        except sqlite3.Error:  # not created yet, or no runs table yet
            return False
    yield in_file


def test_kills_at_random_points_then_one_clean_run(reference: Reference, tmp_path: Path,
                                                   any_state: str) -> None:
    state, out = any_state, tmp_path / "out"
    killed = _kill_many(reference.store, state, out, random.Random(20251122), same_range=True,
                        within=reference.seconds)
    assert killed >= KILLS // 2, "most runs must really be interrupted"
    _finish(_run(reference.store, state, out))
    assert_same_as_reference(received(out), reference.files)
    assert not list(out.rglob(".*.tmp")), "the killed writers' temporary files are cleared"
    assert recorded(state) == reference.ledger
    assert owed(state) == 0


def test_kills_during_runs_of_random_dates_then_one_clean_run(reference: Reference,
                                                              tmp_path: Path,
                                                              any_state: str) -> None:
    """Runs of random sub-ranges, killed: escalations then depend on which runs
    happened, so only the policies' own actions are compared with the reference."""
    state, out = any_state, tmp_path / "out"
    _kill_many(reference.store, state, out, random.Random(7), same_range=False)
    _finish(_run(reference.store, state, out))
    got = received_actions(received(out))
    ids = [a["action_id"] for a in got]
    assert len(ids) == len(set(ids))
    emitted = {r[0] for r in rows(
        state, "SELECT action_id FROM actions WHERE status NOT IN ('deferred', 'merged', "
        "'expired') AND contact_day BETWEEN ? AND ?", (START.isoformat(), END.isoformat()))}
    assert set(ids) == emitted  # everything recorded for the range was received
    assert _policy_ids(got) == _policy_ids(received_actions(reference.files))
    assert owed(state) == 0


def _policy_ids(actions: list[dict[str, Any]]) -> set[str]:
    return {a["action_id"] for a in actions if a["policy"] not in ("escalation", "routing")}


def _kill_many(store: Path, state: str, out: Path, rng: random.Random,
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
        process = _run(store, state, out, first, last)
        time.sleep(rng.uniform(0.02, 0.95) * within)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        process.wait(60)
    return killed


# ---------------------------------------------------------------- a full output disk

_FULL_DISK = r"""
set -e
mount -t tmpfs -o size=96k tmpfs "$OUT"
set +e
"$@"
echo "full=$?" > "$REPORT"
set -e
mount -o remount,size=64m "$OUT"
"$@"
echo "freed=$?" >> "$REPORT"
cp -a "$OUT/." "$COPY/"
"""


def _can_mount_tmpfs(work: Path) -> str | None:
    """None when a private tmpfs can be mounted here, else why not."""
    if shutil.which("unshare") is None:
        return "needs unshare(1) to mount a small tmpfs as the output disk"
    probe = work / "probe"
    probe.mkdir()
    done = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=8k tmpfs "
                           f"'{probe}'"], capture_output=True, check=False)
    if done.returncode != 0:
        return ("cannot mount a tmpfs in a private mount namespace here "
                f"({done.stderr.decode().strip() or done.returncode})")
    return None


def test_a_full_output_disk_is_reported_and_the_next_run_delivers_everything(
        reference: Reference, tmp_path: Path, any_state: str) -> None:
    """A real full disk: the output folder is a 96 KiB tmpfs, in a private mount
    namespace (unshare -rm); the ledger is on the ordinary disk. The run records,
    fails to write with exit 74, and once the tmpfs is enlarged (space freed) the
    same run again delivers every date."""
    reason = _can_mount_tmpfs(tmp_path)
    if reason:
        pytest.skip(reason)
    state, out, copy = any_state, tmp_path / "out", tmp_path / "received"
    out.mkdir()
    copy.mkdir()
    report = tmp_path / "report"
    env = {**{k: v for k, v in os.environ.items() if k != ENV}, "OUT": str(out),
           "COPY": str(copy), "REPORT": str(report)}
    done = subprocess.run(["unshare", "-rm", "sh", "-c", _FULL_DISK, "sh",
                           *_command(reference.store, state, out, START, END)],
                          capture_output=True, env=env, cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert report.read_text().split() == ["full=74", "freed=0"], done.stderr.decode()
    message = done.stderr.decode()
    assert "No space left on device" in message and "loyaltyrules export" in message
    assert "Traceback" not in message
    assert_same_as_reference(received(copy), reference.files)
    assert recorded(state) == reference.ledger
    assert owed(state) == 0
