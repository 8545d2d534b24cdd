"""The pack's receipt-triggered policies written by hand for durable_rules (the yardstick).

What a POS that standardised on durable_rules would run, written the way its documentation
shows (`durable.lang`: a ruleset, `assert_fact`, Python callbacks), with the defaults of
the pack (no region or store overrides):

* big-purchase-call: a receipt of 2,000 or more;
* referral-thanks: a referred customer's first receipt (three actions: the referrer's and
  the new customer's messages, the welcome call);
* cumulative-thanks: lifetime spend, net of returns, first reaching 10,000 (a letter, or
  an sms without a postal address or mail consent), once per customer ever;
* vip-tiers: points (the floor of this calendar year's net spend) reaching a rung above
  the tier held (silver 5,000, gold 20,000, diamond 50,000; the held tier is the higher
  of this year's highest and last year's).

durable_rules keeps no per-customer state a POS could use (at most 1,024 live sessions
per ruleset), so the host keeps each customer's running values in a dict, as our
stateless path's caller keeps views, and asserts one fact per receipt with what the
rules test; the rules decide and their callbacks record each action fired as
(policy, template, customer_id, purchase_id). The fact is retracted before the next
receipt (one session, "0"). Facts rather than events (`post`): an event is consumed by
the first rule it matches, so a receipt that is both big and a first purchase would lose
one of its actions (the trap `post_batch` fell into).

Less work than the engine does per receipt: no action ids, windows, params or reasons,
no scope resolution; amounts are parsed exactly (Decimal) and passed to the engine as
numbers.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from decimal import Decimal
from typing import Any

from durable.engine import MessageNotHandledException
from durable.lang import assert_fact, get_host, m, retract_fact, ruleset, when_all

Fired = tuple[str, str, str, str]
BIG = 2000
LIFETIME = 10000
RUNGS = ((1, "silver", 5000), (2, "gold", 20000), (3, "diamond", 50000))
_PASSES = itertools.count()


class Customer:
    """The running values the host keeps for one customer."""

    __slots__ = ("consent_mail", "has_address", "last_year_max", "lifetime", "receipts",
                 "referred_by", "spend", "thanked", "year", "year_max")

    def __init__(self, row: dict[str, Any]) -> None:
        self.has_address = row.get("address") is not None
        self.consent_mail = row.get("consent_mail", True) is not False
        self.referred_by = row.get("referred_by")
        self.receipts = 0
        self.lifetime = Decimal(0)
        self.year = 0
        self.spend = Decimal(0)
        self.year_max = 0
        self.last_year_max = 0
        self.thanked = False


class HandWritten:
    """One durable_rules ruleset and the host's customer values."""

    def __init__(self, people: list[dict[str, Any]]) -> None:
        self.fired: list[Fired] = []
        self.name = f"loyaltyrules_pack_{next(_PASSES)}"  # durable_rules names are global
        self.customers = {c["customer_id"]: Customer(c) for c in people}
        self._rules()
        get_host()  # registers the ruleset (durable.lang's host, with its timer threads)

    def _rules(self) -> None:
        fired = self.fired
        with ruleset(self.name):
            @when_all(m.amount >= BIG)
            def big(c: Any) -> None:
                fired.append(("big-purchase-call", "big-purchase-call", c.m.customer,
                              c.m.purchase))

            @when_all((m.first == 1) & (+m.referrer))
            def referral(c: Any) -> None:
                customer, purchase = c.m.customer, c.m.purchase
                fired.append(("referral-thanks", "referral-thanks-referrer", c.m.referrer,
                              purchase))
                fired.append(("referral-thanks", "referral-thanks-new", customer, purchase))
                fired.append(("referral-thanks", "referral-welcome-call", customer, purchase))

            @when_all((m.lifetime >= LIFETIME) & (m.thanked == 0) & (m.letter == 1))
            def letter(c: Any) -> None:
                fired.append(("cumulative-thanks", "cumulative-thanks-letter", c.m.customer,
                              c.m.purchase))

            @when_all((m.lifetime >= LIFETIME) & (m.thanked == 0) & (m.letter == 0))
            def sms(c: Any) -> None:
                fired.append(("cumulative-thanks", "cumulative-thanks-sms", c.m.customer,
                              c.m.purchase))

            for index, _name, low in RUNGS:
                high = next((r[2] for r in RUNGS if r[0] == index + 1), None)
                test = (m.points >= low) & (m.held < index)
                if high is not None:
                    test = test & (m.points < high)

                @when_all(test)
                def upgrade(c: Any) -> None:
                    fired.append(("vip-tiers", "vip-tier-upgrade", c.m.customer,
                                  c.m.purchase))

    def on_receipt(self, receipt: dict[str, Any]) -> None:
        """One receipt: the customer's values advanced, one fact asserted and retracted."""
        who = receipt["customer_id"]
        customer = self.customers[who]
        amount = Decimal(receipt["amount"])
        year = int(receipt["purchased_at"][:4])
        held = _tier(max(customer.year_max if year == customer.year else 0,
                         _last_year(customer, year)))
        _advance(customer, amount, year)
        fact: dict[str, Any] = {
            "sid": "0", "id": receipt["purchase_id"], "purchase": receipt["purchase_id"],
            "customer": who, "amount": float(amount), "first": int(customer.receipts == 1),
            "lifetime": float(customer.lifetime), "thanked": int(customer.thanked),
            "letter": int(customer.has_address and customer.consent_mail),
            "points": max(customer.year_max, customer.last_year_max), "held": held}
        if customer.referred_by is not None:
            fact["referrer"] = customer.referred_by
        with contextlib.suppress(MessageNotHandledException):  # no rule matched
            assert_fact(self.name, fact)
            retract_fact(self.name, fact)
        if customer.lifetime >= LIFETIME:
            customer.thanked = True  # once per customer, whether or not it fired now


def _last_year(customer: Customer, year: int) -> int:
    if year == customer.year:
        return customer.last_year_max
    return customer.year_max if year == customer.year + 1 else 0


def _advance(customer: Customer, amount: Decimal, year: int) -> None:
    if year != customer.year:
        customer.last_year_max = _last_year(customer, year)
        customer.year, customer.spend, customer.year_max = year, Decimal(0), 0
    customer.receipts += 1
    customer.lifetime += amount
    customer.spend += amount
    customer.year_max = max(customer.year_max, math.floor(customer.spend))


def _tier(points: int) -> int:
    return max((index for index, _name, low in RUNGS if points >= low), default=0)

