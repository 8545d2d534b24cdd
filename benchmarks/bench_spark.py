"""DuckDB and Spark on the same data: the same actions (ids compared), and their times.

    python benchmarks/bench_spark.py DATA_DIR [--night D] [--year Y] [--master local[2]]
                                     [--phases night,new-year,year] [--driver-memory 2g]

DATA_DIR is a folder written by generate.py. Each phase is `loyaltyrules run` with a
fresh ledger and output folder, once with `--engine duckdb` and once with `--engine
spark`, each a process of its own, timed as a whole (start-up, loading and checking
the data, evaluation, contact rules, ledger, files, point-of-sale views):

* night: --as-of D (default 2025-11-20);
* new-year: --as-of Y-01-01 (yearly schedules, tier downgrades);
* year: --as-of Y-01-01 --through Y-12-31, a year's catch-up in one run.

The delivered actions (every actions-*.jsonl of the output folder) must be the same
on both engines: the same ids, and the same records. A difference is printed and the
exit status is 1. Peak memory is the highest total RSS of the run's process tree
(Python and Spark's JVM), sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
POLICIES = HERE.parent / "policies"
ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class Outcome:
    seconds: float
    peak_mb: float
    actions: dict[str, dict[str, Any]]


def phases(night: str, year: int) -> dict[str, list[str]]:
    return {
        "night": ["--as-of", night],
        "new-year": ["--as-of", f"{year}-01-01"],
        "year": ["--as-of", f"{year}-01-01", "--through", f"{year}-12-31"],
    }


def tree_rss_kb(root: int) -> int:
    """Total resident memory of `root` and its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields.get("PPid", "0").strip())
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    tree, grown = {root}, True
    while grown:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        grown = bool(more)
        tree |= more
    return sum(rss.get(pid, 0) for pid in tree)


def run(engine: str, data: Path, dates: list[str], config: Path, work: Path) -> Outcome:
    out = work / "out"
    command = ["loyaltyrules", "run", "--data", str(data), "--policies", str(POLICIES),
               "--state", str(work / "state.sqlite"), "--out", str(out), "--quiet",
               "--engine", engine, "--config", str(config), *dates]
    started = time.perf_counter()
    with open(work / "log", "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=work)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss_kb(process.pid))
            time.sleep(0.2)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"{engine} run failed ({process.returncode}); see {work / 'log'}")
    actions = {}
    for file in sorted(out.glob("actions-*.jsonl")):
        for line in file.read_text().splitlines():
            record = json.loads(line)
            actions[record["action_id"]] = record
    return Outcome(seconds, peak / 1024, actions)


def compare(name: str, duck: Outcome, spark: Outcome) -> bool:
    only_duck = sorted(set(duck.actions) - set(spark.actions))
    only_spark = sorted(set(spark.actions) - set(duck.actions))
    differ = [i for i in duck.actions if i in spark.actions and duck.actions[i] != spark.actions[i]]
    for label, ids in (("only DuckDB", only_duck), ("only Spark", only_spark),
                       ("different records", differ)):
        if ids:
            print(f"{name}: {len(ids)} actions {label}, e.g. {ids[:3]}", file=sys.stderr)
    return not (only_duck or only_spark or differ)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--night", default="2025-11-20")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--phases", default="night,new-year,year")
    args = parser.parse_args()
    every = phases(args.night, args.year)
    chosen = [p for p in args.phases.split(",") if p]
    unknown = [p for p in chosen if p not in every]
    if unknown:
        sys.exit(f"unknown phase(s) {unknown}: choose from {', '.join(every)}")
    print(f"| phase | DuckDB s | Spark ({args.master}) s | Spark/DuckDB | actions | "
          "ids equal | peak MB DuckDB | peak MB Spark |")
    print("|---|---|---|---|---|---|---|---|")
    same = True
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        config = Path(tmp) / "loyaltyrules.toml"
        config.write_text(f'[engine]\nmaster = "{args.master}"\n'
                          f'conf = {{ "spark.driver.memory" = "{args.driver_memory}" }}\n')
        for name in chosen:
            outcomes = {}
            for engine in ENGINES:
                work = Path(tmp) / f"{name}-{engine}"
                work.mkdir()
                outcomes[engine] = run(engine, args.data.resolve(), every[name], config, work)
            duck, spark = outcomes["duckdb"], outcomes["spark"]
            equal = compare(name, duck, spark)
            same = same and equal
            print(f"| {name} | {duck.seconds:.1f} | {spark.seconds:.1f} | "
                  f"{spark.seconds / duck.seconds:.1f} | {len(duck.actions):,} | "
                  f"{'yes' if equal else 'NO'} | {duck.peak_mb:.0f} | {spark.peak_mb:.0f} |",
                  flush=True)
    print(f"\n{os.cpu_count()} CPUs; measured on a machine shared with other work")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
