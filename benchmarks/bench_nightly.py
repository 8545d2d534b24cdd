"""Nightly run and catch-up: the engine against hand-written DuckDB SQL (baseline.sql).

    python benchmarks/bench_nightly.py DATA_DIR [--night D] [--from A --to B] [--repeat N]

DATA_DIR is a folder written by generate.py. The Parquet files are loaded once into
canonical tables in a DuckDB file ("load"). Then each phase (one night, a catch-up over
a range) runs N times for the engine and N times for the baseline, every run in a fresh
process on that file, so no cache or temp table of an earlier run helps a later one.
The table shows median seconds, the ratio engine/baseline (design, section 7: <= 1.25),
the actions, and each side's peak RSS (the worst run's high-water mark).

The engine's and the baseline's actions must agree: per policy, and as multisets of
(policy, recipient, as_of). A disagreement is printed and the exit status is 1.
`--profile` times each step of the engine (history tables, each policy query).
`--rebuild` also times the point-of-sale views' rebuild after the night (N runs on
one state file: the first night, then nights with the state already there).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb

HERE = Path(__file__).resolve().parent
BASELINE_SQL = HERE / "baseline.sql"
DEFAULT_POLICIES = HERE.parent / "policies"
IMPLS = ("engine", "baseline")
T = TypeVar("T")

# The canonical tables evaluate() expects (design, section 3); the generator's files
# already use the canonical names, the purchase date is the store-local date.
LOAD_SQL = (
    "CREATE OR REPLACE TABLE stores AS "
    "SELECT store_id, region, name, timezone FROM read_parquet($stores)",
    "CREATE OR REPLACE TABLE customers AS "
    "SELECT customer_id, name, phone, email, address, CAST(birthday AS DATE) AS birthday, "
    "region, home_store, CAST(joined_on AS DATE) AS joined_on, referred_by, staff_id, "
    "consent_sms, consent_call, consent_mail, consent_visit FROM read_parquet($customers)",
    "CREATE OR REPLACE TABLE purchases AS "
    "SELECT purchase_id, customer_id, store_id, staff_id, "
    "CAST(purchased_at AS TIMESTAMP) AS purchased_at, "
    "CAST(purchased_at AS DATE) AS purchase_date, CAST(amount AS DECIMAL(18, 3)) AS amount, "
    "currency, return_of FROM read_parquet($purchases) "
    # as loyaltyrules.sources leaves the clean table: in event order
    "ORDER BY purchased_at, purchase_id",
)
# Optional tables (generate.py writes them; without one the policies reading it fire
# nothing on either side).
OPTIONAL_SQL = {
    "calendar": "CREATE OR REPLACE TABLE calendar AS "
    "SELECT CAST(date AS DATE) AS date, name, kind, region FROM read_parquet($calendar)",
    "complaints": "CREATE OR REPLACE TABLE complaints AS "
    "SELECT complaint_id, customer_id, store_id, CAST(received_at AS TIMESTAMP) AS received_at, "
    "channel, topic, severity FROM read_parquet($complaints)",
    "events": "CREATE OR REPLACE TABLE events AS "
    "SELECT event_id, kind, customer_id, store_id, "
    "CAST(occurred_at AS TIMESTAMP) AS occurred_at, attributes FROM read_parquet($events)",
}


@dataclass(frozen=True)
class Loaded:
    seconds: float
    rss_mb: float
    rows: dict[str, int]
    first_day: dt.date
    last_day: dt.date


@dataclass(frozen=True)
class Run:
    seconds: float
    rss_mb: float
    duckdb_mb: float  # DuckDB's own memory at the end of the run (temp tables held)
    counts: dict[str, int]


@dataclass
class Phase:
    name: str
    start: dt.date
    end: dt.date
    runs: dict[str, list[Run]] = field(default_factory=lambda: {i: [] for i in IMPLS})


# ---- work done in child processes -------------------------------------------------


def connect(db: str) -> duckdb.DuckDBPyConnection:
    # The progress bar would interleave with the output; it does not change timings.
    con = duckdb.connect(db)
    con.execute("SET enable_progress_bar = false")
    return con


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _duckdb_mb(con: duckdb.DuckDBPyConnection) -> float:
    row = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()
    return float(row[0] or 0) / 2**20 if row else 0.0


def load(data_dir: str, db: str) -> Loaded:
    con = connect(db)
    files = {
        name: str(Path(data_dir) / f"{name}.parquet")
        for name in ("stores", "customers", "purchases")
    }
    started = time.perf_counter()
    for name in OPTIONAL_SQL:
        if (Path(data_dir) / f"{name}.parquet").exists():
            files[name] = str(Path(data_dir) / f"{name}.parquet")
    statements = [*LOAD_SQL, *(OPTIONAL_SQL[name] for name in files if name in OPTIONAL_SQL)]
    for statement in statements:
        con.execute(statement, {k: v for k, v in files.items() if f"${k}" in statement})
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    rows = {name: _scalar(con, f"SELECT count(*) FROM {name}") for name in files}
    first, last = con.execute(
        "SELECT min(purchase_date), max(purchase_date) FROM purchases"
    ).fetchone() or (None, None)
    con.close()
    return Loaded(seconds, _peak_rss_mb(), rows, first, last)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def run_engine(db: str, policies: str, start: dt.date, end: dt.date, dump: str | None) -> Run:
    from loyaltyrules.engine.batch import evaluate
    from loyaltyrules.plan import compile_paths

    plan = compile_paths([Path(policies)])
    con = connect(db)
    started = time.perf_counter()
    result = evaluate(con, plan, start, end)
    seconds = time.perf_counter() - started
    if dump:
        _dump(dump, ((a["policy"], a["customer_id"], a["as_of"]) for a in result.actions))
    return Run(seconds, _peak_rss_mb(), _duckdb_mb(con), dict(result.per_policy))


def run_baseline(db: str, start: dt.date, end: dt.date, dump: str | None) -> Run:
    script = BASELINE_SQL.read_text(encoding="utf-8")
    con = connect(db)
    started = time.perf_counter()
    con.execute("SET VARIABLE first_day = $d", {"d": start})
    con.execute("SET VARIABLE last_day = $d", {"d": end})
    rows = con.execute(script).fetchall()
    seconds = time.perf_counter() - started
    if dump:
        _dump(dump, ((r[0], r[1], r[2].isoformat()) for r in rows))
    return Run(seconds, _peak_rss_mb(), _duckdb_mb(con), dict(Counter(r[0] for r in rows)))


def _dump(path: str, rows: Iterable[tuple[str, str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("policy", "customer_id", "as_of"))
        writer.writerows(rows)


def profile_engine(
    db: str, policies: str, start: dt.date, end: dt.date
) -> list[tuple[str, float, int]]:
    """Seconds and rows of each engine step, in evaluate()'s order."""
    from loyaltyrules.engine import batch
    from loyaltyrules.engine.actions import Assembler
    from loyaltyrules.plan import compile_paths

    plan = compile_paths([Path(policies)])
    con = connect(db)
    steps: list[tuple[str, float, int]] = []
    started = time.perf_counter()
    batch.prepare(con, plan, start, end)
    steps.append(("scope, history tables, ladder, contexts", time.perf_counter() - started, 0))
    started = time.perf_counter()
    queries = batch.queries(plan, start, end)
    steps.append(("policy queries built (SQLGlot)", time.perf_counter() - started, len(queries)))
    for query in queries:
        label = f"{query.policy.id} ({query.candidates.event})"
        started = time.perf_counter()
        names, rows = batch.fetch_rows(con, query)
        steps.append((f"{label} query", time.perf_counter() - started, len(rows)))
        started = time.perf_counter()
        cand = query.candidates
        assemble = Assembler(query.policy, cand.actions, cand.event, names,
                             query.reason_paths, plan.bundle)
        actions = sum(1 for row in rows for _a in assemble(row))
        steps.append((f"{label} assemble", time.perf_counter() - started, actions))
    return steps


