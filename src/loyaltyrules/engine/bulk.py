"""Building many records at once without the cyclic garbage collector in the way.

A catch-up lays out hundreds of thousands of action records (dicts of dicts), all
acyclic and all kept to the end of the run. Every full collection walks every one
of them again, which measured at about 40% of a two-year catch-up. Reference
counting still frees everything as usual; only the cycle search waits until the
bulk work is done (and runs then if it was on).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block; nested blocks keep it paused."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
