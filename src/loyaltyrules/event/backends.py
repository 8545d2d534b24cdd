"""Which per-event evaluator decides: the native one, or durable_rules (an extra)."""

from __future__ import annotations

from collections.abc import Mapping

from ..engine.windows import Zones
from ..plan import Plan
from .evaluator import EventEvaluator
from .occasions import Calendar
from .view import Views

BACKENDS = ("native", "durable_rules")


def evaluator_for(backend: str, plan: Plan, stores: Mapping[str, str | None] | None = None,
                  zones: Zones | None = None, calendar: Calendar | None = None,
                  views: Views | None = None) -> EventEvaluator:
    """The evaluator of `backend`. durable_rules refuses (DiagnosticError) a policy
    set outside its subset and raises DurableUnavailable where it is not installed."""
    if backend == "native":
        return EventEvaluator(plan, stores, zones, calendar, views)
    if backend == "durable_rules":
        from .durable.evaluator import DurableEvaluator

        return DurableEvaluator(plan, stores, zones, calendar, views)
    raise ValueError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
