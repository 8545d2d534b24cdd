"""Generate a synthetic franchise for benchmarks, as Parquet, with DuckDB SQL.

    python benchmarks/generate.py OUTDIR [--scale 1.0] [--seed 0] [--threads N]

At scale 1: 200 stores in 20 regions, 1,000,000 customers and 10,000,000 purchases
over 2024-01-01 .. 2025-12-31. Customers and purchases scale linearly; stores and
regions scale too but never drop below 10 stores and 2 regions.

Every column is a function of the row number and the seed through DuckDB's ``hash``,
so the data is deterministic (for a given DuckDB version) and no Python loop touches
a row. Purchases pick customers with a skew (a few buy very often, so the tier ladder
reaches gold and diamond), amounts are lognormal (median about 120, some >= 2,000),
about 3% of receipts are returns (negative amount) and 2% are anonymous.

Beside them, the optional tables the pack's calendar and service policies read: a
calendar (the same dozen-odd holidays and season days every scale, one of them held
in the first region only, plus 1 January after the data), complaints (one per 1,000
receipts) and host events (one per 500 receipts, about half of kind email, the kind's
case varying), each from a known customer or, for 5%, from no customer at all.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

FULL_STORES, FULL_REGIONS = 200, 20
FULL_CUSTOMERS, FULL_PURCHASES = 1_000_000, 10_000_000
STAFF_PER_STORE = 8
FIRST_DAY, DAYS = "2024-01-01", 731  # two years, 2024 being a leap year
SPREAD_PRIME = 999_983  # scatters heavy buyers over customer ids (coprime with any count)
TIMEZONES = ("Asia/Seoul", "Asia/Tokyo", "Asia/Shanghai", "Europe/Berlin", "America/New_York")


@dataclass(frozen=True)
class Sizes:
    stores: int
    regions: int
    customers: int
    purchases: int

    @classmethod
    def at(cls, scale: float, stores: int | None = None) -> Sizes:
        """The sizes at `scale`; `stores` (and regions with them) set apart from it."""
        if scale <= 0 or (stores is not None and stores < 1):
            raise ValueError("scale and stores must be positive")
        count = stores if stores is not None else max(10, round(FULL_STORES * scale))
        return cls(
            stores=count,
            regions=max(2, round(count * FULL_REGIONS / FULL_STORES)),
            customers=max(1, round(FULL_CUSTOMERS * scale)),
            purchases=max(1, round(FULL_PURCHASES * scale)),
        )


def _macros(seed: int, sizes: Sizes) -> list[str]:
    """Row-level building blocks: u(i, salt) is a uniform double in [0, 1)."""
    # hash(i, salt) would combine the hashes too weakly (columns come out correlated);
    # hashing the xor of two hashes again mixes them properly.
    return [
        f"CREATE MACRO u(i, salt) AS "
        f"(hash(xor(hash(i::BIGINT), hash(salt || ':{seed:d}'))) >> 11)::DOUBLE "
        f"/ 9007199254740992.0",
        "CREATE MACRO pad(prefix, n, width) AS prefix || lpad(n::VARCHAR, width, '0')",
        f"CREATE MACRO home_store(c) AS 1 + floor(u(c, 'home') * {sizes.stores:d})::BIGINT",
        f"CREATE MACRO region_of(s) AS 1 + (s - 1) % {sizes.regions:d}",
        f"CREATE MACRO staff_of(s, i, salt) AS "
        f"pad('E', (s - 1) * {STAFF_PER_STORE} + 1 "
        f"+ floor(u(i, salt) * {STAFF_PER_STORE})::BIGINT, 5)",
        "CREATE MACRO consent(i, salt) AS CASE WHEN u(i, salt) < 0.88 THEN true "
        "WHEN u(i, salt) < 0.96 THEN false ELSE NULL END",
        "CREATE MACRO maybe(i, salt, share, value) AS CASE WHEN u(i, salt) < share "
        "THEN value ELSE NULL END",
        # a customer picked uniformly, and a moment of the data's two years in store
        # hours (complaints, host events)
        f"CREATE MACRO anyone(i, salt) AS 1 + floor(u(i, salt) * {sizes.customers:d})::BIGINT",
        f"CREATE MACRO moment(i, salt) AS TIMESTAMP '{FIRST_DAY}' "
        f"+ to_days(floor(u(i, salt || '-day') * {DAYS:d})::INTEGER) "
        "+ to_seconds(36000 + floor(u(i, salt || '-time') * 39600)::BIGINT)",
    ]


STORES_SQL = """
SELECT pad('S', i, 3) AS store_id,
       pad('R', region_of(i), 2) AS region,
       'Store ' || lpad(i::VARCHAR, 3, '0') AS name,
       {timezones}[1 + (region_of(i) - 1) % {tz_count}] AS timezone
