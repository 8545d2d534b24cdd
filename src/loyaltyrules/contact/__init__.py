"""Contact rules: consent, caps, store calendars, deferral, expiry and merging of the
candidate actions, between the evaluator and the ledger (docs/contact-rules.md)."""

from .apply import STATUSES, ContactResult, FollowUps, apply_range, decision_json, rules_for
from .calendar import Closure, StoreCalendar, build_calendar
from .checkout import decide_at_checkout
from .decide import Decision, Known, Rules, Survivors, decide_day, decide_moment
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
    "FollowUps",
    "History",
    "Known",
    "Rules",
    "StoreCalendar",
    "Survivors",
    "apply_range",
    "build_calendar",
    "decide_at_checkout",
    "decide_day",
    "decide_moment",
    "decision_json",
    "in_memory",
    "ledger_state",
    "parse_contact_rules",
    "recorded",
    "rules_for",
]
