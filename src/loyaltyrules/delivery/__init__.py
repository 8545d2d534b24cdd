"""Delivery: what the ledger records reaches the host (DESIGN section 2c).

    ledger (decisions + outbox, one transaction) -> deliver (files from the ledger,
    atomically) -> outbox marked delivered

See docs/outputs.md (what the host receives and when) and docs/ledger.md (the outbox).
"""

from .deliver import Delivery, DeliveryFailed, SheetText, deliver
from .outbox import dates_of, enqueue
from .target import Target

__all__ = ["Delivery", "DeliveryFailed", "SheetText", "Target", "dates_of", "deliver",
           "enqueue"]