FROM range(1, {stores} + 1) AS t(i)

"""

CUSTOMERS_SQL = """
SELECT pad('C', i, 7) AS customer_id,
       'Customer ' || i AS name,
       maybe(i, 'phone', 0.8, pad('000-', i, 7)) AS phone,
       maybe(i, 'email', 0.6, 'c' || i || '@example.invalid') AS email,
       maybe(i, 'address', 0.85, i || ' Example Street') AS address,
       maybe(i, 'has_birthday', 0.95,
             DATE '1950-01-01' + floor(u(i, 'birthday') * 20000)::INTEGER) AS birthday,
       pad('R', region_of(home_store(i)), 2) AS region,
       pad('S', home_store(i), 3) AS home_store,
       DATE '2015-01-01' + floor(u(i, 'joined') * 4018)::INTEGER AS joined_on,
       CASE WHEN i > 1 AND u(i, 'referred') < 0.1
            THEN pad('C', 1 + floor(u(i, 'referrer') * (i - 1))::BIGINT, 7) END AS referred_by,
       maybe(i, 'has_staff', 0.95, staff_of(home_store(i), i, 'staff')) AS staff_id,
       consent(i, 'sms') AS consent_sms,
       consent(i, 'call') AS consent_call,
       consent(i, 'mail') AS consent_mail,
       consent(i, 'visit') AS consent_visit
FROM range(1, {customers} + 1) AS t(i)

"""

# c: the buying customer (a skewed pick, scattered over ids); s: the store.
PURCHASES_SQL = """
WITH picked AS (
    SELECT i,
           1 + (floor({customers} * pow(u(i, 'who'), 1.5))::BIGINT * {spread})
               % {customers} AS c,
           exp(ln(120) + sqrt(-2 * ln(1 - u(i, 'amount1')))
               * cos(2 * pi() * u(i, 'amount2'))) AS gross
    FROM range(1, {purchases} + 1) AS t(i)
), placed AS (
    SELECT *, CASE WHEN u(i, 'away') < 0.8 THEN home_store(c)
                   ELSE 1 + floor(u(i, 'store') * {stores})::BIGINT END AS s
    FROM picked
)
SELECT pad('P', i, 8) AS purchase_id,
       CASE WHEN u(i, 'anonymous') >= 0.02 THEN pad('C', c, 7) END AS customer_id,
       pad('S', s, 3) AS store_id,
       maybe(i, 'has_staff', 0.97, staff_of(s, i, 'staff')) AS staff_id,
       TIMESTAMP '{first_day}'
           + to_days(floor(u(i, 'day') * {days})::INTEGER)
           + to_seconds(36000 + floor(u(i, 'time') * 39600)::BIGINT) AS purchased_at,
       (CASE WHEN u(i, 'return') < 0.03 THEN -1 ELSE 1 END
           * round(least(greatest(gross, 1), 25000), 2))::DECIMAL(12, 2) AS amount,
       'USD' AS currency,
       NULL::VARCHAR AS return_of
FROM placed

