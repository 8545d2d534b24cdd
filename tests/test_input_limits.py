"""One bad value never takes down a night: number limits, separators, timestamps, long
lines. Each value is a reject where it is read (or read as the user configured), and
the nightly tables and the point of sale apply the same rule."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.config import SourceConfig, TableConfig, parse_config
from loyaltyrules.diagnostics import DiagnosticError
from loyaltyrules.event.errors import EventError
from loyaltyrules.event.receipts import parse_receipt
from loyaltyrules.sources import REASONS, LoadedSource, open_source

from _paths import PACK

DATA = Path(__file__).parent / "data"
LIMIT = date(2025, 12, 31)
RECEIPT_HEADER = ["purchase_id", "customer_id", "store_id", "staff_id", "purchased_at",
                  "amount", "currency", "return_of"]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


def _store(folder: Path, purchases: list[list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "customers.csv", ["customer_id", "home_store"], [["C1", "S1"], ["C2", "S1"]])
    _write(folder / "purchases.csv", RECEIPT_HEADER, purchases)
    return folder


def _rejects(loaded: LoadedSource, table: str = "purchases") -> dict[int, tuple[str | None, str]]:
    return {r.row: (r.column, r.reason) for r in loaded.rejects()
            if r.table == table and r.severity == "error" and r.row is not None}


def _amounts(loaded: LoadedSource) -> dict[str, str]:
    rows = loaded.connection.execute(
        "SELECT purchase_id, CAST(amount AS VARCHAR) FROM purchases").fetchall()
    return dict(rows)


# -- limits -----------------------------------------------------------------------------


def test_the_bad_lines_corpus(tmp_path: Path) -> None:
    loaded = open_source(DATA / "bad-lines", as_of_limit=LIMIT,
                         rejects_path=tmp_path / "rejects.jsonl")
    assert _rejects(loaded, "purchase_lines") == {
        2: ("unit_price", "bad-amount"),  # the barcode
        4: ("unit_price", "bad-amount"),  # 1000 x 2e9: the line's total
        7: ("quantity", "bad-quantity"),
        8: ("unit_price", "bad-unit-price"),
    }
    receipts = {r.ids["purchase_id"]: r.reason for r in loaded.rejects() if r.table == "purchases"}
    assert receipts == {"L2": "incomplete-receipt", "L4": "bad-amount"}  # L3, L5, L6: no line left
    assert _amounts(loaded) == {"L1": "20.000", "L7": "999998999000.001",
                                "L8": "-999999999999.999"}
    at = loaded.connection.execute(
        "SELECT CAST(purchased_at AS VARCHAR) FROM purchases WHERE purchase_id = 'L8'").fetchone()
    assert at == ("2024-03-01 17:00:00",)
    messages = {r.reason: r.message for r in loaded.rejects()}
    assert "999,999,999,999.999" in messages["bad-amount"]
    assert "4006381333931" not in (tmp_path / "rejects.jsonl").read_text(encoding="utf-8")


def test_a_barcode_price_is_a_reject_and_the_night_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "run", "--as-of", "2024-03-01", "--data", str(DATA / "bad-lines"), "--policies",
        str(PACK), "--state", str(tmp_path / "s.sqlite"), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    rejects = [json.loads(line) for line in
               (out / "rejects-2024-03-01.jsonl").read_text(encoding="utf-8").splitlines()]
    assert ("purchase_lines", 2, "unit_price", "bad-amount") in {
        (r["table"], r["row"], r["column"], r["reason"]) for r in rejects}
    actions = [json.loads(line) for line in
               (out / "actions-2024-03-01.jsonl").read_text(encoding="utf-8").splitlines()]
    big = [a for a in actions if a["policy"] == "big-purchase-call"]
    assert {a["reason"]["purchase_id"] for a in big} == {"L7"}  # the largest kept receipt


def test_a_customer_of_many_largest_receipts_runs_on_every_path(tmp_path: Path) -> None:
    """Sums over a history of receipts at the limit stay exact: no overflow anywhere."""
    rows = [[f"P{n}", "C1", "S1", "E1", f"2025-0{1 + n % 9}-{10 + n % 18}T10:{n % 60:02d}:00",
             "999999999999.999", "", ""] for n in range(200)]
    data = _store(tmp_path / "data", rows)
    for command in (["run", "--as-of", "2025-01-01", "--through", "2025-12-31",
                     "--state", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out")],
                    ["backtest", "--from", "2025-01-01", "--to", "2025-12-31"],
                    ["explain", "--customer", "C1", "--as-of", "2025-09-27"]):
        result = CliRunner().invoke(cli, [*command, "--data", str(data), "--policies", str(PACK)])
        assert result.exit_code == 0, (command[0], result.output)


@pytest.mark.parametrize(("amount", "kept"), [
    ("999999999999.999", "999999999999.999"),
    ("-999999999999.999", "-999999999999.999"),
    ("999999999999.9994", "999999999999.999"),
    ("999999999999.9995", None),  # rounds onto the limit
    ("1000000000000", None),
    ("4006381333931", None),
    ("1e12", None),
    ("123456789012345678901234567890", None),
    ("12.3455", "12.346"),
])
def test_the_nightly_tables_and_the_pos_share_the_money_limit(
        tmp_path: Path, amount: str, kept: str | None) -> None:
    data = _store(tmp_path, [["P1", "C1", "S1", "", "2025-03-10 10:00:00", amount, "", ""]])
    loaded = open_source(SourceConfig(data=data, reject_share=1.0), as_of_limit=LIMIT)
    assert _amounts(loaded).get("P1") == kept
    if kept is None:
        assert _rejects(loaded) == {1: ("amount", "bad-amount")}
    receipt = {"purchase_id": "P1", "store_id": "S1", "purchased_at": "2025-03-10T10:00:00"}
    try:
        pos: Any = str(parse_receipt({**receipt, "amount": amount}).amount)
    except EventError as err:
        pos = err.code
    assert pos == (kept if kept is not None else "bad-amount")


@pytest.mark.parametrize("stamp", [
    "2025-11-21T15:04:00+01:00", "2025-11-21T15:04:00Z", "2025-11-21 15:04:00-05:00",
    "2025-11-21T15:04:00+0100", "2025-11-21T15:04:00.250+09:00", "2025-11-21T15:04:00",
    "2025-11-21 15:04",
])
def test_an_offset_means_the_same_on_both_paths(tmp_path: Path, stamp: str) -> None:
    """The wall-clock time as written: accepted nightly and at the POS, same instant."""
    data = _store(tmp_path, [["P1", "C1", "S1", "", stamp, "10.00", "", ""]])
    loaded = open_source(SourceConfig(data=data), as_of_limit=LIMIT)
    (nightly,) = loaded.connection.execute("SELECT purchased_at FROM purchases").fetchone() or ()
    pos = parse_receipt({"purchase_id": "P1", "store_id": "S1", "purchased_at": stamp,
                         "amount": "10.00"}).purchased_at
    assert pos == nightly
    assert pos.replace(microsecond=0, second=0) == datetime(2025, 11, 21, 15, 4)


def test_an_offset_is_accepted_over_http(tmp_path: Path) -> None:
    import warnings

    from loyaltyrules.service.app import create_app
    from loyaltyrules.service.settings import ServiceSettings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    app = create_app(ServiceSettings(policies=(PACK,), state=tmp_path / "s.sqlite",
                                     reload_interval=0))
    with TestClient(app) as client:
        client.post("/v1/customers", json={"customer_id": "C1", "home_store": "S1"})
        answer = client.post("/v1/purchases", json={
            "purchase_id": "P9", "customer_id": "C1", "store_id": "S1", "staff_id": "E7",
            "purchased_at": "2025-11-21T15:04:00+01:00", "amount": "2350.00"})
        assert answer.status_code == 200, answer.text
        (call,) = answer.json()["actions"]
        assert call["as_of"] == "2025-11-21" and call["policy"] == "big-purchase-call"
        barcode = client.post("/v1/purchases", json={
            "purchase_id": "P10", "customer_id": "C1", "store_id": "S1",
            "purchased_at": "2025-11-21T15:05:00", "amount": "4006381333931"})
        assert barcode.status_code == 422 and barcode.json()["code"] == "bad-amount"


# -- separators -------------------------------------------------------------------------


@pytest.mark.parametrize(("decimal", "thousands", "accepted", "refused"), [
    (".", ",", {"1,999.00": "1999.000", "2500": "2500.000", "-1,234,567.5": "-1234567.500",
                "12.25": "12.250"}, ["1,99.00", "1,9999.00", "2500,00", ",999"]),
    (",", None, {"2500,00": "2500.000", "-3,5": "-3.500", "7": "7.000"},
     ["2500.00", "1.999,00", "2,500,00"]),
    (",", ".", {"1.999,00": "1999.000", "2500,00": "2500.000", "1.234.567": "1234567.000"},
     ["1,999.00", "1.99,00"]),
    (",", " ", {"1 999,00": "1999.000"}, ["1 99,00"]),
    (".", "'", {"1'999.00": "1999.000"}, ["1'99.00"]),
])
def test_configured_separators(tmp_path: Path, decimal: str, thousands: str | None,
                               accepted: dict[str, str], refused: list[str]) -> None:
    values = [*accepted, *refused]
    data = _store(tmp_path, [[f"P{n}", "C1", "S1", "", "2025-03-10 10:00", v, "", ""]
                             for n, v in enumerate(values)])
    table = TableConfig(decimal_separator=decimal, thousands_separator=thousands)
    config = SourceConfig(data=data, reject_share=1.0, tables={"purchases": table})
    loaded = open_source(config, as_of_limit=LIMIT)
    amounts = _amounts(loaded)
    assert {values[int(p[1:])]: a for p, a in amounts.items()} == accepted
    assert set(_rejects(loaded)) == {n + 1 for n in range(len(accepted), len(values))}


def test_separators_default_to_the_strict_form(tmp_path: Path) -> None:
    data = _store(tmp_path, [["P1", "C1", "S1", "", "2025-03-10 10:00", "1,999.00", "", ""],
                             ["P2", "C1", "S1", "", "2025-03-10 10:00", "2500,00", "", ""],
                             ["P3", "C1", "S1", "", "2025-03-10 10:00", "1999.00", "", ""]])
    loaded = open_source(SourceConfig(data=data, reject_share=1.0), as_of_limit=LIMIT)
    assert _amounts(loaded) == {"P3": "1999.000"}


def test_separators_apply_to_lines_and_are_checked_in_the_configuration(tmp_path: Path) -> None:
    text = """[source.tables.purchase_lines]
