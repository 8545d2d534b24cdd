"""durable_rules doing the per-event threshold and referral rules (run in its own venv).

Reads events as JSON lines on stdin, posts each to one ruleset and prints
{"events", "fired", "seconds", "p50_us", "p99_us"} as JSON. One session id for all
events (durable_rules allows at most 1,024 live sessions per ruleset). The host
supplies `first` (the customer's first purchase), as a POS would.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time

from durable.engine import MessageNotHandledException
from durable.lang import m, post, ruleset, when_all

fired = [0]

with ruleset("pack"):

    @when_all(m.amount >= 2000)
    def big_purchase(c):  # type: ignore[no-untyped-def]
        fired[0] += 1

    @when_all((m.first == True) & (m.referred_by != "none"))  # noqa: E712
    def referral(c):  # type: ignore[no-untyped-def]
        fired[0] += 1


def send(event: dict[str, object]) -> None:
    with contextlib.suppress(MessageNotHandledException):  # raised when no rule matches
        post("pack", event)


def main() -> None:
    events = [json.loads(line) for line in sys.stdin]
    warm = max(1, len(events) // 10)
    for event in events[:warm]:
        send({**event, "sid": "0", "id": "w" + event["id"]})
    fired[0] = 0
    times = []
    start = time.perf_counter()
    for event in events:
        t0 = time.perf_counter_ns()
        send({**event, "sid": "0"})
        times.append(time.perf_counter_ns() - t0)
    seconds = time.perf_counter() - start
    times.sort()
    print(json.dumps({"events": len(events), "fired": fired[0], "seconds": seconds,
                      "p50_us": times[len(times) // 2] / 1000,
                      "p99_us": times[int(len(times) * 0.99)] / 1000}))


if __name__ == "__main__":
    main()
