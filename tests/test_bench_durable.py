"""The per-event yardstick (benchmarks/durable_events.py) compares like with like.

The hand-written durable_rules program must fire exactly the engine's actions on the
benchmark's stream, and the comparison must refuse to report a speed when it does not.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from _durable import need_durable

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_handwritten_durable_rules_fires_the_engines_actions() -> None:
    need_durable()
    sys.path.insert(0, str(BENCH))
    try:
        import durable_events
    finally:
        sys.path.remove(str(BENCH))
    rng = random.Random(3)
    people = durable_events.customers(800, rng)
    stream = durable_events.receipts(4000, 800, rng)
    best = durable_events.compare(people, stream, 1)
    assert best is not None
    assert best["native"]["fired"] == best["durable_rules"]["fired"] > 100


def test_different_firings_exit_1() -> None:
    """A rule changed on one side (the big-purchase threshold halved): exit status 1."""
    need_durable()
    code = ("import sys, durable_handwritten as d; d.BIG = 1000; sys.argv = ['x', "
            "'--events', '2000', '--customers', '300', '--repeat', '1']; "
            "import durable_events; sys.exit(durable_events.main())")
    done = subprocess.run([sys.executable, "-c", code], cwd=BENCH, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "fired different actions" in done.stdout
