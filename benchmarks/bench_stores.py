"""Many stores' nights into one PostgreSQL ledger, against each store in a SQLite file.

    python benchmarks/generate.py /tmp/stores-data --scale 0.1 --stores 200
    python benchmarks/bench_stores.py /tmp/stores-data --postgres postgresql://u@host/db \\
        [--night 2025-12-31] [--through D] [--workers 4] [--stores 200]

Every store's night (`run --store S`: the franchise's data, the store's own actions;
with --through, its nights up to that date in one catch-up) is run twice: into one
PostgreSQL ledger shared by all stores, by `--workers` processes at once (so stores
really write at the same time), and into a SQLite file per store. Each worker loads
the data once and runs its stores one after another through the same code as
`loyaltyrules run` (run lock, contact rules, ledger, outbox, delivery, the store's
point-of-sale views). Then, per store: the shared ledger's actions of that store must
equal, id for id, status and record, those of its own SQLite ledger; no action may
appear twice. The PostgreSQL ledger is a new schema of the database given, dropped at
the end unless --keep.

Prints the seconds each backend took (wall, all workers), actions per store, and the
peak memory of a worker. Exit status 1 when any store differs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb

Rows = list[tuple[str, str, str]]


def _stores(data: Path, limit: int | None) -> list[str]:
    found = duckdb.sql(f"SELECT store_id FROM '{data}/stores.parquet' ORDER BY store_id")
    names = [str(row[0]) for row in found.fetchall()]
    return names[:limit] if limit else names


def _worker(args: tuple[Path, list[str], list[str], tuple[str, str], Path]
            ) -> tuple[float, int]:
    """Run `stores`' night into `states` (one per store, or the same URL for all)."""
    from loyaltyrules.delivery import Target
    from loyaltyrules.nightly import load_source, run_range
    from loyaltyrules.plan import compile_paths
    from loyaltyrules.resources import default_policies_dir
    from loyaltyrules.runlock import run_lock

    data, stores, states, (night, through), work = args
    first, last = dt.date.fromisoformat(night), dt.date.fromisoformat(through)
    work.mkdir(parents=True, exist_ok=True)
    plan = compile_paths([default_policies_dir()])
    source = load_source(data, last, work / f"rejects-{uuid.uuid4().hex[:6]}.jsonl")
    started = time.perf_counter()
    for store, state in zip(stores, states, strict=True):
        with run_lock(state, 600, store=store):
            run_range(plan, source, first, last, state, target=Target.parse(
                str(work / "out" / store), store), store=store)
    seconds = time.perf_counter() - started
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _run_all(data: Path, stores: list[str], states: list[str], night: tuple[str, str],
             work: Path, workers: int) -> tuple[float, int]:
    """Wall seconds from the first run to the last (loading excluded), peak MiB."""
    parts = [(data, stores[i::workers], states[i::workers], night, work)
             for i in range(workers)]
    started = time.perf_counter()
    with mp.get_context("spawn").Pool(workers) as pool:
        done = pool.map(_worker, parts)
    wall = time.perf_counter() - started
    loading = wall - max(seconds for seconds, _ in done)
    return wall - loading, max(peak for _, peak in done)


def _sqlite_rows(path: str) -> Rows:
    with sqlite3.connect(path) as con:
        return con.execute("SELECT action_id, status, record FROM actions "
                           "ORDER BY action_id").fetchall()


def _postgres_rows(url: str) -> dict[str, Rows]:
    import psycopg

    per_store: dict[str, Rows] = {}
    with psycopg.connect(url) as con:
        for store, aid, status, record in con.execute(
                "SELECT store_id, action_id, status, record FROM actions "
                "ORDER BY action_id").fetchall():
            per_store.setdefault(store, []).append((aid, status, record))
    return per_store


def _schema(url: str, name: str, create: bool) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {name}" if create else f"DROP SCHEMA {name} CASCADE")
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={name}')}"


def _compare(stores: Sequence[str], alone: dict[str, Rows], shared: dict[str, Rows]) -> int:
    differ = [s for s in stores if alone[s] != shared.get(s, [])]
    extra = sorted(set(shared) - set(stores))
    ids = [aid for rows in alone.values() for aid, _, _ in rows]
    print(f"stores: {len(stores)}; actions: {len(ids)} in the SQLite files, "
          f"{sum(map(len, shared.values()))} in the shared ledger")
    counts = sorted(len(alone[s]) for s in stores)
    print(f"actions per store: min {counts[0]}, median {counts[len(counts) // 2]}, "
          f"max {counts[-1]}")
    print(f"an id in two stores' files: {len(ids) - len(set(ids))}; stores that differ: "
          f"{len(differ)} {differ[:5]}; actions of no store run: {extra}")
    return 1 if differ or extra or len(ids) != len(set(ids)) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a folder from benchmarks/generate.py")
    parser.add_argument("--postgres", required=True, help="a database to make a schema in")
    parser.add_argument("--night", default="2025-12-31")
    parser.add_argument("--through", default=None, help="last night (default: --night)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--stores", type=int, default=None, help="only the first N stores")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")
    args = parser.parse_args(argv)
    stores = _stores(args.data.resolve(), args.stores)
    nights = (args.night, args.through or args.night)
    schema = f"bench_stores_{uuid.uuid4().hex[:8]}"
    url = _schema(args.postgres, schema, create=True)
    print(f"{len(stores)} stores' nights {nights[0]}..{nights[1]}, {args.workers} workers at once "
          f"(the machine may be shared: compare ratios)", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-stores-") as folder:
            work = Path(folder)
            files = [str(work / f"{s}.sqlite") for s in stores]
            timing: dict[str, Any] = {}
            timing["postgresql"] = _run_all(args.data, stores, [url] * len(stores),
                                            nights, work / "pg", args.workers)
            print(f"PostgreSQL, one ledger: {timing['postgresql'][0]:.1f} s, peak "
                  f"{timing['postgresql'][1]} MiB per worker", flush=True)
            timing["sqlite"] = _run_all(args.data, stores, files, nights, work / "lite",
                                        args.workers)
            print(f"SQLite, a file per store: {timing['sqlite'][0]:.1f} s, peak "
                  f"{timing['sqlite'][1]} MiB per worker", flush=True)
            alone = {s: _sqlite_rows(f) for s, f in zip(stores, files, strict=True)}
            return _compare(stores, alone, _postgres_rows(url))
    finally:
        if not args.keep:
            _schema(args.postgres, schema, create=False)


if __name__ == "__main__":
    sys.exit(main())
