"""In-process per-event throughput and latency for the default pack (design, section 7).

    python benchmarks/bench_events.py [--events N] [--customers N] [--repeat N]

Measures, on one synthetic stream of receipts (seeded), with a warm engine:

* stateless: `StatelessEngine.on_purchase(receipt, view, referrer)`, views kept by
  the caller in a dict (the pure evaluation cost), for the whole pack and for its
  receipt-triggered policies (the subset durable_rules runs);
* stored: `Engine.on_purchase(receipt)` on a state file (one SQLite transaction with
  synchronous=FULL per event: dominated by the disk's fsync);
* stored in groups: `Engine.on_purchases(receipts)` with `--group` receipts per call,
  one transaction and one fsync per group (events/s, and p50/p99 of a whole group's
  call in microseconds: every receipt of a group waits for its commit);
* durable_rules, when the durable extra is installed: the receipt-triggered policies
  on the engine (stateless) and written by hand for durable_rules
  (durable_events.py), which must fire the same actions (else exit status 1).

Each path runs `--repeat` times (the stateless and durable_rules passes alternate, so
a busy moment on the machine falls on both) and the fastest pass is kept, as timeit
does. Prints one JSON object per path: events, seconds, events_per_s, p50_us, p99_us,
then the ratio of the engine's throughput to durable_rules' on the same firings.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loyaltyrules.api import Engine, StatelessEngine
from loyaltyrules.event.view import CustomerView
from loyaltyrules.resources import default_policies_dir

PACK = default_policies_dir()
# The pack's receipt-triggered policies, which durable_rules runs too (its subset).
SAME_RULES = [PACK / "big-purchase-call.yaml", PACK / "referral-thanks.yaml",
              PACK / "cumulative-thanks.yaml", PACK / "vip-tiers.yaml", PACK / "templates"]


# The store -> region map a POS engine has (from the state file's last rebuild, or
# given): 200 stores in 20 regions, as benchmarks/generate.py lays them out.
STORES = {f"S{i:03d}": f"R{i % 20:02d}" for i in range(200)}


def customers(n: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        referred = f"C{rng.randrange(i):06d}" if i and rng.random() < 0.1 else None
        rows.append({"customer_id": f"C{i:06d}", "region": f"R{i % 20:02d}",
                     "birthday": f"19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                     "referred_by": referred, "address": "x" if i % 3 else None})
    return rows


def receipts(n: int, people: int, rng: random.Random) -> list[dict[str, Any]]:
    start = dt.datetime(2025, 12, 1, 10)
    rows = []
    for i in range(n):
        amount = round(rng.lognormvariate(4.8, 1.1), 2) * (-1 if rng.random() < 0.03 else 1)
        rows.append({"purchase_id": f"P{i:08d}",
                     "customer_id": f"C{min(int(rng.paretovariate(1.2)) - 1, people - 1):06d}"
                     if rng.random() < 0.5 else f"C{rng.randrange(people):06d}",
                     "store_id": f"S{i % 200:03d}", "staff_id": f"E{i % 1600:05d}",
                     "purchased_at": (start + dt.timedelta(seconds=20 * i)).isoformat(),
                     "amount": str(amount)})
    return rows


def summary(times: list[int], seconds: float, fired: int) -> dict[str, Any]:
    times = sorted(times)
    return {"events": len(times), "fired": fired, "seconds": round(seconds, 3),
            "events_per_s": round(len(times) / seconds),
            "p50_us": round(times[len(times) // 2] / 1000, 1),
            "p99_us": round(times[int(len(times) * 0.99)] / 1000, 1)}


def stateless(people: list[dict[str, Any]], stream: list[dict[str, Any]],
              policies: list[Path] | None = None, backend: str = "native") -> dict[str, Any]:
    engine = StatelessEngine.load(policies, STORES, backend=backend)
    views: dict[str, CustomerView] = {c["customer_id"]: engine.new_view(c) for c in people}
    for r in stream:  # warm up (every store's scope resolved) on copies of the views
        engine.on_purchase(r, views[r["customer_id"]])
    times, fired = [], 0
    start = time.perf_counter()
    for r in stream:
        t0 = time.perf_counter_ns()
        view = views[r["customer_id"]]
        referred = view.record.referred_by if view.record else None
        actions, views[r["customer_id"]] = engine.on_purchase(
            r, view, views.get(referred) if referred else None)
        times.append(time.perf_counter_ns() - t0)
        fired += len(actions)
    return summary(times, time.perf_counter() - start, fired)


@contextlib.contextmanager
def stored_engine(people: list[dict[str, Any]]) -> Iterator[Engine]:
    """An engine on a new state file that knows every customer."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.load(state=Path(tmp) / "state.db", stores=STORES)
        for c in people:
            engine.on_customer(c)
        yield engine
        engine.close()


def stored(people: list[dict[str, Any]], stream: list[dict[str, Any]]) -> dict[str, Any]:
    with stored_engine(people) as engine:
        times, fired = [], 0
        start = time.perf_counter()
        for r in stream:
            t0 = time.perf_counter_ns()
            fired += len(engine.on_purchase(r))
            times.append(time.perf_counter_ns() - t0)
        return summary(times, time.perf_counter() - start, fired)


def stored_groups(people: list[dict[str, Any]], stream: list[dict[str, Any]],
                  size: int) -> dict[str, Any]:
    with stored_engine(people) as engine:
        times, fired = [], 0
        start = time.perf_counter()
        for at in range(0, len(stream), size):
            t0 = time.perf_counter_ns()
            fired += sum(len(a) for a in engine.on_purchases(stream[at:at + size]))
            times.append(time.perf_counter_ns() - t0)
        seconds = time.perf_counter() - start
    result = summary(times, seconds, fired)
    return {**result, "events": len(stream), "groups": len(times), "group": size,
            "events_per_s": round(len(stream) / seconds)}


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return max(runs, key=lambda r: r.get("events_per_s", 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stored-events", type=int, default=2_000)
    parser.add_argument("--grouped-events", type=int, default=20_000)
    parser.add_argument("--group", type=int, default=200, help="receipts per on_purchases")
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    people = customers(args.customers, rng)
    stream = receipts(args.events, args.customers, rng)
    pack = [stateless(people, stream) for _ in range(args.repeat)]
    print(json.dumps({"path": "stateless", "policies": "pack", **best(pack)}))
    print(json.dumps({"path": "stored", **stored(people, stream[: args.stored_events])}))
    grouped = stored_groups(people, stream[: args.grouped_events], args.group)
    print(json.dumps({"path": "stored-groups", **grouped, "target_events_per_s": 10_000}))
    if importlib.util.find_spec("durable") is None:
        print(json.dumps({"path": "durable_rules",
                          "skipped": "not installed (pip install 'loyaltyrules[durable]')"}))
        return 0
    from durable_events import compare  # needs durable_rules

    found = compare(people, stream, args.repeat)
    if found is None:  # the two sides fired different actions
        return 1
    print(json.dumps({"path": "stateless", "policies": "receipt-triggered", **found["native"]}))
    print(json.dumps({"path": "durable_rules", "policies": "receipt-triggered, by hand",
                      **found["durable_rules"]}))
    ratio = found["native"]["events_per_s"] / found["durable_rules"]["events_per_s"]
    print(json.dumps({"ratio_vs_durable_rules": round(ratio, 2), "target": 3.0,
                      "identical_firings": True}))
    return 0

if __name__ == "__main__":
    sys.exit(main())
