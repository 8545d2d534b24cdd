"""Contact rules: consent, caps, store calendars, deferral, expiry and merging of the
candidate actions, between the evaluator and the ledger (docs/contact-rules.md)."""

from .apply import STATUSES, ContactResult, apply_range, rules_for
from .calendar import Closure, StoreCalendar, build_calendar
from .decide import Decision, Rules, decide_day
from .history import History
from .model import DEFAULT_RULES, ContactRules, parse_contact_rules
from .stage import in_memory, recorded
from .store import ledger_state

__all__ = [
    "DEFAULT_RULES",
    "STATUSES",
    "Closure",
    "ContactResult",
    "ContactRules",
    "Decision",
    "History",
    "Rules",
    "StoreCalendar",
    "apply_range",
    "build_calendar",
    "decide_day",
    "in_memory",
    "ledger_state",
    "parse_contact_rules",
    "recorded",
    "rules_for",
]
