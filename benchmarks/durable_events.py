"""Per event, like for like: the engine against durable_rules, same rules, same firings.

    python benchmarks/durable_events.py [--events N] [--customers N] [--repeat N] [--seed N]
                                        [--backend]

One seeded stream of receipts (bench_events.py's) through

* `native`: `StatelessEngine.on_purchase` over the pack's receipt-triggered policies
  (big-purchase-call, referral-thanks, cumulative-thanks, vip-tiers), the views kept by
  the caller, every action laid out in full (id, window, params, reasons);
* `durable_rules`: the same four policies written by hand for durable_rules
  (durable_handwritten.py: `durable.lang`, one fact per receipt, the customers' running
  values kept by the host), the yardstick.

Both sides must fire the same actions: the multisets of (policy, template, customer,
purchase) must be equal, or the script prints the difference and exits with status 1
before reporting any speed. Passes alternate and the fastest of `--repeat` counts, as
timeit does. `--backend` adds the engine's own durable_rules backend
(`backend="durable_rules"`: durable_rules decides the conditions, the engine does the
rest), whose action records must equal the native ones field for field.

Prints one JSON object per side (events, fired, seconds, events_per_s, p50_us, p99_us),
then {"native_over_durable_rules": ratio, "target": 3.0}. Needs the durable extra.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench_events import SAME_RULES, STORES, customers, receipts, summary
from durable_handwritten import Fired, HandWritten
from loyaltyrules.api import StatelessEngine
from loyaltyrules.event.view import CustomerView

Pass = tuple[dict[str, Any], list[Fired]]


def fired_of(action: dict[str, Any]) -> Fired:
    return (action["policy"], action["template"], action["customer_id"],
            action["reason"]["purchase_id"])


def native(engine: StatelessEngine, people: list[dict[str, Any]],
           stream: list[dict[str, Any]], records: list[dict[str, Any]] | None = None) -> Pass:
    """One pass of the engine, views kept by the caller: the summary and the firings."""
    views: dict[str, CustomerView] = {c["customer_id"]: engine.new_view(c) for c in people}
    times, fired = [], []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for r in stream:
        t0 = clock()
        view = views[r["customer_id"]]
        referred = view.record.referred_by if view.record else None
        actions, views[r["customer_id"]] = engine.on_purchase(
            r, view, views.get(referred) if referred else None)
        times.append(clock() - t0)
        fired += actions
    seconds = time.perf_counter() - start
    if records is not None:
        records += fired
    return summary(times, seconds, len(fired)), [fired_of(a) for a in fired]


def handwritten(people: list[dict[str, Any]], stream: list[dict[str, Any]]) -> Pass:
    """One pass of the hand-written durable_rules program, on fresh customer values."""
    program = HandWritten(people)
    times = []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for r in stream:
        t0 = clock()
        program.on_receipt(r)
        times.append(clock() - t0)
    seconds = time.perf_counter() - start
    return summary(times, seconds, len(program.fired)), list(program.fired)


def same_firings(ours: list[Fired], theirs: list[Fired]) -> bool:
    """Whether both sides fired the same actions; prints the difference when not."""
    mine, yours = Counter(ours), Counter(theirs)
    if mine == yours:
        return True
    print(json.dumps({"error": "the two sides fired different actions",
                      "native": len(ours), "durable_rules": len(theirs),
                      "only_native": [list(k) for k in (mine - yours)][:5],
                      "only_durable_rules": [list(k) for k in (yours - mine)][:5]}))
    return False


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return max(runs, key=lambda r: r["events_per_s"])


def compare(people: list[dict[str, Any]], stream: list[dict[str, Any]], repeat: int,
            backend: bool = False) -> dict[str, dict[str, Any]] | None:
    """The fastest pass of each side; None when the firings differ."""
    engine = StatelessEngine.load(SAME_RULES, STORES)
    native(engine, people, stream)  # warm up: every store's scope resolved
    sides: dict[str, Callable[[], Pass]] = {
        "native": lambda: native(engine, people, stream),
        "durable_rules": lambda: handwritten(people, stream)}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for _ in range(repeat):
        results = {name: side() for name, side in sides.items()}
        if not same_firings(results["native"][1], results["durable_rules"][1]):
            return None
        for name, (found, _fired) in results.items():
            runs[name].append(found)
    best = {name: fastest(found) for name, found in runs.items()}
    if backend:
        found = backend_pass(people, stream, engine)
        if found is None:
            return None
        best["durable_rules_backend"] = found
    return best


def backend_pass(people: list[dict[str, Any]], stream: list[dict[str, Any]],
                 engine: StatelessEngine) -> dict[str, Any] | None:
    """The engine's durable_rules backend: records equal to the native ones."""
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    native(engine, people, stream, ours)
    other = StatelessEngine.load(SAME_RULES, STORES, backend="durable_rules")
    found, _fired = native(other, people, stream, theirs)
    if ours != theirs:
        print(json.dumps({"error": "the durable_rules backend's records differ"}))
        return None
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", action="store_true",
                        help="also the engine's durable_rules backend (records asserted equal)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    people = customers(args.customers, rng)
    stream = receipts(args.events, args.customers, rng)
    best = compare(people, stream, args.repeat, args.backend)
    if best is None:
        return 1
    for side, found in best.items():
        print(json.dumps({"side": side, **found}))
    ratio = best["native"]["events_per_s"] / best["durable_rules"]["events_per_s"]
    print(json.dumps({"native_over_durable_rules": round(ratio, 2), "target": 3.0,
                      "identical_firings": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
