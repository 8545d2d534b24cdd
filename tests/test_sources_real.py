"""Real data: the UCI Online Retail export, through the documented column mapping."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from loyaltyrules.config import load_config
from loyaltyrules.sources import open_source

SAMPLE = Path(__file__).parent / "data" / "online-retail-sample"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "online-retail"


def test_sample_reads_clean() -> None:
    loaded = open_source(SAMPLE)
    counts = loaded.counts
    assert counts["purchase_lines"].rows_read == counts["purchase_lines"].rows_kept == 1544
    assert counts["purchases"].rows_kept == 79
    assert counts["purchases"].rows_rejected == 0
    con = loaded.connection
    ids = [r[0] for r in con.execute("SELECT customer_id FROM customers").fetchall()]
    assert ids and all("." not in i for i in ids)  # 17850.0 -> 17850
    cancellations = con.execute(
        "SELECT count(*) FROM purchases WHERE purchase_id LIKE 'C%' AND amount < 0 AND is_return"
    ).fetchone()
    assert cancellations is not None and cancellations[0] > 0
    anonymous = con.execute("SELECT count(*) FROM purchases WHERE customer_id IS NULL").fetchone()
    assert anonymous is not None and anonymous[0] > 0
    stores = con.execute("SELECT DISTINCT store_id FROM purchases").fetchall()
    assert stores == [("online",)]


def test_sample_regions_are_the_most_frequent_country() -> None:
    con = open_source(SAMPLE).connection
    wrong = con.execute(
        """WITH lines AS (SELECT * FROM read_csv($glob, all_varchar = true)),
           counts AS (SELECT replace(CustomerID, '.0', '') AS customer_id, Country, count(*) n
                      FROM lines WHERE CustomerID IS NOT NULL GROUP BY ALL),
           best AS (SELECT customer_id, first(Country ORDER BY n DESC, Country) AS region
                    FROM counts GROUP BY ALL)
           SELECT count(*) FROM best JOIN customers USING (customer_id)
           WHERE best.region <> customers.region""",
        {"glob": str(SAMPLE / "by-day" / "*.csv")},
    ).fetchone()
    assert wrong == (0,)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"the full data set is not at {SHARED}")
def test_full_online_retail() -> None:
    config = load_config(SAMPLE / "loyaltyrules.toml").source
    loaded = open_source(dataclasses.replace(config, data=SHARED))
    counts = loaded.counts
    assert counts["purchase_lines"].rows_kept == 541_909  # figures from the data's README
    assert counts["purchases"].rows_kept == 25_900
    assert counts["customers"].rows_kept == 4_372
    assert len(loaded.files) == 305
