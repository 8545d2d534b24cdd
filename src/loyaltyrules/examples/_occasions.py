"""The example store's calendar, complaints and host events (all fictional).

The calendar lists the holidays of 2024 to 2026 with their dates per year (Lunar New
Year and Chuseok move with the lunar calendar, so a table holds them, not a rule), a
festival of the south region only, and the first day of each season. Complaints and
e-mails come from customers who had bought by then, at shop hours, with a few on the
dates worth evaluating (SCENARIO_DATES) so the pack's complaint and e-mail policies
have work on ordinary nights. They are drawn from their own random stream, so adding
them left the customers and purchases byte for byte as they were.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator

from loyaltyrules.examples._people import Customer
from loyaltyrules.examples._purchases import LAPSE_DATE, Purchase

__all__ = [
    "CALENDAR_COLUMNS",
    "COMPLAINT_COLUMNS",
    "EVENT_COLUMNS",
    "SCENARIO_DATES",
    "calendar_rows",
    "complaint_rows",
    "event_rows",
]

CALENDAR_COLUMNS = ("date", "name", "kind", "region")
COMPLAINT_COLUMNS = (
    "complaint_id", "customer_id", "store_id", "received_at", "channel", "topic", "severity",
)  # fmt: skip
EVENT_COLUMNS = ("event_id", "kind", "customer_id", "store_id", "occurred_at", "attributes")

# name -> the holiday's date in 2024, 2025 and 2026
HOLIDAYS: dict[str, tuple[str, str, str]] = {
    "New Year's Day": ("2024-01-01", "2025-01-01", "2026-01-01"),
    "Lunar New Year": ("2024-02-10", "2025-01-29", "2026-02-17"),
    "Chuseok": ("2024-09-17", "2025-10-06", "2026-09-25"),
    "Christmas": ("2024-12-25", "2025-12-25", "2026-12-25"),
}
REGIONAL = ("Harbor Festival", "south", ("2024-08-03", "2025-08-02", "2026-08-01"))
SEASONS = (("Spring", 3), ("Summer", 6), ("Autumn", 9), ("Winter", 12))
YEARS = (2024, 2025, 2026)

# A quarter's first day (VIP invitations), Chuseok, the lapse night of the README and
# the first day of winter: each gets complaints and e-mails of its own.
SCENARIO_DATES = (dt.date(2025, 10, 1), dt.date(2025, 10, 6), LAPSE_DATE, dt.date(2025, 12, 1))
TOPICS = ("fit", "quality", "service", "delivery", "price")
CHANNELS = ("phone", "email", "in_store", "web")
SEVERITIES = ("low", "medium", "high")
SUBJECTS = ("sizes", "opening hours", "a gift wrap", "care of a wool coat", "an order")


def calendar_rows() -> list[dict[str, str]]:
    """Holidays and seasons of 2024-2026, by date."""
    rows = [
        {"date": day, "name": name, "kind": "holiday", "region": ""}
        for name, days in HOLIDAYS.items()
        for day in days
    ]
    name, region, days = REGIONAL
    rows += [{"date": day, "name": name, "kind": "holiday", "region": region} for day in days]
    rows += [
        {"date": f"{year}-{month:02d}-01", "name": season, "kind": "season", "region": ""}
        for year in YEARS
        for season, month in SEASONS
    ]
    return sorted(rows, key=lambda r: (r["date"], r["name"]))


def _occasions(
    rng: random.Random, customers: list[Customer], purchases: list[Purchase], count: int
) -> Iterator[tuple[int, dt.datetime, str, str]]:
    """`count` moments of 2025 (after January, so most customers have bought) plus two
    on each scenario date, in time order: (number, moment, customer, their home store).
    The customer is one who had a receipt before that day."""
    start = dt.date(2025, 2, 1)
    drawn = [start + dt.timedelta(days=rng.randrange(330)) for _ in range(count)]
    home = {c.customer_id: c.home_store for c in customers}
    for number, day in enumerate(sorted([*drawn, *SCENARIO_DATES, *SCENARIO_DATES]), 1):
        buyers = sorted({p.customer_id for p in purchases if p.customer_id and p.at.date() < day})
        customer_id = rng.choice(buyers)
        hour, minute, second = rng.randint(9, 21), rng.randrange(60), rng.randrange(60)
        moment = dt.datetime.combine(day, dt.time(hour, minute, second))
        yield number, moment, customer_id, home[customer_id]


def complaint_rows(
    rng: random.Random, customers: list[Customer], purchases: list[Purchase]
) -> list[dict[str, str]]:
    """About 30 complaints of 2025; one has no customer (it fires nothing)."""
    return [
        {
            "complaint_id": f"K{number:04d}",
            "customer_id": customer_id if number != 7 else "",
            "store_id": store_id,
            "received_at": at.isoformat(),
            "channel": rng.choice(CHANNELS),
            "topic": rng.choice(TOPICS),
            "severity": rng.choice(SEVERITIES),
        }
        for number, at, customer_id, store_id in _occasions(rng, customers, purchases, 22)
    ]


def event_rows(
    rng: random.Random, customers: list[Customer], purchases: list[Purchase]
) -> list[dict[str, str]]:
    """About 60 host events of 2025: mostly e-mails, some store visits and inquiries."""
    return [
        {
            "event_id": f"M{number:04d}",
            "kind": "email" if number % 5 else rng.choice(("visit", "inquiry")),
            "customer_id": customer_id,
            "store_id": store_id,
            "occurred_at": at.isoformat(),
            "attributes": json.dumps({"subject": rng.choice(SUBJECTS)}),
        }
        for number, at, customer_id, store_id in _occasions(rng, customers, purchases, 52)
    ]
