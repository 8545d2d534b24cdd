"""The per-event path: customer views, the per-event evaluator, the views' store."""

from __future__ import annotations

from .errors import EventError
from .evaluator import EventEvaluator
from .rebuild import rebuild
from .view import CustomerRecord, CustomerView, Receipt, Views

__all__ = ["CustomerRecord", "CustomerView", "EventError", "EventEvaluator", "Receipt",
           "Views", "rebuild"]
