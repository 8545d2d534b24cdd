"""The bundled example store: reproducible, fictional, and covering every scenario."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from loyaltyrules.examples import example_data_dir
from loyaltyrules.examples._occasions import SCENARIO_DATES
from loyaltyrules.examples.generate import (
    COLUMNS,
    CUSTOMER_COLUMNS,
    LAPSE_DATE,
    PURCHASE_COLUMNS,
    STAFF_COLUMNS,
    STORE_COLUMNS,
    write_store,
)

FILES = tuple(f"{table}.csv" for table in COLUMNS)


def read(name: str) -> list[dict[str, str]]:
    with (example_data_dir() / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def customers() -> list[dict[str, str]]:
    return read("customers.csv")


@pytest.fixture(scope="module")
def purchases() -> list[dict[str, str]]:
    return read("purchases.csv")


def test_regenerating_gives_byte_identical_files(tmp_path: Path) -> None:
    write_store(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (example_data_dir() / name).read_bytes(), name


def test_the_module_command_writes_the_same_files(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "loyaltyrules.examples.generate", str(tmp_path), "--seed"]
    subprocess.run([*command, "2025"], check=True, capture_output=True)
    assert (tmp_path / "purchases.csv").read_bytes() == (
        example_data_dir() / "purchases.csv"
    ).read_bytes()
    subprocess.run([*command, "7"], check=True, capture_output=True)
    assert (tmp_path / "purchases.csv").read_bytes() != (
        example_data_dir() / "purchases.csv"
    ).read_bytes()


def test_files_are_small_with_canonical_headers() -> None:
    total = sum((example_data_dir() / name).stat().st_size for name in FILES)
    assert total < 1_000_000
    headers = {name: read(name)[0].keys() for name in FILES}
    assert list(headers["customers.csv"]) == list(CUSTOMER_COLUMNS)
    assert list(headers["purchases.csv"]) == list(PURCHASE_COLUMNS)
    assert list(headers["stores.csv"]) == list(STORE_COLUMNS)
    assert list(headers["staff.csv"]) == list(STAFF_COLUMNS)
    for table, columns in COLUMNS.items():
        assert list(headers[f"{table}.csv"]) == list(columns), table


def test_stores_staff_and_regions() -> None:
    stores = read("stores.csv")
    assert [s["store_id"] for s in stores] == ["S1", "S2", "S3"]
    assert {s["region"] for s in stores} == {"north", "south"}
    assert all(s["name"] and s["locale"] for s in stores)
    staff = read("staff.csv")
    assert [s["staff_id"] for s in staff] == [f"E{n}" for n in range(1, 9)]
    managers = [s["staff_id"] for s in staff if s["role"] == "store_manager"]
    assert managers == ["E1", "E4", "E7"]  # the first associate of each store


def test_customers_read_three_languages(customers: list[dict[str, str]]) -> None:
    stores = {s["store_id"]: s["locale"] for s in read("stores.csv")}
    chosen = Counter(c["locale"] or stores[c["home_store"]] for c in customers)
    assert set(chosen) == {"en", "ko", "zh"} and min(chosen.values()) >= 30


def test_customers_are_fictional_and_unique(customers: list[dict[str, str]]) -> None:
    ids = [c["customer_id"] for c in customers]
    assert len(ids) == len(set(ids)) == 300
    for c in customers:
        assert c["name"] == f"Customer {c['customer_id'][1:]}"
        assert c["email"] in ("", f"{c['customer_id'].lower()}@example.invalid")
        assert c["phone"] in ("", f"000-0000-{c['customer_id'][1:]}")
    staff = {c["staff_id"] for c in customers} - {""}
    assert len(staff) == 8


def test_referrers_exist_except_the_deliberate_unknown(customers: list[dict[str, str]]) -> None:
    ids = {c["customer_id"] for c in customers}
    referrers = [c["referred_by"] for c in customers if c["referred_by"]]
    assert len(referrers) >= 20
    assert [r for r in referrers if r not in ids] == ["C9999"]


def test_customer_edge_cases(customers: list[dict[str, str]]) -> None:
    birthdays = [c["birthday"] for c in customers]
    assert sum(b.endswith("-02-29") for b in birthdays) == 1
    assert sum(b.endswith(LAPSE_DATE.strftime("-%m-%d")) for b in birthdays) >= 2
    assert any(not c["address"] for c in customers)
    assert any(not c["region"] for c in customers)
    for column in ("consent_sms", "consent_mail"):
        assert {c[column] for c in customers} == {"true", "false", ""}


def test_purchase_ids_unique_except_the_resent_receipt(purchases: list[dict[str, str]]) -> None:
    counts = Counter(p["purchase_id"] for p in purchases)
    resent = [pid for pid, n in counts.items() if n > 1]
    assert len(resent) == 1
    copies = [p for p in purchases if p["purchase_id"] == resent[0]]
    assert copies[0] == copies[1]


def test_purchases_cover_the_scenarios(
    purchases: list[dict[str, str]], customers: list[dict[str, str]]
) -> None:
    unique = list({p["purchase_id"]: p for p in purchases}.values())
    amounts = [Decimal(p["amount"]) for p in unique]
    assert all(a == a.quantize(Decimal("0.01")) for a in amounts)
    assert sum(a >= 2000 for a in amounts) >= 20
    returns = [p for p in unique if Decimal(p["amount"]) < 0]
    ids = {p["purchase_id"] for p in unique}
    assert returns and all(p["return_of"] in ids for p in returns)
    dates = [p["purchased_at"][:10] for p in unique]
    assert min(dates) >= "2024-01-01" and max(dates) <= "2025-12-31"
    assert 10 <= sum(d < "2025-01-01" for d in dates) <= 60
    known = {c["customer_id"] for c in customers}
    assert all(p["customer_id"] in known for p in unique if p["customer_id"])
    assert any(not p["customer_id"] for p in unique)


def running_peaks(purchases: list[dict[str, str]], year: str) -> dict[str, Decimal]:
    """The highest running spend per customer within a year, in event order."""
    unique = {p["purchase_id"]: p for p in purchases if p["customer_id"]}.values()
    ordered = sorted(unique, key=lambda p: (p["purchased_at"], p["purchase_id"]))
    running: dict[str, Decimal] = defaultdict(Decimal)
    peak: dict[str, Decimal] = defaultdict(Decimal)
    for p in ordered:
        if p["purchased_at"].startswith(year):
            running[p["customer_id"]] += Decimal(p["amount"])
            peak[p["customer_id"]] = max(peak[p["customer_id"]], running[p["customer_id"]])
    return peak


def test_tiers_crossings_and_last_year(purchases: list[dict[str, str]]) -> None:
    peaks = running_peaks(purchases, "2025")
    assert sum(v >= 50_000 for v in peaks.values()) >= 3
    assert sum(20_000 <= v < 50_000 for v in peaks.values()) >= 5
    assert sum(5_000 <= v < 20_000 for v in peaks.values()) >= 20
    last_year = running_peaks(purchases, "2024")
    assert max(last_year.values()) >= 20_000  # someone held gold in 2024
    assert sorted(last_year.values())[-3] == sorted(last_year.values())[-2] == Decimal("9800")


def test_lapsed_customers_bought_last_exactly_90_days_before(
    purchases: list[dict[str, str]],
) -> None:
    last: dict[str, str] = {}
    for p in purchases:
        if p["customer_id"] and Decimal(p["amount"]) > 0:
            last[p["customer_id"]] = max(last.get(p["customer_id"], ""), p["purchased_at"][:10])
    lapse_day = (LAPSE_DATE - dt.timedelta(days=90)).isoformat()
    assert sum(day == lapse_day for day in last.values()) >= 5


def test_the_calendar_holds_each_years_own_holiday_dates() -> None:
    calendar = read("calendar.csv")
    holidays = defaultdict(list)
    for row in calendar:
        holidays[(row["name"], row["kind"], row["region"])].append(row["date"])
    assert holidays[("Lunar New Year", "holiday", "")] == ["2024-02-10", "2025-01-29", "2026-02-17"]
    assert holidays[("Chuseok", "holiday", "")] == ["2024-09-17", "2025-10-06", "2026-09-25"]
    assert holidays[("Christmas", "holiday", "")] == ["2024-12-25", "2025-12-25", "2026-12-25"]
    assert len(holidays[("Harbor Festival", "holiday", "south")]) == 3  # the south's own
    seasons = sorted(r["date"][5:] for r in calendar if r["kind"] == "season")
    assert seasons == sorted(["03-01", "06-01", "09-01", "12-01"] * 3)
    assert {r["kind"] for r in calendar} == {"holiday", "season"}  # no closed days


def test_complaints_and_emails_come_from_buyers_on_the_scenario_dates(
    purchases: list[dict[str, str]],
) -> None:
    complaints, events = read("complaints.csv"), read("events.csv")
    first_receipt: dict[str, str] = {}
    for p in purchases:
        if p["customer_id"]:
            first_receipt[p["customer_id"]] = min(
                first_receipt.get(p["customer_id"], "9"), p["purchased_at"]
            )
    rows = [(c["customer_id"], c["received_at"]) for c in complaints]
    rows += [(e["customer_id"], e["occurred_at"]) for e in events]
    assert sum(not customer for customer, _ in rows) == 1  # one complaint names no one
    assert all(first_receipt[c] < at for c, at in rows if c)
    for day in SCENARIO_DATES:
        assert sum(c["received_at"][:10] == day.isoformat() for c in complaints) == 2
        assert any(e["occurred_at"][:10] == day.isoformat() for e in events)
    assert sum(e["kind"] == "email" for e in events) >= 40
    assert {c["severity"] for c in complaints} == {"low", "medium", "high"}
