"""Input checks: every bad row is rejected with its reason and row, good rows are kept."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from loyaltyrules.config import SourceConfig
from loyaltyrules.sources import REASONS, LoadedSource, UnusableInput, open_source

DATA = Path(__file__).parent / "data"
BAD_ROWS = DATA / "bad-rows"
LIMIT = date(2024, 12, 31)

# (row, column, reason) per bad row of bad-rows/purchases.csv; row 1 is the first data row
EXPECTED_ERRORS = {
    6: ("purchase_id", "missing-value"),
    7: ("store_id", "missing-value"),
    8: ("purchased_at", "missing-value"),
    9: ("amount", "missing-value"),
    10: ("amount", "bad-amount"),
    11: ("purchased_at", "bad-timestamp"),
    12: ("purchased_at", "impossible-date"),
    13: ("purchased_at", "future-date"),
    14: ("purchase_id", "duplicate-conflict"),
    15: ("purchase_id", "duplicate-conflict"),
    18: ("store_id", "unknown-store"),
    19: ("customer_id", "unknown-customer"),
    20: ("currency", "wrong-currency"),
    21: (None, "malformed-line"),
    22: (None, "malformed-line"),
    25: ("amount", "bad-amount"),
    27: (None, "bad-encoding"),
    29: ("amount", "bad-amount"),  # a barcode: beyond the money limit
    32: ("amount", "bad-amount"),  # -999999999999.9996 rounds onto the limit
}
EXPECTED_WARNINGS = {23: ("amount", "zero-amount"), 24: ("return_of", "unknown-return")}
KEPT = {"P1", "P2", "P3", "P4", "P5", "P15", "P22", "P23", "P25", "P26", "P28", "P29"}


@pytest.fixture(scope="module")
def loaded() -> LoadedSource:
    config = SourceConfig(data=BAD_ROWS, currency="GBP", reject_share=1.0)
    return open_source(config, as_of_limit=LIMIT)


def test_every_bad_purchase_row_has_its_reason_and_row(loaded: LoadedSource) -> None:
    errors = {
        r.row: (r.column, r.reason)
        for r in loaded.rejects()
        if r.table == "purchases" and r.severity == "error"
    }
    assert errors == EXPECTED_ERRORS
    warnings = {
        r.row: (r.column, r.reason)
        for r in loaded.rejects()
        if r.table == "purchases" and r.severity == "warning"
    }
    assert warnings == EXPECTED_WARNINGS
    kinds = {*EXPECTED_ERRORS.values(), *EXPECTED_WARNINGS.values()}  # missing-value per column
    assert len(kinds) >= 15


def test_every_good_row_is_kept(loaded: LoadedSource) -> None:
    ids = {r[0] for r in loaded.connection.execute("SELECT purchase_id FROM purchases").fetchall()}
    assert ids == KEPT
    counts = loaded.counts["purchases"]
    assert counts.rows_read == 32
    assert counts.rows_kept == len(KEPT)
    assert counts.rows_rejected == len(EXPECTED_ERRORS)
    assert counts.info == {"duplicate-identical": 1}  # P15 twice, same content


def test_clean_purchase_values(loaded: LoadedSource) -> None:
    rows = {
        r[0]: r[1:]
        for r in loaded.connection.execute(
            "SELECT purchase_id, CAST(purchased_at AS VARCHAR), CAST(purchase_date AS VARCHAR), "
            "CAST(amount AS VARCHAR), currency, return_of, is_return FROM purchases"
        ).fetchall()
    }
    assert rows["P4"] == ("2024-03-04 12:00:00", "2024-03-04", "-19.990", "GBP", "P2", True)
    assert rows["P28"][2] == "999999999999.999"  # the largest amount there is
    assert rows["P29"][0] == "2024-03-10 12:00:00"  # Z: the wall-clock time as written
    assert rows["P2"][3] == "GBP"  # missing currency takes the configured one
    assert rows["P25"][3] == "GBP"  # 'gbp'
    assert rows["P23"][4:] == (None, True)  # unknown return link cleared, still a return


def test_customer_warnings_keep_the_row(loaded: LoadedSource) -> None:
    found = {
        (r.ids["customer_id"], r.column, r.reason)
        for r in loaded.rejects()
        if r.table == "customers"
    }
    assert found == {
        ("C3", "birthday", "impossible-date"),
        ("C3", "consent_mail", "bad-boolean"),
        ("C3", "referred_by", "self-referral"),
        ("C4", "home_store", "unknown-store"),
        ("C4", "referred_by", "unknown-referrer"),
    }
    rows = {
        r[0]: r[1:]
        for r in loaded.connection.execute(
            "SELECT customer_id, referred_by, region, consent_mail, consent_visit, "
            "CAST(birthday AS VARCHAR) FROM customers"
        ).fetchall()
    }
    assert rows["C2"] == ("C1", "south", True, True, "1976-02-29")  # region from S2
    assert rows["C3"] == (None, "north", False, True, None)  # 'maybe' counts as opted out
    assert rows["C4"] == (None, "south", True, True, None)
    assert rows["C5"][1] == "default"


def test_rejects_never_carry_personal_data(loaded: LoadedSource, tmp_path: Path) -> None:
    out = tmp_path / "rejects.jsonl"
    assert loaded.write_rejects(out) == len(loaded.rejects())
    text = out.read_text(encoding="utf-8")
    for secret in ("Alice", "Carol Example", "7700 900001", "alice@example.com", "High Street"):
        assert secret not in text
    first = json.loads(text.splitlines()[0])
    assert set(first) == {"table", "file", "row", "column", "reason", "severity", "message", "ids"}
    assert all(json.loads(line)["reason"] in REASONS for line in text.splitlines())


def test_non_utf8_is_a_reject_not_a_crash(loaded: LoadedSource) -> None:
    (record,) = [r for r in loaded.rejects() if r.reason == "bad-encoding"]
    assert (record.file, record.row) == ("purchases.csv", 27)


def test_missing_required_table(tmp_path: Path) -> None:
    (tmp_path / "purchases.csv").write_text("purchase_id\nP1\n")
    with pytest.raises(UnusableInput) as err:
        open_source(tmp_path)
    assert err.value.code == "input.missing-table" and err.value.table == "customers"


def test_missing_required_column(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("customer_id\nC1\n")
    (tmp_path / "purchases.csv").write_text("purchase_id,store_id,amount\nP1,S1,3\n")
    with pytest.raises(UnusableInput) as err:
        open_source(tmp_path)
    assert (err.value.code, err.value.column) == ("input.missing-column", "purchased_at")


def test_too_many_rejects(tmp_path: Path) -> None:
    rejects = tmp_path / "out.rejects.jsonl"
    with pytest.raises(UnusableInput) as err:
        open_source(
            SourceConfig(data=BAD_ROWS, currency="GBP", reject_share=0.5),
            LIMIT,
            rejects_path=rejects,
        )
    assert (err.value.code, err.value.table) == ("input.too-many-rejects", "purchases")
    assert rejects.read_text().count("\n") > 17  # written before failing, for diagnosis


def test_missing_data_directory(tmp_path: Path) -> None:
    with pytest.raises(UnusableInput) as err:
        open_source(tmp_path / "nowhere")
    assert err.value.code == "input.unreadable-file"


def test_fingerprint_changes_with_the_input(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("customer_id\nC1\n")
    (tmp_path / "purchases.csv").write_text(
        "purchase_id,store_id,purchased_at,amount\nP1,S1,2024-01-01,3\n"
    )
    first = open_source(tmp_path).input_fingerprint
    assert open_source(tmp_path).input_fingerprint == first
    (tmp_path / "purchases.csv").write_text(
        "purchase_id,store_id,purchased_at,amount\nP1,S1,2024-01-01,4.0\n"
    )
    assert open_source(tmp_path).input_fingerprint != first


def test_purchase_lines_are_summed_into_receipts(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("customer_id\nC1\nC2\n")
    (tmp_path / "purchase_lines.csv").write_text(
        "purchase_id,customer_id,store_id,purchased_at,sku,quantity,unit_price\n"
        "R1,C1,S1,2024-03-01 10:00:00,A,2,1.25\n"
        "R1,C1,S1,2024-03-01 10:01:00,B,1,10\n"
        "R2,C1,S1,2024-03-01 11:00:00,A,two,1.25\n"
        "R2,C1,S1,2024-03-01 11:00:00,B,1,10\n"
        "R3,C1,S1,2024-03-01 12:00:00,A,1,1.2.5\n"
        "R4,C1,S1,2024-03-01 13:00:00,A,1,5\n"
        "R4,C2,S1,2024-03-01 13:00:00,B,1,5\n"
        "R5,C2,S1,2024-03-01 14:00:00,A,-1,4.5\n"
    )
    loaded = open_source(SourceConfig(data=tmp_path, reject_share=1.0))
    found = {(r.table, r.row, r.column, r.reason) for r in loaded.rejects()}
    assert found == {
        ("purchase_lines", 3, "quantity", "bad-quantity"),
        ("purchase_lines", 5, "unit_price", "bad-unit-price"),
        ("purchases", 4, "purchase_id", "incomplete-receipt"),
        ("purchase_lines", 6, "customer_id", "receipt-conflict"),
        ("purchase_lines", 7, "customer_id", "receipt-conflict"),
    }
    rows = loaded.connection.execute(
        "SELECT purchase_id, CAST(purchased_at AS VARCHAR), CAST(amount AS VARCHAR), is_return "
        "FROM purchases ORDER BY purchase_id"
    ).fetchall()
    assert rows == [
        ("R1", "2024-03-01 10:00:00", "12.500", False),
        ("R5", "2024-03-01 14:00:00", "-4.500", True),
    ]
    lines = loaded.connection.execute("SELECT count(*) FROM purchase_lines").fetchone()
    assert lines == (3,)