decimal_separator = ","
thousands_separator = "."
"""
    config = parse_config(text, tmp_path / "loyaltyrules.toml")
    lines = config.source.table("purchase_lines")
    assert (lines.decimal_separator, lines.thousands_separator) == (",", ".")
    for bad, key in (('decimal_separator = ";"', "decimal_separator"),
                     ('thousands_separator = ","', "thousands_separator"),
                     ('thousands_separator = "x"', "thousands_separator")):
        with pytest.raises(DiagnosticError) as info:
            parse_config(f'[source.tables.purchases]\ndecimal_separator = ","\n{bad}\n'
                         if key == "thousands_separator" else
                         f"[source.tables.purchases]\n{bad}\n", tmp_path / "x.toml")
        (diagnostic,) = info.value.diagnostics
        assert diagnostic.code == "config.bad-value" and key in diagnostic.message
    folder = tmp_path / "lines"
    folder.mkdir()
    _write(folder / "customers.csv", ["customer_id"], [["C1"]])
    _write(folder / "purchase_lines.csv",
           ["purchase_id", "customer_id", "store_id", "purchased_at", "quantity", "unit_price"],
           [["L1", "C1", "S1", "2025-03-10 10:00", "1,5", "1.999,00"]])
    source = SourceConfig(data=folder, tables={"purchase_lines": lines})
    assert _amounts(open_source(source, as_of_limit=LIMIT)) == {"L1": "2998.500"}


# -- timestamp_format -------------------------------------------------------------------


def test_iso_8601_is_read_under_a_custom_timestamp_format(tmp_path: Path) -> None:
    data = _store(tmp_path, [
        ["P1", "C1", "S1", "", "21/11/2025 15:04", "10", "", ""],
        ["P2", "C1", "S1", "", "2025-11-21T15:05:00", "10", "", ""],
        ["P3", "C1", "S1", "", "2025-11-21 15:06:00+01:00", "10", "", ""],
        ["P4", "C1", "S1", "", "11/21/2025 15:07", "10", "", ""],
        ["P5", "C1", "S1", "", "2025-02-30T10:00:00", "10", "", ""],
    ])
    table = TableConfig(timestamp_format="%d/%m/%Y %H:%M")
    config = SourceConfig(data=data, reject_share=1.0, tables={"purchases": table})
    loaded = open_source(config, as_of_limit=LIMIT)
    times = dict(loaded.connection.execute(
        "SELECT purchase_id, CAST(purchased_at AS VARCHAR) FROM purchases").fetchall())
    assert times == {"P1": "2025-11-21 15:04:00", "P2": "2025-11-21 15:05:00",
                     "P3": "2025-11-21 15:06:00"}
    assert _rejects(loaded) == {4: ("purchased_at", "bad-timestamp"),
                                5: ("purchased_at", "impossible-date")}
    (message,) = [r.message for r in loaded.rejects() if r.reason == "bad-timestamp"]
    assert message == REASONS["bad-timestamp"].replace("{column}", "purchased_at")
    assert "timestamp_format" in message


# -- lines too long to read -------------------------------------------------------------


def _long_field_rows(count: int, long_at: int, size: int) -> list[list[str]]:
    rows = [[f"P{n}", "C1", "S1", "", "2025-03-10 10:00:00", "10.00", "", ""]
            for n in range(1, count + 1)]
    rows[long_at - 1][7] = "x" * size  # return_of: any text column will do
    return rows


@pytest.mark.parametrize(("count", "long_at", "name"), [
    (300, 81, "purchases.csv"),        # inside the sniffer's sample: it used to stop the scan
    (300, 1, "purchases.csv"),         # the first row
    (25_000, 24_000, "purchases.csv"),  # beyond the sample
    (300, 81, "purchases.csv.gz"),
])
def test_a_line_too_long_is_one_reject_with_its_row(tmp_path: Path, count: int, long_at: int,
                                                    name: str) -> None:
    data = tmp_path / "data"
    _store(data, _long_field_rows(count, long_at, 3 * 1024 * 1024))
    if name.endswith(".gz"):
        raw = (data / "purchases.csv").read_bytes()
        (data / "purchases.csv").unlink()
        (data / name).write_bytes(gzip.compress(raw))
    with (data / name).open("rb") if not name.endswith(".gz") else gzip.open(data / name) as fh:
        assert max(len(line) for line in fh) > 3_000_000
    loaded = open_source(SourceConfig(data=data, reject_share=1.0), as_of_limit=LIMIT)
    assert _rejects(loaded) == {long_at: (None, "line-too-long")}
    kept = {r[0] for r in loaded.connection.execute("SELECT purchase_id FROM purchases").fetchall()}
    assert kept == {f"P{n}" for n in range(1, count + 1)} - {f"P{long_at}"}
    counts = loaded.counts["purchases"]
    assert (counts.rows_read, counts.rows_rejected) == (count, 1)


def test_a_line_too_long_in_json_lines(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _write(data / "customers.csv", ["customer_id"], [["C1"]])
    lines = [json.dumps({"purchase_id": f"P{n}", "customer_id": "C1", "store_id": "S1",
                         "purchased_at": "2025-03-10 10:00", "amount": "1",
                         "note": "x" * (3_000_000 if n == 5 else 1)}) for n in range(1, 9)]
    (data / "purchases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded = open_source(SourceConfig(data=data, reject_share=1.0), as_of_limit=LIMIT)
    assert _rejects(loaded) == {5: (None, "line-too-long")}
    assert loaded.counts["purchases"].rows_kept == 7


def test_a_line_too_long_does_not_stop_the_run(tmp_path: Path) -> None:
    data = _store(tmp_path / "data", _long_field_rows(200, 81, 5 * 1024 * 1024))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "run", "--as-of", "2025-03-10", "--data", str(data), "--policies", str(PACK),
        "--state", str(tmp_path / "s.sqlite"), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    rejects = [json.loads(line) for line in
               (out / "rejects-2025-03-10.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["row"], r["reason"]) for r in rejects] == [(81, "line-too-long")]
    assert "input rows rejected or cleared: 1" in result.output
