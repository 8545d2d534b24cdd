"""The per-event evaluator: one receipt (or one customer on one day) in, actions out.

Compiled once from the same Plan as the batch engine, into closures per policy
(event/policy.py); it mirrors engine/triggers.py trigger by trigger, so a receipt fed
here gives the actions, ids included, that the nightly run gives for it:

* purchase / first_purchase: the receipt's row (first purchase: the customer's first
  receipt ever, with the referrer's facts as of that moment);
* crossing: the first receipt after which the metric reaches the threshold resolved
  at that receipt's scope, once per (customer, threshold), per year for this-year
  metrics; marks are set whether or not the conditions hold, as in the batch;
* tier ladder upgrades: the tier held after the receipt above the one held just
  before it (1 January also compares with the tier held on 31 December);
* schedules (`day`): the customer's view at that moment, not at the end of the day.

Policies that compare a customer with everyone else (rank_in_region, percentile_in,
abc_class) need the whole population on the date and are left to the nightly run
(`nightly_only`), as are, for one customer, policies reading a metric state the
stored view lacks (the metrics changed since the last nightly rebuild).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..conditions import compile_python
from ..conditions.evaluate import Evaluator
from ..engine.dates import fires_on
from ..engine.triggers import reads_rank
from ..engine.windows import Zones
from ..model import ScheduleTrigger
from ..plan import CompiledPolicy, Plan
from ..validation.metrics import metric_uses
from .facts import Ladder, PurchaseFacts, Readers, WithGroup, record_facts, state_facts
from .occasions import Calendar, HostEvent
from .policy import PolicyPlan, Trigger
from .view import CENTS3, UNKNOWN, CustomerView, Receipt, Views, marks_at

_NO_MARKS: list[str | None] = []  # shared, never mutated
PURCHASE_KINDS = ("purchase", "first_purchase", "crossing", "tier_ladder")


def threshold_text(value: Any) -> str:
    """The threshold as DuckDB casts it to text: DECIMAL(18,3) with 3 places."""
    if isinstance(value, Decimal):
        return f"{value.quantize(CENTS3):f}"
    return str(value)


def _sorted(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch's order: business date, policy, customer, id."""
    return sorted(actions, key=lambda a: (a["as_of"], a["policy"], a["customer_id"],
                                          a["action_id"]))


class Crossing:
    def __init__(self, policy: CompiledPolicy, bundle: str, views: Views,
                 zones: Zones | None = None) -> None:
        self.plan = PolicyPlan(policy, bundle, zones)
        self.metric: str = policy.spec.trigger.metric  # type: ignore[union-attr]
        self.name = self.metric.removeprefix("customer.")
        self.views = views
        self.yearly = views.fold.metrics.yearly(self.name)
        self.threshold: Evaluator = compile_python(policy.trigger_nodes["threshold"])
        self._limits: dict[tuple[str | None, str | None], tuple[Any, str]] = {}

    def limit(self, region: str | None, store: str | None) -> tuple[Any, str]:
        """The threshold at a scope and its mark's prefix (resolved once per scope)."""
        found = self._limits.get((region, store))
        if found is None:
            limit = self.threshold({}, self.plan.params.at(region, store)[0])
            found = (limit, f"{self.metric}|{threshold_text(limit)}")
            self._limits[(region, store)] = found  # a benign race between threads
        return found

    def read(self, after: CustomerView) -> Any:
        """The metric right after the view's last receipt."""
        assert after.last_purchased_at is not None
        day, fold = after.last_purchased_at.date(), self.views.fold
        states = self.views.states(after)
        if self.name in fold.slot:
            return fold.aggregate(states, self.name, day)
        facts = fold.values(states, day, fold.closures[self.name],
                            record=record_facts("customer", after.record))
        return facts[self.metric]

    def mark(self, after: CustomerView, region: str | None, store: str | None) -> str | None:
        """The crossing mark this receipt reaches, or None."""
        limit, mark = self.limit(region, store)
        value = self.read(after)
        if limit is None or value is None or not value >= limit:
            return None
        return f"{mark}:{after.year}" if self.yearly else mark