# The customers table shaped as loyaltyrules.sources leaves it (defaults filled in,
# has_* flags for the contact details), which the views keep. A temp table of that
# name hides the canonical one.
CLEAN_CUSTOMERS = """
CREATE OR REPLACE TEMP TABLE customers AS
SELECT * EXCLUDE (name, phone, email, address, region, consent_sms, consent_call,
                  consent_mail, consent_visit),
       coalesce(region, 'default') AS region,
       coalesce(consent_sms, true) AS consent_sms, coalesce(consent_call, true) AS consent_call,
       coalesce(consent_mail, true) AS consent_mail,
       coalesce(consent_visit, true) AS consent_visit,
       address IS NOT NULL AS has_address, phone IS NOT NULL AS has_phone,
       email IS NOT NULL AS has_email
FROM {catalog}.main.customers
"""


def run_rebuild(db: str, policies: str, night: dt.date, state: str) -> tuple[float, float, int]:
    """Seconds, peak RSS (MB) and views of one rebuild of the POS views after `night`."""
    from loyaltyrules.event import rebuild
    from loyaltyrules.plan import compile_paths

    plan = compile_paths([Path(policies)])
    con = connect(db)
    catalog = con.execute("SELECT current_database()").fetchone()
    con.execute(CLEAN_CUSTOMERS.format(catalog=f'"{catalog[0]}"' if catalog else "main"))
    started = time.perf_counter()
    views = rebuild(state, con, night, plan)
    return time.perf_counter() - started, _peak_rss_mb(), views


