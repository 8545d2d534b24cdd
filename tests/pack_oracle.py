"""An independent model of the default pack (DESIGN section 2), in plain Python.

Written from the playbook's words, not from the engine: the property tests compare
the engine with it on generated histories. It knows only the pack's default figures.
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


@dataclass(frozen=True)
class Receipt:
    purchase_id: str
    customer_id: str | None
    at: dt.datetime
    amount: Decimal

    @property
    def day(self) -> dt.date:
        return self.at.date()


Fired = tuple[str, str, dt.date, str]  # policy, customer, as_of, action type


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
    def __init__(self, customers: list[Customer], receipts: list[Receipt]) -> None:
        self.customers = {c.customer_id: c for c in customers}
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
        day = start
        while day <= end:
            yield from self._schedules(day)
            day += dt.timedelta(days=1)

    def _purchases(self, start: dt.date, end: dt.date) -> Iterator[Fired]:
        for r in self.receipts:
            if not start <= r.day <= end or r.customer_id is None:
                continue
            if r.amount >= 2000:
                yield ("big-purchase-call", r.customer_id, r.day, "call")
            customer = self.customers[r.customer_id]
            first = self.by_customer[r.customer_id][0] is r
            if first and customer.referred_by in self.customers:
                assert customer.referred_by is not None
                yield ("referral-thanks", customer.referred_by, r.day, "sms")
                yield ("referral-thanks", r.customer_id, r.day, "sms")
                yield ("referral-thanks", r.customer_id, r.day, "call")

    def _crossings(self, start: dt.date, end: dt.date) -> Iterator[Fired]:
        for customer_id, receipts in self.by_customer.items():
            running = Decimal(0)
            for r in receipts:
                running += r.amount
                if running >= 10000:
                    if start <= r.day <= end:
                        c = self.customers[customer_id]
                        kind = "letter" if c.has_address and c.consent_mail else "sms"
                        yield ("cumulative-thanks", customer_id, r.day, kind)
                    break

    def _upgrades(self, start: dt.date, end: dt.date) -> Iterator[Fired]:
        for customer_id, receipts in self.by_customer.items():
            for r in receipts:
                if not start <= r.day <= end:
                    continue
                after = self.held_after(customer_id, r)
                before = self.held_before(customer_id, r)
                if after > before:
                    yield ("vip-tiers", customer_id, r.day, "tier_change")

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
                yield ("birthday-greeting", customer_id, day, "sms")
                if self.held_tier(customer_id, day) >= 1:
                    yield ("birthday-greeting", customer_id, day, "discount")
            positives = [
                r.day for r in self.by_customer[customer_id] if r.amount > 0 and r.day <= day
            ]
            if positives and (day - max(positives)).days == 90:
                yield ("lapsed-contact", customer_id, day, "sms")
            new_year = (day.month, day.day) == (1, 1)
            if new_year and self.held_tier(customer_id, day) < self.held_tier(
                customer_id, day - dt.timedelta(days=1)
            ):
                yield ("vip-tiers", customer_id, day, "tier_change")
        if (day.month, day.day) == (1, 1):
            yield from self._top_spenders(day)

    def _top_spenders(self, day: dt.date) -> Iterator[Fired]:
        spend: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for customer_id, c in self.customers.items():
            spend[c.region][customer_id] = self.year_spend(customer_id, day.year - 1)
        for by_customer in spend.values():
            best = max(by_customer.values(), default=Decimal(0))
            for customer_id, value in by_customer.items():
                if value == best and value > 0:
                    yield ("top-spender-flowers", customer_id, day, "visit")