"""


# Fixed days, whatever the scale: holidays (Lunar New Year and Chuseok move each year),
# one festival held in the first region only, and the first days of the seasons.
CALENDAR_SQL = """
SELECT CAST(date AS DATE) AS date, name, kind, region FROM (VALUES
    ('2024-01-01', 'New Year', 'holiday', NULL),
    ('2024-02-10', 'Lunar New Year', 'holiday', NULL),
    ('2024-03-01', 'Spring', 'season', NULL),
    ('2024-06-01', 'Summer', 'season', NULL),
    ('2024-08-02', 'Harbor Festival', 'holiday', 'R01'),
    ('2024-09-01', 'Autumn', 'season', NULL),
    ('2024-09-17', 'Chuseok', 'holiday', NULL),
    ('2024-12-01', 'Winter', 'season', NULL),
    ('2024-12-25', 'Christmas', 'holiday', NULL),
    ('2025-01-01', 'New Year', 'holiday', NULL),
    ('2025-01-29', 'Lunar New Year', 'holiday', NULL),
    ('2025-03-01', 'Spring', 'season', NULL),
    ('2025-06-01', 'Summer', 'season', NULL),
    ('2025-08-02', 'Harbor Festival', 'holiday', 'R01'),
    ('2025-09-01', 'Autumn', 'season', NULL),
    ('2025-10-06', 'Chuseok', 'holiday', NULL),
    ('2025-12-01', 'Winter', 'season', NULL),
    ('2025-12-25', 'Christmas', 'holiday', NULL),
    ('2026-01-01', 'New Year', 'holiday', NULL)
) AS t(date, name, kind, region)
ORDER BY date, name
"""

COMPLAINTS_SQL = """
SELECT pad('K', i, 7) AS complaint_id,
       CASE WHEN u(i, 'complaint-anonymous') >= 0.05
            THEN pad('C', anyone(i, 'complaint-who'), 7) END AS customer_id,
       pad('S', home_store(anyone(i, 'complaint-who')), 3) AS store_id,
       moment(i, 'complaint') AS received_at,
       ['phone', 'email', 'in_store'][1 + floor(u(i, 'channel') * 3)::INTEGER] AS channel,
       ['fit', 'quality', 'service', 'delivery'][1 + floor(u(i, 'topic') * 4)::INTEGER]
           AS topic,
       ['low', 'medium', 'high'][1 + floor(u(i, 'severity') * 3)::INTEGER] AS severity
FROM range(1, {complaints} + 1) AS t(i)

"""

EVENTS_SQL = """
SELECT pad('V', i, 8) AS event_id,
       ['email', 'email', 'Email', 'visit', 'inquiry'][1 + floor(u(i, 'kind') * 5)::INTEGER]
           AS kind,
       CASE WHEN u(i, 'event-anonymous') >= 0.05
            THEN pad('C', anyone(i, 'event-who'), 7) END AS customer_id,
       pad('S', home_store(anyone(i, 'event-who')), 3) AS store_id,
       moment(i, 'event') AS occurred_at,
       NULL::VARCHAR AS attributes
FROM range(1, {events} + 1) AS t(i)

"""


def _sql(template: str, sizes: Sizes) -> str:
    timezones = "[" + ", ".join(f"'{tz}'" for tz in TIMEZONES) + "]"
    return template.format(
        stores=sizes.stores,
        customers=sizes.customers,
        purchases=sizes.purchases,
        complaints=max(1, sizes.purchases // 1000),
        events=max(1, sizes.purchases // 500),
        spread=SPREAD_PRIME,
        first_day=FIRST_DAY,
        days=DAYS,
        timezones=timezones,
        tz_count=len(TIMEZONES),
    )


def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> int:
    target = str(path).replace("'", "''")
    con.execute(f"COPY ({query}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    row = con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()
    return int(row[0]) if row else 0


def generate(
    outdir: Path, scale: float = 1.0, seed: int = 0, threads: int | None = None,
    stores: int | None = None,
) -> dict[str, int]:
    """Write the tables (stores, customers, purchases, calendar, complaints, events) as
    Parquet into outdir; return rows per table."""
    sizes = Sizes.at(scale, stores)
    outdir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        if threads:
            con.execute(f"SET threads = {int(threads):d}")
        for macro in _macros(seed, sizes):
            con.execute(macro)
        written: dict[str, int] = {}
        for name, template in (
            ("stores", STORES_SQL),
            ("customers", CUSTOMERS_SQL),
            ("purchases", PURCHASES_SQL),
            ("calendar", CALENDAR_SQL),
            ("complaints", COMPLAINTS_SQL),
            ("events", EVENTS_SQL),
        ):
            started = time.perf_counter()
            written[name] = _copy(con, _sql(template, sizes), outdir / f"{name}.parquet")
            took = time.perf_counter() - started
            print(f"{name}: {written[name]:,} rows in {took:.2f} s", flush=True)
        return written
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the synthetic benchmark franchise.")
    parser.add_argument("outdir", type=Path, help="folder for the Parquet files")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0 = 1M customers, 10M purchases"
    )
    parser.add_argument("--seed", type=int, default=0, help="changes every generated value")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads")
    parser.add_argument("--stores", type=int, default=None,
                        help="stores (and regions, one per 10) whatever the scale: e.g. "
                             "200 stores sharing a ledger at --scale 0.1")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    written = generate(args.outdir, args.scale, args.seed, args.threads, args.stores)
    total = sum(written.values())
    print(f"wrote {total:,} rows to {args.outdir} in {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