def measure_rebuild(db: str, policies: str, night: dt.date, repeat: int, workdir: Path) -> None:
    state = str(workdir / "state.db")
    runs = []
    for i in range(repeat):
        seconds, rss, views = in_child(run_rebuild, db, policies, night, state)
        runs.append(seconds)
        first = " (first night: empty state)" if i == 0 else ""
        print(f"  rebuild run {i + 1}: {seconds:.3f} s, {views:,} views, "
              f"peak RSS {rss:,.0f} MB{first}", flush=True)
    print(f"rebuild of the POS views after {night}: median {statistics.median(runs):.3f} s")


# ---- the parent -------------------------------------------------------------------


def in_child(fn: Callable[..., T], *args: Any) -> T:
    """Run fn in a fresh process: its own caches, its own peak RSS."""
    with ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        return pool.submit(fn, *args).result()


def measure(phase: Phase, db: str, policies: str, repeat: int, workdir: Path) -> None:
    for i in range(repeat):  # alternate the two sides so drift hits both alike
        for impl in IMPLS:
            dump = str(workdir / f"{phase.name}-{impl}.csv") if i == 0 else None
            if impl == "engine":
                run = in_child(run_engine, db, policies, phase.start, phase.end, dump)
            else:
                run = in_child(run_baseline, db, phase.start, phase.end, dump)
            phase.runs[impl].append(run)
            print(
                f"  {phase.name} {impl} run {i + 1}: {run.seconds:.3f} s, "
                f"{sum(run.counts.values()):,} actions, peak RSS {run.rss_mb:,.0f} MB",
                flush=True,
            )


def check(phase: Phase, workdir: Path) -> list[str]:
    """Problems found: per-policy counts, then the (policy, recipient, as_of) multisets."""
    problems = []
    for impl in IMPLS:
        if any(r.counts != phase.runs[impl][0].counts for r in phase.runs[impl]):
            problems.append(f"{phase.name}: {impl} counts differ between runs")
    engine, baseline = (phase.runs[i][0].counts for i in IMPLS)
    print(f"\n{phase.name} ({phase.start} .. {phase.end}): actions per policy")
    print(f"  {'policy':<22} {'engine':>10} {'baseline':>10}")
    for policy in sorted(set(engine) | set(baseline)):
        e, b = engine.get(policy, 0), baseline.get(policy, 0)
        mark = "" if e == b else "   <-- MISMATCH"
        print(f"  {policy:<22} {e:>10,} {b:>10,}{mark}")
        if e != b:
            problems.append(f"{phase.name}: {policy}: engine {e:,} != baseline {b:,}")
    problems += _diff_rows(phase, workdir)
    return problems


