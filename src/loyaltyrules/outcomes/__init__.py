"""Outcomes reported back by hosts: import (idempotent) and the table they live in.

See docs/outcomes.md.
"""

from .read import REASONS, STATUSES, TOPICS, BadOutcomesFile, Outcome
from .state import NoLedger, connect
from .store import ImportResult, import_outcomes, write_rejects

__all__ = [
    "REASONS", "STATUSES", "TOPICS", "BadOutcomesFile", "ImportResult", "NoLedger", "Outcome",
    "connect", "import_outcomes", "write_rejects",
]  # fmt: skip
