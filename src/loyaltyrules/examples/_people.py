"""Stores, associates and customers of the example franchise (all fictional)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

# (store_id, region, name, timezone, locale)
STORES: tuple[tuple[str, str, str, str, str], ...] = (
    ("S1", "north", "North Plaza", "Asia/Seoul", "ko"),
    ("S2", "north", "North Station", "Asia/Seoul", "ko"),
    ("S3", "south", "South Harbor", "Asia/Seoul", "en"),
)
# The first associate of each store is its manager.
STAFF: dict[str, tuple[str, ...]] = {
    "S1": ("E1", "E2", "E3"),
    "S2": ("E4", "E5", "E6"),
    "S3": ("E7", "E8"),
}
# Fictional names of the associates, by staff id.
STAFF_NAMES: dict[str, str] = {
    "E1": "Kim Hana", "E2": "Lee Jun", "E3": "Park Sora", "E4": "Choi Minho",
    "E5": "Jung Yuna", "E6": "Kang Taeo", "E7": "Ellen Moss", "E8": "Tom Reed",
}  # fmt: skip
REGION_OF = {store_id: region for store_id, region, _, _, _ in STORES}
TOWN_OF = {"north": "Northtown", "south": "Southtown"}

CUSTOMER_COUNT = 300
LEAP_DAY_CUSTOMER = "C0029"
UNKNOWN_REFERRER = "C9999"  # deliberately not a customer
FIRST_NEW_CUSTOMER = 241  # C0241.. joined in 2025


@dataclass
class Customer:
    number: int
    home_store: str
    joined_on: dt.date
    birthday: dt.date | None
    referred_by: str = ""
    staff_id: str = ""
    has_phone: bool = True
    has_email: bool = True
    has_address: bool = True
    region_given: bool = True
    consents: tuple[str, str, str, str] = ("true", "true", "true", "true")
    tags: set[str] = field(default_factory=set)

    @property
    def customer_id(self) -> str:
        return f"C{self.number:04d}"

    @property
    def region(self) -> str:
        return REGION_OF[self.home_store]

    def row(self) -> dict[str, str]:
        n = self.number
        return {
            "customer_id": self.customer_id,
            "name": f"Customer {n:04d}",
            "phone": f"000-0000-{n:04d}" if self.has_phone else "",
            "email": f"c{n:04d}@example.invalid" if self.has_email else "",
            "address": f"{n} Example Street, {TOWN_OF[self.region]}" if self.has_address else "",
            "birthday": self.birthday.isoformat() if self.birthday else "",
            "region": self.region if self.region_given else "",
            "home_store": self.home_store,
            "joined_on": self.joined_on.isoformat(),
            "referred_by": self.referred_by,
            "staff_id": self.staff_id,
            "consent_sms": self.consents[0],
            "consent_call": self.consents[1],
            "consent_mail": self.consents[2],
            "consent_visit": self.consents[3],
            "locale": customer_locale(n),
        }


def customer_locale(number: int) -> str:
    """Every fourth customer reads Chinese, every fifth (of the others) English; the
    rest have no locale of their own and get their home store's. A function of the
    number, not of the random stream, so the rest of the data stays as it was."""
    if number % 4 == 0:
        return "zh"
    return "en" if number % 5 == 0 else ""


def random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def _consent(rng: random.Random) -> str:
    roll = rng.random()
    return "true" if roll < 0.8 else "false" if roll < 0.92 else ""


def _customer(rng: random.Random, number: int) -> Customer:
    home = rng.choices(["S1", "S2", "S3"], weights=[4, 3, 3])[0]
    new = number >= FIRST_NEW_CUSTOMER
    joined = random_date(
        rng,
        dt.date(2025, 1, 1) if new else dt.date(2016, 1, 1),
        dt.date(2025, 11, 30) if new else dt.date(2023, 12, 31),
    )
    birthday = random_date(rng, dt.date(1950, 1, 1), dt.date(2005, 12, 31))
    return Customer(
        number=number,
        home_store=home,
        joined_on=joined,
        birthday=None if rng.random() < 0.04 else birthday,
        staff_id="" if rng.random() < 0.05 else rng.choice(STAFF[home]),
        has_phone=rng.random() < 0.85,
        has_email=rng.random() < 0.6,
        has_address=rng.random() < 0.85,
        region_given=rng.random() < 0.93,
        consents=(_consent(rng), _consent(rng), _consent(rng), _consent(rng)),
    )


def _refer(rng: random.Random, customers: list[Customer]) -> None:
    """About a third of the 2025 newcomers and a few older customers were referred."""
    for customer in customers:
        chance = 0.45 if customer.number >= FIRST_NEW_CUSTOMER else 0.05
        if customer.number > 10 and rng.random() < chance:
            referrer = rng.choice(customers[: min(customer.number - 1, FIRST_NEW_CUSTOMER - 1)])
            customer.referred_by = referrer.customer_id
    unknown = customers[FIRST_NEW_CUSTOMER + 4]  # a newcomer whose referrer is unknown
    unknown.referred_by = UNKNOWN_REFERRER


def make_customers(rng: random.Random) -> list[Customer]:
    customers = [_customer(rng, n) for n in range(1, CUSTOMER_COUNT + 1)]
    _refer(rng, customers)
    leap = customers[int(LEAP_DAY_CUSTOMER[1:]) - 1]
    leap.birthday = dt.date(1996, 2, 29)
    return customers


def store_rows() -> list[dict[str, str]]:
    keys = ("store_id", "region", "name", "timezone", "locale")
    return [dict(zip(keys, store, strict=True)) for store in STORES]


def staff_rows() -> list[dict[str, str]]:
    """Each store's associates; the first of each store is its manager."""
    return [{"staff_id": staff_id, "name": STAFF_NAMES[staff_id], "store_id": store,
             "role": "store_manager" if number == 0 else "store_staff"}
            for store, ids in STAFF.items() for number, staff_id in enumerate(ids)]