def _diff_rows(phase: Phase, workdir: Path) -> list[str]:
    con = duckdb.connect()
    files = [str(workdir / f"{phase.name}-{impl}.csv") for impl in IMPLS]
    found = []
    for one, other, label in ((0, 1, "engine only"), (1, 0, "baseline only")):
        rows = con.execute(
            "SELECT * FROM read_csv($a, all_varchar = true) EXCEPT ALL "
            "SELECT * FROM read_csv($b, all_varchar = true) ORDER BY ALL LIMIT 5",
            {"a": files[one], "b": files[other]},
        ).fetchall()
        found += [f"{phase.name}: {label}: {row}" for row in rows]
    return found


def _median(runs: Sequence[Run]) -> float:
    return statistics.median(r.seconds for r in runs)


def report(loaded: Loaded, phases: Sequence[Phase]) -> None:
    print(
        f"\n{'phase':<10} {'engine s':>10} {'baseline s':>11} {'ratio':>7} {'actions':>10} "
        f"{'engine RSS MB':>14} {'baseline RSS MB':>16} {'engine duckdb MB':>17}"
    )
    print(f"{'load':<10} {loaded.seconds:>10.3f} {'':>11} {'':>7} {'':>10} {loaded.rss_mb:>14,.0f}")
    for phase in phases:
        engine, baseline = (phase.runs[i] for i in IMPLS)
        ratio = _median(engine) / _median(baseline)
        flag = "" if ratio <= 1.25 else "  (> 1.25)"
        print(
            f"{phase.name:<10} {_median(engine):>10.3f} {_median(baseline):>11.3f} "
            f"{ratio:>7.2f} {sum(engine[0].counts.values()):>10,} "
            f"{max(r.rss_mb for r in engine):>14,.0f} "
            f"{max(r.rss_mb for r in baseline):>16,.0f} "
            f"{max(r.duckdb_mb for r in engine):>17,.0f}{flag}"
        )


def _print_profile(phase: Phase, db: str, policies: str) -> None:
    steps = in_child(profile_engine, db, policies, phase.start, phase.end)
    total = sum(s for _n, s, _r in steps)
    print(f"\nengine profile, {phase.name} ({phase.start} .. {phase.end}): {total:.3f} s")
    for name, seconds, rows in steps:
        print(f"  {name:<48} {seconds:>8.3f} s {100 * seconds / total:>5.1f}% {rows:>10,} rows")


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="a folder written by generate.py")
    parser.add_argument("--night", type=_date, help="the night's date (default: the last)")
    parser.add_argument("--from", dest="start", type=_date, help="catch-up start (default: first)")
    parser.add_argument("--to", dest="end", type=_date, help="catch-up end (default: last date)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase and side")
    parser.add_argument("--policies", type=Path, default=DEFAULT_POLICIES)
    parser.add_argument("--workdir", type=Path, help="for the DuckDB file (default: a temp dir)")
    parser.add_argument("--profile", action="store_true", help="time each engine step too")
    parser.add_argument("--only", choices=["night", "catch-up", "none"],
                        help="run one phase only (full scale catch-up takes minutes); "
                        "none: with --rebuild, only the rebuild")
    parser.add_argument("--rebuild", action="store_true",
                        help="time the rebuild of the POS views after the night too")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-nightly-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        db = str(workdir / "canonical.duckdb")
        loaded = in_child(load, str(args.data_dir), db)
        print(
            f"load: {loaded.seconds:.3f} s, rows {loaded.rows}, "
            f"dates {loaded.first_day} .. {loaded.last_day}",
            flush=True,
        )
        night = args.night or loaded.last_day
        phases = [
            Phase("night", night, night),
            Phase("catch-up", args.start or loaded.first_day, args.end or loaded.last_day),
        ]
        phases = [p for p in phases if args.only in (None, p.name)]
        policies = str(args.policies)
        for phase in phases:
            measure(phase, db, policies, args.repeat, workdir)
        problems = [p for phase in phases for p in check(phase, workdir)]
        report(loaded, phases)
        if args.profile:
            for phase in phases:
                _print_profile(phase, db, policies)
        if args.rebuild:
            print()
            measure_rebuild(db, policies, night, args.repeat, workdir)
    if problems:
        print("\nFAILED: the engine and the baseline disagree:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("\nOK: the engine and the baseline agree on every action.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
