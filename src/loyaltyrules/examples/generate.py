"""Generate the example store: ``python -m loyaltyrules.examples.generate OUTDIR [--seed N]``.

The output is a pure function of the seed (``random.Random(seed)``): the bundled files
in ``loyaltyrules/examples/store/`` are this module's output for DEFAULT_SEED, and
regenerating them gives byte-identical files.

Scenarios in the data (default seed), by policy of the default pack:

* big-purchase-call: receipts of 2,000 or more across all segments; one has no
  serving associate (store-manager fallback); one is re-sent (the same purchase_id
  twice in purchases.csv) and must count once.
* referral-thanks: most 2025 newcomers (C0241..C0300) were referred by an existing
  customer; C0245 names the unknown referrer C9999.
* cumulative-thanks: the diamond and gold spenders, and some silver ones, cross 10,000.
* vip-tiers: 3 customers reach diamond (50,000 points in 2025), 8 gold, 25 silver;
  a north customer held gold in 2024 and spends little in 2025.
* top-spender-flowers (2025-01-01): the 2024 top spender of the north is that gold
  customer; in the south two customers tie with exactly 9,800.00.
* birthday-greeting: C0029 was born on 29 February (greeted on 28 Feb 2025); two
  customers, one of them silver, have their birthday on LAPSE_DATE.
* lapsed-contact: 6 customers bought last on LAPSE_DATE - 90 days (2025-08-22); one
  of them returned something afterwards, which does not reset the clock.
* holiday-greeting, season-greeting: calendar.csv holds the holidays of 2024-2026
  with each year's date (Lunar New Year, Chuseok, Christmas, ...; a festival of the
  south only) and the first day of each season.
* complaint-reply, email-reply: complaints.csv and events.csv (mostly e-mails) over
  2025, two of each on each of SCENARIO_DATES (2025-10-01, Chuseok, LAPSE_DATE,
  2025-12-01); one complaint has no customer.
* vip-gathering (each quarter's first day) and mothers-day-gift (2025-05-11): the
  silver, gold and diamond card holders above.

Messages: every fourth customer has locale zh, every fifth of the others en, the rest
none (their home store's: ko at S1 and S2, en at S3); staff.csv names the eight
associates, the first of each store its manager.

About 3% of receipts are returned (negative amount, ``return_of`` set); 20 sales are
anonymous; some customers never bought anything.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from loyaltyrules.examples import _occasions as occasions
from loyaltyrules.examples import _purchases as buy
from loyaltyrules.examples._people import (
    LEAP_DAY_CUSTOMER,
    Customer,
    make_customers,
    staff_rows,
    store_rows,
)
from loyaltyrules.examples._purchases import LAPSE_DATE, LAPSE_LAST_PURCHASE, Purchase

__all__ = ["DEFAULT_SEED", "LAPSE_DATE", "LAPSE_LAST_PURCHASE", "generate", "main"]

DEFAULT_SEED = 2025
CUSTOMER_COLUMNS = (
    "customer_id", "name", "phone", "email", "address", "birthday", "region", "home_store",
    "joined_on", "referred_by", "staff_id", "consent_sms", "consent_call", "consent_mail",
    "consent_visit", "locale",
)  # fmt: skip
PURCHASE_COLUMNS = (
    "purchase_id", "customer_id", "store_id", "staff_id", "purchased_at", "amount",
    "currency", "return_of",
)  # fmt: skip
STORE_COLUMNS = ("store_id", "region", "name", "timezone", "locale")
STAFF_COLUMNS = ("staff_id", "name", "store_id", "role")
COLUMNS = {
    "customers": CUSTOMER_COLUMNS,
    "purchases": PURCHASE_COLUMNS,
    "stores": STORE_COLUMNS,
    "staff": STAFF_COLUMNS,
    "calendar": occasions.CALENDAR_COLUMNS,
    "complaints": occasions.COMPLAINT_COLUMNS,
    "events": occasions.EVENT_COLUMNS,
}
SEGMENT_SIZES = {"diamond": 3, "gold": 8, "silver": 25, "lapsed": 6, "never": 10}


def _segments(rng: random.Random, customers: list[Customer]) -> dict[str, list[Customer]]:
    """Existing customers by segment; everyone not named is a regular buyer."""
    leap = next(c for c in customers if c.customer_id == LEAP_DAY_CUSTOMER)
    pool = [c for c in customers if not buy.is_new(c) and c is not leap]
    rng.shuffle(pool)
    segments: dict[str, list[Customer]] = {}
    for name, size in SEGMENT_SIZES.items():
        segments[name], pool = pool[:size], pool[size:]
    segments["silver"].append(leap)
    segments["gold_2024"] = [next(c for c in pool if c.region == "north")]
    segments["tie_2024"] = [c for c in pool if c.region == "south"][:2]
    taken = {id(c) for group in segments.values() for c in group}
    segments["small_2024"] = [c for c in pool if id(c) not in taken][:10]
    return segments


def _this_year(rng: random.Random, customer: Customer, segment: str) -> list[Purchase]:
    if segment == "diamond":
        return buy.spender(rng, customer, rng.uniform(52_000, 68_000), 4_500)
    if segment == "gold":
        return buy.spender(rng, customer, rng.uniform(21_000, 42_000), 3_200)
    if segment == "silver":
        return buy.spender(rng, customer, rng.uniform(5_200, 16_000), 1_400)
    if segment == "lapsed":
        return buy.lapsed(rng, customer)
    if segment == "never" or (buy.is_new(customer) and rng.random() < 0.1):
        return []
    return buy.regular(rng, customer)


def _last_year(rng: random.Random, segments: dict[str, list[Customer]]) -> list[Purchase]:
    receipts = buy.last_year(
        rng, segments["gold_2024"][0], buy.amounts_to(rng, 21_000, 1_500, 4_000)
    )
    for customer in segments["tie_2024"]:
        receipts += buy.last_year(rng, customer, [Decimal("4200.00"), Decimal("5600.00")])
    for customer in segments["small_2024"]:
        amounts = [buy.money(rng.uniform(40, 1_500)) for _ in range(rng.randint(1, 3))]
        receipts += buy.last_year(rng, customer, amounts)
    return receipts


def _scenario_tweaks(segments: dict[str, list[Customer]], purchases: list[Purchase]) -> None:
    for customer in (segments["silver"][0], segments["never"][0]):
        customer.birthday = dt.date(1980 + customer.number % 20, LAPSE_DATE.month, LAPSE_DATE.day)
    big = [p for p in purchases if p.amount >= 2000 and p.at.year == 2025]
    big[1].staff_id = ""  # the store manager takes the call


def _lapsed_return(rng: random.Random, lapsed: Customer, purchases: list[Purchase]) -> Purchase:
    last = next(
        p
        for p in purchases
        if p.customer_id == lapsed.customer_id and p.at.date() == LAPSE_LAST_PURCHASE
    )
    return buy.give_back(rng, last, LAPSE_LAST_PURCHASE + dt.timedelta(days=10), Decimal("0.5"))


def generate(seed: int = DEFAULT_SEED) -> dict[str, list[dict[str, str]]]:
    """The example store's tables as rows of strings, in file order."""
    rng = random.Random(seed)
    customers = make_customers(rng)
    segments = _segments(rng, customers)
    segment_of = {id(c): name for name, group in segments.items() for c in group}
    purchases = _last_year(rng, segments)
    for customer in customers:
        purchases += _this_year(rng, customer, segment_of.get(id(customer), "regular"))
    purchases += buy.add_returns(rng, purchases)
    purchases.append(_lapsed_return(rng, segments["lapsed"][0], purchases))
    purchases += buy.anonymous(rng, 20)
    purchases.sort(key=lambda p: (p.at, p.customer_id, p.amount))
    for number, purchase in enumerate(purchases, start=1):
        purchase.purchase_id = f"P{number:05d}"
    _scenario_tweaks(segments, purchases)
    rows = [p.row() for p in purchases]
    resent = next(
        i for i, p in enumerate(purchases) if p.amount >= 2000 and p.at >= dt.datetime(2025, 7, 1)
    )
    rows.insert(resent + 6, dict(rows[resent]))  # the POS sent this receipt twice
    later = random.Random(seed + 1)  # a stream of its own: the tables above stay as they were
    return {
        "customers": [c.row() for c in customers],
        "purchases": rows,
        "stores": store_rows(),
        "staff": staff_rows(),
        "calendar": occasions.calendar_rows(),
        "complaints": occasions.complaint_rows(later, customers, purchases),
        "events": occasions.event_rows(later, customers, purchases),
    }


def _write(path: Path, columns: Sequence[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_store(outdir: Path, seed: int = DEFAULT_SEED) -> dict[str, int]:
    """Write one CSV file per table (customers, purchases, stores, staff, calendar,
    complaints, events); return the row counts."""
    tables = generate(seed)
    outdir.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        _write(outdir / f"{name}.csv", COLUMNS[name], rows)
    return {name: len(rows) for name, rows in tables.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loyaltyrules.examples.generate",
        description="Generate the fictional example store as CSV files.",
    )
    parser.add_argument("outdir", type=Path, help="folder to write the CSV files into")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    args = parser.parse_args(argv)
    counts = write_store(args.outdir, args.seed)
    summary = ", ".join(f"{count} {name}" for name, count in counts.items())
    print(f"wrote {summary} to {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
