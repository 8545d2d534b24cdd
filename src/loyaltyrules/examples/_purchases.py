"""The example franchise's receipts: who buys what, when, and what comes back.

Customers are split into segments so that every policy of the default pack has work:
diamond, gold and silver spenders (the tier ladder and the 10,000 crossing), lapsed
customers whose last purchase is exactly 90 days before LAPSE_DATE, a few 2024 buyers
(last year's tiers and the regional top spender, with a tie in the south), and regular
customers. Returns, a re-sent receipt and anonymous sales come on top.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from decimal import Decimal

from loyaltyrules.examples._people import FIRST_NEW_CUSTOMER, STAFF, Customer, random_date

YEAR_START = dt.date(2025, 1, 1)
YEAR_END = dt.date(2025, 12, 31)
LAPSE_DATE = dt.date(2025, 11, 20)  # lapsed-contact fires for the lapsed segment on this date
LAPSE_LAST_PURCHASE = LAPSE_DATE - dt.timedelta(days=90)
CENT = Decimal("0.01")


@dataclass
class Purchase:
    customer_id: str
    store_id: str
    staff_id: str
    at: dt.datetime
    amount: Decimal
    return_of: Purchase | None = None
    purchase_id: str = ""

    def row(self) -> dict[str, str]:
        return {
            "purchase_id": self.purchase_id,
            "customer_id": self.customer_id,
            "store_id": self.store_id,
            "staff_id": self.staff_id,
            "purchased_at": self.at.isoformat(),
            "amount": f"{self.amount:.2f}",
            "currency": "USD",
            "return_of": self.return_of.purchase_id if self.return_of else "",
        }


def money(value: float) -> Decimal:
    return Decimal(repr(round(value, 2))).quantize(CENT)


def _at(rng: random.Random, day: dt.date) -> dt.datetime:
    seconds = rng.randint(10 * 3600, 21 * 3600 - 1)  # opening hours, 10:00-20:59
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)


def _store(rng: random.Random, customer: Customer) -> str:
    return customer.home_store if rng.random() < 0.85 else rng.choice(sorted(STAFF))


def buy(rng: random.Random, customer: Customer, day: dt.date, amount: Decimal) -> Purchase:
    store = _store(rng, customer)
    staff = "" if rng.random() < 0.04 else rng.choice(STAFF[store])
    return Purchase(customer.customer_id, store, staff, _at(rng, day), amount)


def regular_amount(rng: random.Random) -> Decimal:
    if rng.random() < 0.04:
        return money(rng.uniform(2000, 3600))
    return money(min(1900.0, max(9.9, rng.lognormvariate(math.log(120), 0.8))))


def amounts_to(rng: random.Random, target: float, low: float, high: float) -> list[Decimal]:
    """Receipts between low and high until their sum reaches target."""
    amounts: list[Decimal] = []
    while sum(amounts, Decimal(0)) < Decimal(repr(target)):
        amounts.append(money(rng.uniform(low, high)))
    return amounts


def _days(rng: random.Random, count: int, start: dt.date, end: dt.date) -> list[dt.date]:
    return sorted(random_date(rng, start, end) for _ in range(count))


def spread(
    rng: random.Random, customer: Customer, amounts: list[Decimal], end: dt.date = YEAR_END
) -> list[Purchase]:
    """The amounts as receipts on random days of 2025 after the customer joined."""
    start = max(YEAR_START, customer.joined_on)
    days = _days(rng, len(amounts), start, end)
    return [buy(rng, customer, day, amount) for day, amount in zip(days, amounts, strict=True)]


def spender(rng: random.Random, customer: Customer, target: float, high: float) -> list[Purchase]:
    return spread(rng, customer, amounts_to(rng, target, high / 4, high))


def regular(rng: random.Random, customer: Customer) -> list[Purchase]:
    amounts = [regular_amount(rng) for _ in range(rng.randint(1, 8))]
    return spread(rng, customer, amounts)


def lapsed(rng: random.Random, customer: Customer) -> list[Purchase]:
    """A few receipts, the last positive one exactly 90 days before LAPSE_DATE."""
    earlier = [regular_amount(rng) for _ in range(rng.randint(1, 5))]
    end = LAPSE_LAST_PURCHASE - dt.timedelta(days=1)
    receipts = spread(rng, customer, earlier, end)
    receipts.append(buy(rng, customer, LAPSE_LAST_PURCHASE, regular_amount(rng)))
    return receipts


def last_year(rng: random.Random, customer: Customer, amounts: list[Decimal]) -> list[Purchase]:
    days = _days(rng, len(amounts), dt.date(2024, 1, 2), dt.date(2024, 12, 30))
    return [buy(rng, customer, day, amount) for day, amount in zip(days, amounts, strict=True)]


def add_returns(rng: random.Random, purchases: list[Purchase]) -> list[Purchase]:
    """About 3% of this year's receipts come back, whole or in part, within 20 days."""
    returns: list[Purchase] = []
    for original in purchases:
        if original.at.year != 2025 or original.amount <= 0 or rng.random() >= 0.03:
            continue
        day = original.at.date() + dt.timedelta(days=rng.randint(1, 20))
        if day > YEAR_END:
            continue
        share = Decimal(1) if rng.random() < 0.7 else money(rng.uniform(0.2, 0.6))
        returns.append(give_back(rng, original, day, share))
    return returns


def give_back(
    rng: random.Random, original: Purchase, day: dt.date, share: Decimal = Decimal(1)
) -> Purchase:
    amount = -(original.amount * share).quantize(CENT)
    staff = rng.choice(STAFF[original.store_id])
    at = _at(rng, day)
    return Purchase(original.customer_id, original.store_id, staff, at, amount, original)


def anonymous(rng: random.Random, count: int) -> list[Purchase]:
    """Walk-in sales without a customer: they count in reports and trigger nothing."""
    sales = []
    for _ in range(count):
        store = rng.choice(sorted(STAFF))
        day = random_date(rng, YEAR_START, YEAR_END)
        sales.append(
            Purchase("", store, rng.choice(STAFF[store]), _at(rng, day), regular_amount(rng))
        )
    return sales


def is_new(customer: Customer) -> bool:
    return customer.number >= FIRST_NEW_CUSTOMER
