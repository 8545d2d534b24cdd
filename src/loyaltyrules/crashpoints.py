"""Named points of a run where the crash tests kill the process (a test hook).

With the environment variable LOYALTYRULES_CRASH_AT set to one of `POINTS`, a run
kills itself with SIGKILL (no clean-up of any kind, as `kill -9` from outside) when
it reaches that point. tests/test_run_kill.py uses it to hit the exact moments
between the ledger commit and the last output; without the variable it does nothing.
See docs/ledger.md, Testing the crash points.
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENV", "POINTS", "reached"]

ENV = "LOYALTYRULES_CRASH_AT"
POINTS = (
    "after-commit",     # the decisions and the outbox are committed, nothing written
    "mid-delivery",     # the first file of the first day written, nothing marked
    "before-mark",      # every file written, no delivery marked
    "in-rebuild",       # deliveries marked; the new views staged, not yet swapped in
)


def reached(point: str) -> None:
    """Die here if the crash tests asked for this point."""
    if os.environ.get(ENV) == point:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
