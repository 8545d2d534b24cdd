"""The per-event backends side by side: native against durable_rules, same firings.

    python benchmarks/durable_events.py [--events N] [--customers N] [--repeat N] [--seed N]

One seeded stream of receipts (bench_events.py's) through `StatelessEngine.on_purchase`
on each backend, over the pack's receipt-triggered policies (big-purchase-call,
referral-thanks, cumulative-thanks, vip-tiers: the durable_rules subset). The two
backends must fire identical actions, record for record (asserted), so the
throughputs compare the same work. Passes alternate and the fastest of `--repeat` is
kept, as timeit does. Also reported: the share of the durable_rules backend's time
spent inside the C engine (sessions, facts, rule matching), the rest being the JSON
the engine takes and the second pass that lays out the actions.

Prints one JSON object per backend (events, fired, seconds, events_per_s, p50_us,
p99_us), then {"native_over_durable_rules": ratio}. Needs the durable extra.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_events import STORES, customers, receipts, summary
from loyaltyrules.api import StatelessEngine
from loyaltyrules.event.durable.session import Ruleset
from loyaltyrules.event.view import CustomerView
from loyaltyrules.resources import default_policies_dir

SUBSET = ("big-purchase-call.yaml", "referral-thanks.yaml", "cumulative-thanks.yaml",
          "vip-tiers.yaml", "templates")


def subset(folder: Path, names: Sequence[str] = SUBSET) -> Path:
    """A copy of the pack's receipt-triggered policies."""
    pack = default_policies_dir()
    for name in names:
        copy = shutil.copytree if (pack / name).is_dir() else shutil.copy
        copy(pack / name, folder / name)
    return folder


class EngineClock:
    """Time spent inside the C engine (Ruleset.fired), for the backend's breakdown."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._fired = Ruleset.fired

        def timed(ruleset: Ruleset, facts: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return self._fired(ruleset, facts)
            finally:
                self.seconds += time.perf_counter() - t0

        Ruleset.fired = timed  # type: ignore[method-assign]


def run(engine: StatelessEngine, people: list[dict[str, Any]], stream: list[dict[str, Any]]
        ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One pass: the summary and every action fired, in order."""
    views: dict[str, CustomerView] = {c["customer_id"]: engine.new_view(c) for c in people}
    times, fired = [], []
    start = time.perf_counter()
    for r in stream:
        t0 = time.perf_counter_ns()
        view = views[r["customer_id"]]
        referred = view.record.referred_by if view.record else None
        actions, views[r["customer_id"]] = engine.on_purchase(
            r, view, views.get(referred) if referred else None)
        times.append(time.perf_counter_ns() - t0)
        fired += actions
    return summary(times, time.perf_counter() - start, len(fired)), fired


def compare(people: list[dict[str, Any]], stream: list[dict[str, Any]], policies: Path,
            repeat: int) -> dict[str, dict[str, Any]]:
    """The fastest pass of each backend, after asserting they fire the same actions."""
    engines = {b: StatelessEngine.load(policies, STORES, backend=b)
               for b in ("native", "durable_rules")}
    for engine in engines.values():  # warm up: every store's scope resolved
        run(engine, people, stream[:2000])
    clock = EngineClock()
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeat):
        results = {}
        for backend, engine in engines.items():
            before = clock.seconds
            results[backend] = run(engine, people, stream)
            results[backend][0]["engine_seconds"] = round(clock.seconds - before, 3)
        native, durable = results["native"][1], results["durable_rules"][1]
        assert durable == native, "the backends fired different actions"
        for backend, (found, _fired) in results.items():
            if found["events_per_s"] > best.get(backend, {}).get("events_per_s", 0):
                best[backend] = found
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    people = customers(args.customers, rng)
    stream = receipts(args.events, args.customers, rng)
    with tempfile.TemporaryDirectory() as tmp:
        best = compare(people, stream, subset(Path(tmp)), args.repeat)
    for backend, found in best.items():
        print(json.dumps({"backend": backend, **found}))
    ratio = best["native"]["events_per_s"] / best["durable_rules"]["events_per_s"]
    print(json.dumps({"native_over_durable_rules": round(ratio, 2), "identical_firings": True}))


if __name__ == "__main__":
    main()