class EventEvaluator:
    """Immutable after construction; safe to share between threads."""

    def __init__(self, plan: Plan, stores: Mapping[str, str | None] | None = None,
                 zones: Zones | None = None, calendar: Calendar | None = None,
                 views: Views | None = None) -> None:
        self.plan = plan
        self.stores = dict(stores or {})
        self.zones = zones or Zones()
        self.calendar = calendar or Calendar()
        self.ladder = Ladder(plan.ladder)
        self.views = views if views is not None else Views.of(plan)
        self.readers = Readers(self.views, self.ladder)
        live = [p for p in plan.policies if not nightly_only(p)]
        self.nightly_only = tuple(p.id for p in plan.policies if nightly_only(p))

        def plans(kind: str) -> list[PolicyPlan]:
            return [self._plan(p) for p in live if p.kind == kind]

        self.purchases = plans("purchase")
        self.firsts = plans("first_purchase")
        self.crossings = [Crossing(p, plan.bundle, self.views, self.zones) for p in live
                          if p.kind == "crossing"]
        self.ladders = plans("tier_ladder")
        self.schedules = plans("schedule")
        self.hosts = {kind: plans(kind) for kind in ("complaint", "event")}
        # A first purchase with no referrer (most of them): the referrer's facts are
        # all empty whatever the day, so they are laid out once.
        self.no_referrer = state_facts("referrer", None, None, dt.date(2000, 1, 1), self.readers)

    def _plan(self, policy: CompiledPolicy) -> PolicyPlan:
        """A policy's closures, with what it needs of the views' states."""
        found = PolicyPlan(policy, self.plan.bundle, self.zones)
        names = metric_uses(_checked(policy), policy.spec.trigger.model_dump())
        fold = self.views.fold
        found.needs = frozenset(i for n in names if n in fold.needs for i in fold.needs[n])
        found.reads_tier = policy.kind == "tier_ladder" or "tier" in names
        return found

    def metric_values(self, view: CustomerView, day: dt.date | None = None) -> dict[str, Any]:
        """The plan's metrics for a customer at the end of `day` (default: the day of the
        last receipt, else today), without those whose state the view lacks."""
        if day is None:
            at = view.last_purchased_at
            day = at.date() if at is not None else dt.date.today()
        fold = self.views.fold
        states = self.views.states(view)
        unknown = fold.unknown(states)
        known = [m for m in fold.metrics.metrics.values() if not fold.needs[m.name] & unknown]
        facts = fold.values(states, day, known, record=record_facts("customer", view.record))
        return {m.name: facts[m.path] for m in known}

    def region_of(self, store: str | None, view: CustomerView) -> str | None:
        """The scope region: the store's region, else the customer's."""
        region = self.stores.get(store) if store is not None else None
        if region is None and view.record is not None:
            return view.record.region
        return region

    # -- receipts --------------------------------------------------------------------
    def advance(self, view: CustomerView, receipt: Receipt) -> CustomerView:
        """The view after the receipt, crossing marks included (no actions)."""
        return self._advance(view, receipt)[0]

    def _advance(self, view: CustomerView, receipt: Receipt
                 ) -> tuple[CustomerView, list[str | None]]:
        """The view after the receipt, and each crossing's mark reached at it."""
        after = self.views.advance(view, receipt)
        if not self.crossings:
            return after, _NO_MARKS
        region = self.region_of(receipt.store_id, after)
        unknown = self._unknown(after)
        marks = [None if unknown and c.plan.needs & unknown else
                 c.mark(after, region, receipt.store_id) for c in self.crossings]
        new = {m for m in marks if m is not None} - after.crossed
        return (after._replace(crossed=after.crossed | new) if new else after), marks

    def purchase(self, view: CustomerView, receipt: Receipt,
                 referrer: CustomerView | None = None
                 ) -> tuple[list[dict[str, Any]], CustomerView]:
        """The actions of one receipt and the view after it."""
        after, marks = self._advance(view, receipt)
        if after.record is None:
            return [], after  # the batch's contexts join the customers table
        day = receipt.purchased_at.date()
        facts = PurchaseFacts(after, receipt, self.readers, {"as_of": day})
        store = receipt.store_id
        trig = Trigger("purchase", receipt.purchase_id, store, self.region_of(store, after),
                       day, receipt.purchase_id, receipt.purchased_at)
        unknown = self._unknown(after, referrer)
        found: list[dict[str, Any]] = []
        for policy in self.purchases:
            if not (unknown and self._stale(policy, unknown)):
                found += policy.fire(facts, trig)
        if after.purchase_count == 1 and self.firsts:
            found += self._first(facts, trig, referrer, unknown)
        if self.crossings:
            found += self._crossings(view, after, marks, facts, trig)
        if self.ladders and -1 not in unknown:
            found += self._upgrades(view, after, facts, trig, unknown)
        return (_sorted(found) if len(found) > 1 else found), after

    def _unknown(self, *views: CustomerView | None) -> frozenset[int]:
        """The fold states some of these views lack (-1: the ladder's points)."""
        found: set[int] = set()
        for view in views:
            if view is not None and self.views.unknown(view):
                found |= self.views.fold.unknown(view.metrics)
                if view.ladder is UNKNOWN:
                    found.add(-1)
        return frozenset(found)

    @staticmethod
    def _stale(policy: PolicyPlan, unknown: frozenset[int]) -> bool:
        return bool(policy.needs & unknown) or (policy.reads_tier and -1 in unknown)

    def _first(self, facts: PurchaseFacts, trig: Trigger, referrer: CustomerView | None,
               unknown: frozenset[int]) -> list[dict[str, Any]]:
        with_referrer = WithGroup(facts, "referrer.", self.no_referrer.copy) if referrer is None \
            else WithGroup(facts, "referrer.", lambda: state_facts(
                "referrer", referrer, referrer.record, facts["as_of"], self.readers))
        first = trig._replace(event="first_purchase")
        return [a for p in self.firsts if not (unknown and self._stale(p, unknown))
                for a in p.fire(with_referrer, first)]

    def _crossings(self, before: CustomerView, after: CustomerView, marks: list[str | None],
                   facts: PurchaseFacts, trig: Trigger) -> list[dict[str, Any]]:
        had = marks_at(before, after.year or 0)
        found = []
        for crossing, mark in zip(self.crossings, marks, strict=True):
            if mark is not None and mark not in had:
                key = mark.split("|", 1)[1]
                found += crossing.plan.fire(facts, trig._replace(event="crossing", key=key))
        return found

    def _upgrades(self, before: CustomerView, after: CustomerView, facts: PurchaseFacts,
                  trig: Trigger, unknown: frozenset[int]) -> list[dict[str, Any]]:
        if not self.ladders or after.record is None:
            return []
        day = trig.day
        base = self.views.points(before, day.year)
        ly, l2 = base.last_year_max, base.year_before_max
        prev = 0 if before.year is None or day.year > before.year else base.year_max
        year_max = self.views.points(after, day.year).year_max
        if year_max <= prev:
            return []  # the points did not rise: no rung above the one held is reached
        region, store = after.record.region, after.record.home_store
        index = self.ladder.index
        now = index(max(year_max, ly), region, store) or 0
        held = index(max(prev, ly), region, store) or 0
        if (day.month, day.day) == (1, 1):
            held = max(held, index(max(ly, l2), region, store) or 0)
        if now <= held:
            return []
        return self._tier_change(facts, trig, "upgrade", now, held, f"{day.year}:"
                                 f"{self.ladder.name(now)}", unknown)

    def _tier_change(self, facts: PurchaseFacts | dict[str, Any], trig: Trigger, on: str,
                     now: int, held: int, key: str, unknown: frozenset[int]
                     ) -> list[dict[str, Any]]:
        record = facts["customer.region"], facts["customer.home_store"]
        tier = {"tier.name": self.ladder.name(now), "tier.previous": self.ladder.name(held),
                "tier.discount_pct": self.ladder.discount(now, *record)}
        tier_facts = (facts.extended(tier) if isinstance(facts, PurchaseFacts)
                      else {**facts, **tier})
        found = []
        for plan in self.ladders:
            if unknown and self._stale(plan, unknown):
                continue
            actions = [a for a in plan.actions if a.action.spec.on == on]
            found += plan.fire(tier_facts, trig._replace(event=on, key=key), actions)
        return found

    # -- one customer on one day ---------------------------------------------------
    def day(self, view: CustomerView, day: dt.date) -> list[dict[str, Any]]:
        """Schedules (and 1 January downgrades) for the customer as of this moment."""
        record = view.record
        if record is None:
            return []
        facts = state_facts("customer", view, record, day, self.readers)
        facts["as_of"] = day
        store = record.home_store or view.last_positive_store or view.last_receipt_store
        trig = Trigger("schedule", day.isoformat(), store, self.region_of(store, view), day)
        facts.update(NO_CALENDAR)
        unknown = self._unknown(view)
        found = []
        for plan in self.schedules:
            if not (unknown and self._stale(plan, unknown)):
                found += self._scheduled(plan, facts, trig, record.region)
        if (day.month, day.day) == (1, 1) and -1 not in unknown:
            found += self._downgrade(view, facts, trig, day, unknown)
        return _sorted(found)

    def _downgrade(self, view: CustomerView, facts: dict[str, Any], trig: Trigger,
                   day: dt.date, unknown: frozenset[int]) -> list[dict[str, Any]]:
        if not self.ladders or view.record is None:
            return []
        seen = self.views.points(view, day.year)
        this_year = seen.year_max if seen.year == day.year else 0
        ly, l2 = seen.last_year_max, seen.year_before_max
        region, store = view.record.region, view.record.home_store
        now = self.ladder.index(max(this_year, ly), region, store) or 0
        held = self.ladder.index(max(ly, l2), region, store) or 0
        if now >= held:
            return []
        return self._tier_change(facts, trig._replace(event="downgrade"), "downgrade", now,
                                 held, f"{day.year}:down", unknown)


    def _scheduled(self, plan: PolicyPlan, facts: dict[str, Any], trig: Trigger,
                   region: str | None) -> list[dict[str, Any]]:
        """One schedule on the trigger's day: its date rule, or its calendar days."""
        trigger = plan.policy.spec.trigger
        assert isinstance(trigger, ScheduleTrigger)
        day = trig.day
        if not fires_on(trigger, day):
            return []
        if trigger.every == "year":
            return plan.fire(facts, trig._replace(key=str(day.year)))
        if trigger.every != "calendar":
            return plan.fire(facts, trig)
        found = []
        for name, kind in self.calendar.occasions(trigger, day, region):
            occasion = {**facts, "calendar.name": name, "calendar.kind": kind}
            found += plan.fire(occasion, trig._replace(key=f"{day.isoformat()}:{name}"))
        return found

    # -- complaints and host events --------------------------------------------------
    def host(self, view: CustomerView, event: HostEvent) -> list[dict[str, Any]]:
        """The actions of a complaint or host event, from the customer's view now."""
        record = view.record
        plans = self.hosts[event.trigger]
        if record is None or not plans:
            return []
        if event.trigger == "event":
            kind = str(event.facts["event.kind"]).lower()
            plans = [p for p in plans if kind in _event_kinds(p)]
        unknown = self._unknown(view)
        plans = [p for p in plans if not (unknown and self._stale(p, unknown))]
        day = event.at.date()
        facts = state_facts("customer", view, record, day, self.readers)
        facts.update(event.facts)
        facts["as_of"] = day
        store = event.store_id or record.home_store or view.last_positive_store \
            or view.last_receipt_store
        trig = Trigger(event.trigger, event.row_id, store, self.region_of(store, view), day,
                       at=event.at)
        return _sorted([a for p in plans for a in p.fire(facts, trig)])


def _checked(policy: CompiledPolicy) -> list[Any]:
    found = [c for _t, c in policy.conditions] + list(policy.trigger_nodes.values())
    for action in policy.actions:
        found += [*action.nodes.values(), *(c for _n, c in action.params)]
    return found


NO_CALENDAR = {"calendar.name": None, "calendar.kind": None}


def _event_kinds(plan: PolicyPlan) -> set[str]:
    return {k.lower() for k in plan.policy.spec.trigger.kinds}  # type: ignore[union-attr]


def decided_at_close(plan: Plan) -> frozenset[str]:
    """The policies the till leaves to the night: the contact rules decide their
    actions at the day's close, after every receipt's (contact/decide.py, Rules)."""
    return frozenset(p.id for p in plan.policies if nightly_only(p))


def nightly_only(policy: CompiledPolicy) -> bool:
    """Policies the per-event path leaves to the nightly run: a rank needs the whole
    population, and so does an invitation's capacity (who has the seats)."""
    return reads_rank(policy) or any(
        a.spec.invitation is not None and a.spec.invitation.capacity is not None
        for a in policy.actions)
