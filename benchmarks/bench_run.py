"""Whole commands as users run them: `loyaltyrules run` against a hand-written script.

    python benchmarks/bench_run.py DATA_DIR [--night D] [--jan1 D] [--from A --to B]
                                   [--repeat N] [--only PHASE ...] [--workdir DIR]

DATA_DIR is a folder written by generate.py. Three phases, each side `--repeat` times,
alternating, every run a fresh process timed from outside (wall seconds; peak RSS is
the child's own high-water mark, from wait4):

* night: `loyaltyrules run --as-of D --data DATA_DIR --state S --out F` on a state
  primed by the previous night's run (a copy of it for every run, so no run sees
  another's ledger or ingest store);
* jan1: the same for 1 January (default: the day after the data), the night of the
  top-spender ranking and the tier downgrades;
* catch-up: `--as-of A --through B` from an empty state (default: the whole data).

The other side is handwritten_run.py: the same Parquet in, the pack's actions as
hand-written SQL (baseline.sql), JSON Lines out. Both sides must agree on the actions
per policy of the pack (the engine's candidates before the contact rules, from
--summary-json; its ledger's escalation and routing tasks are shown, not compared);
a disagreement is printed and the exit status is 1. The table gives median seconds,
the ratio engine / hand-written of the medians and the worst run's peak RSS of each.

Before timing, the installed package's bytecode is compiled, as `pip install` leaves a
package: an editable install under PYTHONDONTWRITEBYTECODE would otherwise recompile
every module in every timed process, a cost no installed store pays.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

import loyaltyrules

HERE = Path(__file__).resolve().parent
HANDWRITTEN = HERE / "handwritten_run.py"
DEFAULT_POLICIES = HERE.parent / "policies"
SIDES = ("engine", "handwritten")
# The ledger's own tasks (docs/outcomes.md): escalations of the follow-ups earlier runs
# recorded, routing of reported outcomes. The hand-written script keeps no ledger.
LIFECYCLE = frozenset({"escalation", "routing"})


@dataclass(frozen=True)
class Timed:
    seconds: float
    rss_mb: float
    counts: dict[str, int]


@dataclass
class Phase:
    name: str
    first: dt.date
    last: dt.date
    primed_by: dt.date | None  # the night run before, on the state every run copies
    runs: dict[str, list[Timed]] = field(default_factory=lambda: {s: [] for s in SIDES})


def timed(argv: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of one process; a failure stops the bench."""
    with (cwd / "stdout.txt").open("w+") as out, (cwd / "stderr.txt").open("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(child.pid, 0)  # the child's own resource usage
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            err.seek(0)
            raise SystemExit(f"{' '.join(argv)} exited {child.returncode}:\n{err.read()[-2000:]}")
        out.seek(0)
        return seconds, usage.ru_maxrss / 1024, out.read()  # ru_maxrss: KiB on Linux


def engine_argv(data: Path, policies: Path, phase: Phase, state: Path, out: Path,
                summary: Path) -> list[str]:
    through = [] if phase.first == phase.last else ["--through", phase.last.isoformat()]
    return [*_loyaltyrules(), "run", "-q", "--as-of", phase.first.isoformat(), *through,
            "--data", str(data), "--state", str(state), "--out", str(out),
            "--policies", str(policies), "--summary-json", str(summary)]


def _loyaltyrules() -> list[str]:
    return [sys.executable, "-m", "loyaltyrules"]


def handwritten_argv(data: Path, phase: Phase, out: Path) -> list[str]:
    return [sys.executable, str(HANDWRITTEN), str(data), "--from", phase.first.isoformat(),
            "--to", phase.last.isoformat(), "--out", str(out)]


def prime(data: Path, policies: Path, phase: Phase, primed: Path) -> None:
    """The state as the night before left it (ledger, and whatever the run keeps beside it)."""
    primed.mkdir(parents=True)
    # The store keeps its checked input beside the state (opt-in: it holds contact details)
    (primed / "loyaltyrules.toml").write_text("[run]\ningest_store = true\n", encoding="utf-8")
    if phase.primed_by is None:
        return
    night = Phase("prime", phase.primed_by, phase.primed_by, None)
    argv = engine_argv(data, policies, night, primed / "state.sqlite", primed / "prime.jsonl",
                       primed / "prime-summary.json")
    seconds, rss, _out = timed(argv, primed)
    print(f"  {phase.name}: primed by the night of {phase.primed_by} in {seconds:.1f} s, "
          f"peak RSS {rss:,.0f} MB (not counted)", flush=True)


def run_side(side: str, data: Path, policies: Path, phase: Phase, primed: Path,
             place: Path) -> Timed:
    shutil.copytree(primed, place)  # every run starts from the same primed state
    out = place / "actions.jsonl"
    if side == "engine":
        summary = place / "summary.json"
        argv = engine_argv(data, policies, phase, place / "state.sqlite", out, summary)
        seconds, rss, _out = timed(argv, place)
        per_policy = json.loads(summary.read_text(encoding="utf-8"))["per_policy"]
        counts = {p: int(c["candidates"]) for p, c in per_policy.items() if c["candidates"]}
    else:
        seconds, rss, printed = timed(handwritten_argv(data, phase, out), place)
        counts = json.loads(printed.splitlines()[-1])
    return Timed(seconds, rss, counts)


def measure(phase: Phase, data: Path, policies: Path, repeat: int, workdir: Path) -> None:
    primed = workdir / phase.name / "primed"
    prime(data, policies, phase, primed)
    for i in range(repeat):  # alternate the two sides so drift hits both alike
        for side in SIDES:
            place = workdir / phase.name / f"{side}-{i}"
            run = run_side(side, data, policies, phase, primed, place)
            phase.runs[side].append(run)
            print(f"  {phase.name} {side} run {i + 1}: {run.seconds:.2f} s, "
                  f"{sum(run.counts.values()):,} actions, peak RSS {run.rss_mb:,.0f} MB",
                  flush=True)
            shutil.rmtree(place)


def check(phase: Phase) -> list[str]:
    problems = []
    engine, hand = (phase.runs[s][0].counts for s in SIDES)
    for policy in sorted(LIFECYCLE & set(engine)):
        print(f"  {phase.name}: {engine[policy]:,} {policy} tasks of the engine, from its "
              "ledger (the hand-written script keeps none): not compared")
    for policy in sorted((set(engine) | set(hand)) - LIFECYCLE):
        e, h = engine.get(policy, 0), hand.get(policy, 0)
        if e != h:
            problems.append(f"{phase.name}: {policy}: engine {e:,} != hand-written {h:,}")
    for side in SIDES:
        if any(r.counts != phase.runs[side][0].counts for r in phase.runs[side]):
            problems.append(f"{phase.name}: {side}: the actions differ between runs")
    return problems


def report(phases: list[Phase]) -> None:
    print(f"\n{'phase':<10} {'dates':<24} {'engine s':>9} {'hand s':>8} {'ratio':>6} "
          f"{'engine MB':>10} {'hand MB':>8} {'ratio':>6} {'actions':>9}")
    for phase in phases:
        engine, hand = (phase.runs[s] for s in SIDES)
        e_s, h_s = (statistics.median(r.seconds for r in runs) for runs in (engine, hand))
        e_mb, h_mb = (max(r.rss_mb for r in runs) for runs in (engine, hand))
        dates = f"{phase.first}..{phase.last}" if phase.first != phase.last else str(phase.first)
        print(f"{phase.name:<10} {dates:<24} {e_s:>9.2f} {h_s:>8.2f} {e_s / h_s:>6.2f} "
              f"{e_mb:>10,.0f} {h_mb:>8,.0f} {e_mb / h_mb:>6.2f} "
              f"{sum(engine[0].counts.values()):>9,}")


def data_dates(data: Path) -> tuple[dt.date, dt.date]:
    row = duckdb.execute(
        "SELECT min(CAST(purchased_at AS DATE)), max(CAST(purchased_at AS DATE)) "
        "FROM read_parquet($f)", {"f": str(data / "purchases.parquet")}).fetchone()
    assert row is not None
    return row[0], row[1]


def phases_of(args: argparse.Namespace) -> list[Phase]:
    first, last = data_dates(args.data_dir)
    night = args.night or last
    jan1 = args.jan1 or dt.date(last.year + 1, 1, 1)
    every = [
        Phase("night", night, night, night - dt.timedelta(days=1)),
        Phase("jan1", jan1, jan1, jan1 - dt.timedelta(days=1)),
        Phase("catch-up", args.start or first, args.end or last, None),
    ]
    return [p for p in every if not args.only or p.name in args.only]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="a folder written by generate.py")
    parser.add_argument("--night", type=dt.date.fromisoformat,
                        help="the ordinary night (default: the data's last date)")
    parser.add_argument("--jan1", type=dt.date.fromisoformat,
                        help="the 1 January night (default: the one after the data)")
    parser.add_argument("--from", dest="start", type=dt.date.fromisoformat,
                        help="catch-up start (default: the data's first date)")
    parser.add_argument("--to", dest="end", type=dt.date.fromisoformat,
                        help="catch-up end (default: the data's last date)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase and side")
    parser.add_argument("--only", nargs="+", choices=["night", "jan1", "catch-up"])
    parser.add_argument("--policies", type=Path, default=DEFAULT_POLICIES)
    parser.add_argument("--workdir", type=Path, help="for states and outputs (default: temp)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.data_dir = args.data_dir.resolve()
    return args


def compile_package() -> None:
    """The package's bytecode on disk, as an installed package has it."""
    compileall.compile_dir(Path(loyaltyrules.__file__).parent, quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    compile_package()
    phases = phases_of(args)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)  # a place of the user's choice
    with tempfile.TemporaryDirectory(prefix="bench-run-", dir=args.workdir) as tmp:
        for phase in phases:
            measure(phase, args.data_dir, args.policies.resolve(), args.repeat, Path(tmp))
    problems = [p for phase in phases for p in check(phase)]
    report(phases)
    if problems:
        print("\nFAILED: the engine and the hand-written script disagree:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("\nOK: the engine and the hand-written script agree on the actions per policy.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
