"""An independent model of the default pack (DESIGN section 2 and docs/pack.md), in
plain Python.

Written from the playbook's words and the docs' semantics (calendar days, complaints,
host events, hour windows, invitations with seats), not from the engine: the property
tests compare the engine with it on generated histories. It knows only the pack's
default figures.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

TIERS = [("points", 0), ("silver", 5000), ("gold", 20000), ("diamond", 50000)]


@dataclass(frozen=True)
class Customer:
    customer_id: str
    region: str
    birthday: dt.date | None = None
    referred_by: str | None = None
    has_address: bool = True
    consent_mail: bool = True
    home_store: str | None = None


@dataclass(frozen=True)
class Receipt:
    purchase_id: str
    customer_id: str | None
    at: dt.datetime
    amount: Decimal
    store_id: str = "S1"

    @property
    def day(self) -> dt.date:
        return self.at.date()


@dataclass(frozen=True)
class CalendarDay:
    day: dt.date
    name: str
    kind: str
    region: str | None = None


@dataclass(frozen=True)
class Complaint:
    complaint_id: str
    customer_id: str | None
    at: dt.datetime


@dataclass(frozen=True)
class HostEvent:
    event_id: str
    kind: str
    customer_id: str | None
    at: dt.datetime


# policy, customer, as_of, action type, not_before, due_by
Fired = tuple[str, str, dt.date, str, dt.date, dt.date]
VIPS = 1  # silver and above hold a VIP card
SEATS = 12  # vip-gathering's seats per store


def fired(
    policy: str, customer: str, day: dt.date, kind: str, start: int = 0, due: int = 0
) -> Fired:
    """An action of `day`, its window in days after it."""
    return (policy, customer, day, kind, _plus(day, start), _plus(day, due))


def _plus(day: dt.date, days: int) -> dt.date:
    return day + dt.timedelta(days=days)


def tier_index(points: int) -> int:
    return max(i for i, (_name, low) in enumerate(TIERS) if points >= low or i == 0)


def _is_birthday(birthday: dt.date, day: dt.date) -> bool:
    if (birthday.month, birthday.day) == (day.month, day.day):
        return True
    leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
    return (
        (birthday.month, birthday.day) == (2, 29) and (day.month, day.day) == (2, 28) and not leap
    )


class History:
    def __init__(
        self,
        customers: list[Customer],
        receipts: list[Receipt],
        calendar: list[CalendarDay] | None = None,
        complaints: list[Complaint] | None = None,
        events: list[HostEvent] | None = None,
    ) -> None:
        self.customers = {c.customer_id: c for c in customers}
        self.calendar = calendar or []
        self.complaints = complaints or []
        self.events = events or []
        unique = {r.purchase_id: r for r in receipts}
        self.receipts = sorted(
            (r for r in unique.values() if r.customer_id in self.customers),
            key=lambda r: (r.at, r.purchase_id),
        )
        self.by_customer: dict[str, list[Receipt]] = defaultdict(list)
        for receipt in self.receipts:
            assert receipt.customer_id is not None
            self.by_customer[receipt.customer_id].append(receipt)

    def year_spend(self, customer: str, year: int, upto: dt.date | None = None) -> Decimal:
        return sum(
            (
                r.amount
                for r in self.by_customer[customer]
                if r.day.year == year and (upto is None or r.day <= upto)
            ),
            Decimal(0),
        )

    def year_max_points(
        self,
        customer: str,
        year: int,
        upto: dt.date | None = None,
        through_receipt: Receipt | None = None,
    ) -> int:
        """The highest floor(running spend) of the year, after each receipt so far."""
        best, running = 0, Decimal(0)
        for r in self.by_customer[customer]:
            if r.day.year != year or (upto is not None and r.day > upto):
                continue
            running += r.amount
            best = max(best, math.floor(running))
            if r is through_receipt:
                break
        return best

    def held_tier(self, customer: str, day: dt.date) -> int:
        this_year = self.year_max_points(customer, day.year, upto=day)
        last_year = self.year_max_points(customer, day.year - 1)
        return max(tier_index(this_year), tier_index(last_year))

    def fired(self, start: dt.date, end: dt.date) -> Iterator[Fired]:
        yield from self._purchases(start, end)
        yield from self._crossings(start, end)
        yield from self._upgrades(start, end)
        yield from self._complaints_and_emails(start, end)
        day = start
        while day <= end:
            yield from self._schedules(day)
            day += dt.timedelta(days=1)

    def _purchases(self, start: dt.date, end: dt.date) -> Iterator[Fired]:
        for r in self.receipts:
            if not start <= r.day <= end or r.customer_id is None:
                continue
            if r.amount >= 2000:  # a week after the purchase: from D+7, due by D+10
                yield fired("big-purchase-call", r.customer_id, r.day, "call", 7, 10)
            if r.amount >= 2000 and self.abc_class(r.customer_id, r.day) == "A":
                c = self.customers[r.customer_id]
                card = "letter" if c.has_address and c.consent_mail else "sms"
                yield fired("a-class-thanks-card", r.customer_id, r.day, card, 0, 7)
            customer = self.customers[r.customer_id]
            first = self.by_customer[r.customer_id][0] is r
            if first and customer.referred_by in self.customers:
                assert customer.referred_by is not None
                yield fired("referral-thanks", customer.referred_by, r.day, "sms")
                yield fired("referral-thanks", r.customer_id, r.day, "sms")
                yield fired("referral-thanks", r.customer_id, r.day, "call", 0, 7)

    def _crossings(self, start: dt.date, end: dt.date) -> Iterator[Fired]:
        for customer_id, receipts in self.by_customer.items():
            running = Decimal(0)
            for r in receipts:
                running += r.amount
                if running >= 10000:
                    if start <= r.day <= end:
                        c = self.customers[customer_id]
                        kind = "letter" if c.has_address and c.consent_mail else "sms"
                        yield fired("cumulative-thanks", customer_id, r.day, kind, 0, 7)
                    break

    def _upgrades(self, start: dt.date, end: dt.date) -> Iterator[Fired]:
        for customer_id, receipts in self.by_customer.items():
            for r in receipts:
                if not start <= r.day <= end:
                    continue
                after = self.held_after(customer_id, r)
                before = self.held_before(customer_id, r)
                if after > before:
                    yield fired("vip-tiers", customer_id, r.day, "tier_change")

    def held_after(self, customer: str, receipt: Receipt) -> int:
        year = receipt.day.year
        points = self.year_max_points(customer, year, through_receipt=receipt)
        return max(tier_index(points), tier_index(self.year_max_points(customer, year - 1)))

    def held_before(self, customer: str, receipt: Receipt) -> int:
        """The tier held just before the receipt: after the previous receipt the same
        day, else at the end of the previous day."""
        earlier = [
            r
            for r in self.by_customer[customer]
            if r.day == receipt.day and (r.at, r.purchase_id) < (receipt.at, receipt.purchase_id)
        ]
        if earlier:
            return self.held_after(customer, earlier[-1])
        return self.held_tier(customer, receipt.day - dt.timedelta(days=1))

    def _schedules(self, day: dt.date) -> Iterator[Fired]:
        for customer_id, c in self.customers.items():
            if c.birthday is not None and _is_birthday(c.birthday, day):
                yield fired("birthday-greeting", customer_id, day, "sms")
                if self.held_tier(customer_id, day) >= VIPS:
                    yield fired("birthday-greeting", customer_id, day, "discount")
            positives = [
                r.day for r in self.by_customer[customer_id] if r.amount > 0 and r.day <= day
            ]
            if positives and (day - max(positives)).days == 90:
                yield fired("lapsed-contact", customer_id, day, "sms")
            new_year = (day.month, day.day) == (1, 1)
            if new_year and self.held_tier(customer_id, day) < self.held_tier(
                customer_id, day - dt.timedelta(days=1)
            ):
                yield fired("vip-tiers", customer_id, day, "tier_change")
        if (day.month, day.day) == (1, 1):
            yield from self._top_spenders(day)
        yield from self._calendar_days(day)
        if day.day == 1 and day.month in (1, 4, 7, 10):
            yield from self._gatherings(day)
        yield from self._a_class_calls(day)
        if day.month == 5 and day.weekday() == 6 and 8 <= day.day <= 14:  # 2nd Sunday
            for customer_id in self.customers:
                if self.held_tier(customer_id, day) >= VIPS:
                    yield fired("mothers-day-gift", customer_id, day, "gift")

    def _top_spenders(self, day: dt.date) -> Iterator[Fired]:
        spend: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for customer_id, c in self.customers.items():
            spend[c.region][customer_id] = self.year_spend(customer_id, day.year - 1)
        for by_customer in spend.values():
            best = max(by_customer.values(), default=Decimal(0))
            for customer_id, value in by_customer.items():
                if value == best and value > 0:
                    yield fired("top-spender-flowers", customer_id, day, "visit", 0, 30)

    # -- docs/pack.md: holidays and seasons, complaints, e-mails, gatherings ---------
    def _bought_by(self, customer: str, day: dt.date) -> bool:
        return any(r.day <= day for r in self.by_customer[customer])

    def _calendar_days(self, day: dt.date) -> Iterator[Fired]:
        """One greeting per customer who has bought and per name of the day's holidays
        (seasons) held everywhere or in the customer's region; case does not count."""
        for policy, kind in (("holiday-greeting", "holiday"), ("season-greeting", "season")):
            rows = [c for c in self.calendar if c.day == day and c.kind.lower() == kind]
            for customer_id, c in self.customers.items():
                names = {r.name.lower() for r in rows if r.region in (None, "", c.region)}
                if self._bought_by(customer_id, day):
                    for _name in names:
                        yield fired(policy, customer_id, day, "sms")

    def _complaints_and_emails(self, start: dt.date, end: dt.date) -> Iterator[Fired]:
        """A reply task within 24 hours of each complaint of a known customer; an
        e-mail answered the same day."""
        for k in {k.complaint_id: k for k in self.complaints}.values():
            if k.customer_id in self.customers and start <= k.at.date() <= end:
                due = (k.at + dt.timedelta(hours=24)).date()
                yield ("complaint-reply", k.customer_id, k.at.date(), "task", k.at.date(), due)
        for e in {e.event_id: e for e in self.events}.values():
            known = e.customer_id in self.customers and e.kind.lower() == "email"
            if known and start <= e.at.date() <= end:
                assert e.customer_id is not None
                yield fired("email-reply", e.customer_id, e.at.date(), "email")

    def _gatherings(self, day: dt.date) -> Iterator[Fired]:
        """The VIPs of each store (home store, else the store of the last receipt
        above zero), the highest lifetime spend first (ties: the smaller id), as
        many as the seats."""
        by_store: dict[str, list[tuple[Decimal, str]]] = defaultdict(list)
        for customer_id in self.customers:
            positives = [r for r in self.by_customer[customer_id] if r.amount > 0 and r.day <= day]
            if self.held_tier(customer_id, day) >= VIPS and positives:
                spend = sum((r.amount for r in self.by_customer[customer_id] if r.day <= day),
                            Decimal(0))
                store = self.customers[customer_id].home_store or positives[-1].store_id
                by_store[store].append((-spend, customer_id))
        for guests in by_store.values():
            for _spend, customer_id in sorted(guests)[:SEATS]:
                yield fired("vip-gathering", customer_id, day, "invitation", 0, 14)

    # -- DESIGN 2b: ABC classes by 12-month spend within the home store ----------------
    def spend_365d(self, customer: str, day: dt.date) -> Decimal:
        """Receipts dated in (D-365, D]."""
        since = day - dt.timedelta(days=365)
        return sum((r.amount for r in self.by_customer[customer] if since < r.day <= day),
                   Decimal(0))

    def abc_class(self, customer: str, day: dt.date) -> str | None:
        """A: the customers above make less than 80% of the store's positive spend; B:
        less than 95%; else C (and C for no spend). None without a home store."""
        store = self.customers[customer].home_store
        if store is None:
            return None
        spends = [self.spend_365d(c, day) for c, k in self.customers.items()
                  if k.home_store == store]
        mine = self.spend_365d(customer, day)
        total = sum((s for s in spends if s > 0), Decimal(0))
        above = sum((s for s in spends if s > mine), Decimal(0))
        if mine <= 0:
            return "C"
        return "A" if above < total * Decimal("0.8") else "B" if above < total * Decimal(
            "0.95") else "C"

    def _a_class_calls(self, day: dt.date) -> Iterator[Fired]:
        """A monthly relationship call on the 1st (due in 14 days); a pre-season call
        on 20 February and 20 August (due in 7)."""
        preseason = (day.month, day.day) in ((2, 20), (8, 20))
        if day.day != 1 and not preseason:
            return
        for customer_id in self.customers:
            if self.abc_class(customer_id, day) != "A":
                continue
            if day.day == 1:
                yield fired("a-class-monthly-call", customer_id, day, "call", 0, 14)
            if preseason:
                yield fired("a-class-preseason-call", customer_id, day, "call", 0, 7)
