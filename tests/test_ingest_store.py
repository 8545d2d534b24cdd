"""Ingest once (sources/ingest.py): a store of checked rows beside the state gives the
same clean tables, rejects, counts and actions as reading every file again, and reads
only the files that are new or changed."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.engine.batch import evaluate
from loyaltyrules.plan import Plan
from loyaltyrules.sources import CLEAN_TABLES, LoadedSource, ingest, open_source

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "loyaltyrules" / "examples" / "store"
LIMIT = dt.date(2026, 1, 31)
HEADER = "purchase_id,customer_id,store_id,staff_id,purchased_at,amount,currency,return_of\n"


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """The example store with its purchases in a file per month, December 2025 held back
    (`later/`, a file per day) to arrive night by night."""
    root = tmp_path / "data"
    (root / "purchases").mkdir(parents=True)
    (tmp_path / "later").mkdir()
    for name in ("customers.csv", "stores.csv"):
        shutil.copy(EXAMPLE / name, root / name)
    files: dict[Path, list[str]] = {}
    with (EXAMPLE / "purchases.csv").open(encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            day = row[4][:10]
            place = tmp_path / "later" / f"{day}.csv" if day >= "2025-12" else (
                root / "purchases" / f"{day[:7]}.csv")
            files.setdefault(place, []).append(",".join(row) + "\n")
    for place, rows in files.items():
        place.write_text(HEADER + "".join(rows), encoding="utf-8")
    return root


def _seen(source: LoadedSource, plan: Plan) -> dict[str, Any]:
    """Everything a night takes from the source: tables, rejects, counts, actions."""
    con = source.connection
    tables = {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in CLEAN_TABLES}
    actions = evaluate(con, plan, dt.date(2025, 11, 1), dt.date(2025, 12, 31)).actions
    return {
        "tables": tables,
        "rejects": [r.to_json() for r in source.iter_rejects()],
        "counts": {t: c.to_json() for t, c in source.counts.items()},
        "actions": sorted(json.dumps(a, sort_keys=True, default=str) for a in actions),
    }


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the store reads, in order."""
    read: list[str] = []
    real = ingest.read_table

    def spy(con: Any, item: Any, layout: Any, delimiter: str | None = None) -> Any:
        read.extend(layout.display(f) for f in item.files)
        return real(con, item, layout, delimiter)

    monkeypatch.setattr(ingest, "read_table", spy)
    return read


def _same_as_full(data: Path, store: Path, plan: Plan, limit: dt.date = LIMIT) -> None:
    kept = open_source(data, limit, store=store)
    full = open_source(data, limit)
    assert _seen(kept, plan) == _seen(full, plan)
    kept.connection.close()


def test_appended_daily_files_are_read_alone(
    data: Path, tmp_path: Path, pack_plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "state.sqlite.ingest.duckdb"
    read = _reads(monkeypatch)
    _same_as_full(data, store, pack_plan)
    assert len(read) == len(list(data.rglob("*.csv")))  # the first night reads everything
    days = sorted((tmp_path / "later").iterdir())
    for day in days[:3]:
        read.clear()
        shutil.copy(day, data / "purchases" / day.name)
        _same_as_full(data, store, pack_plan)
        assert read == [f"purchases/{day.name}"]
    read.clear()
    _same_as_full(data, store, pack_plan)  # nothing new: nothing read
    assert read == []


def test_bad_rows_in_a_new_file_are_rejected_as_in_a_full_load(
    data: Path, tmp_path: Path, pack_plan: Plan
) -> None:
    store = tmp_path / "s.ingest.duckdb"
    _same_as_full(data, store, pack_plan)
    (data / "purchases" / "2025-12-01.csv").write_text(
        HEADER
        + "X1,C0001,S1,,2025-12-01T10:00:00,lots,USD,\n"  # not a number
        + "P00001,C0002,S1,,2025-12-01T10:00:00,5.00,USD,\n"  # an id seen with other content
        + "X2,C9999,S1,,2025-12-01T11:00:00,5.00,USD,\n"  # an unknown customer
        + "X3,C0003,S1,,2026-03-01T11:00:00,5.00,USD,\n"  # after the limit
        + "X4,C0003,S1,,2025-12-01T12:00:00,7.00,USD,P00002\n",
        encoding="utf-8",
    )
    _same_as_full(data, store, pack_plan)
    rejects = open_source(data, LIMIT, store=store).rejects()
    assert {r.reason for r in rejects} >= {"bad-amount", "duplicate-conflict",
                                           "unknown-customer", "future-date"}


def test_a_corrected_past_file_replaces_its_rows(
    data: Path, tmp_path: Path, pack_plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "s.ingest.duckdb"
    read = _reads(monkeypatch)
    _same_as_full(data, store, pack_plan)
    past = data / "purchases" / "2025-03.csv"
    lines = past.read_text(encoding="utf-8").splitlines(keepends=True)
    first = lines[1].split(",")
    first[5] = "2500.00"  # a big purchase the till first recorded wrong
    lines[1] = ",".join(first)
    del lines[2]  # and a receipt that was voided
    read.clear()
    past.write_text("".join(lines), encoding="utf-8")
    _same_as_full(data, store, pack_plan)
    assert read == ["purchases/2025-03.csv"]
    read.clear()
    os.utime(past, ns=(past.stat().st_atime_ns, past.stat().st_mtime_ns + 10**9))
    _same_as_full(data, store, pack_plan)  # touched, same content: not read again
    assert read == []


def test_a_deleted_file_takes_its_rows_and_rejects_along(
    data: Path, tmp_path: Path, pack_plan: Plan
) -> None:
    store = tmp_path / "s.ingest.duckdb"
    broken = data / "purchases" / "2025-06.csv"
    with broken.open("a", encoding="utf-8") as fh:
        fh.write("Y1,C0001,S1,,2025-06-30T10:00:00,-,USD,\n")
    _same_as_full(data, store, pack_plan)
    broken.unlink()
    _same_as_full(data, store, pack_plan)
    assert not any(r.file == "purchases/2025-06.csv"
                   for r in open_source(data, LIMIT, store=store).rejects())


def test_a_later_limit_lets_yesterdays_future_rows_in(
    data: Path, tmp_path: Path, pack_plan: Plan
) -> None:
    store = tmp_path / "s.ingest.duckdb"
    for day in sorted((tmp_path / "later").iterdir()):
        shutil.copy(day, data / "purchases" / day.name)
    _same_as_full(data, store, pack_plan, dt.date(2025, 12, 15))
    _same_as_full(data, store, pack_plan, dt.date(2025, 12, 20))
    _same_as_full(data, store, pack_plan)


def test_other_mappings_read_every_file_again(
    data: Path, tmp_path: Path, pack_plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "s.ingest.duckdb"
    _same_as_full(data, store, pack_plan)
    read = _reads(monkeypatch)
    (data / "loyaltyrules.toml").write_text(
        '[source]\ndata = "."\ncurrency = "USD"\n', encoding="utf-8")
    kept = open_source(data, LIMIT, store=store)
    assert len(read) == len(list(data.rglob("*.csv")))
    assert _seen(kept, pack_plan) == _seen(open_source(data, LIMIT), pack_plan)


def test_a_store_held_by_another_process_means_a_full_load(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "open_store", lambda _path: None)
    loaded = open_source(data, LIMIT, store=tmp_path / "s.ingest.duckdb")
    assert loaded.counts["purchases"].rows_kept > 0
    assert not (tmp_path / "s.ingest.duckdb").exists()


def test_run_keeps_the_input_beside_its_state_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the host receives is the same with the store as without; the store is there."""
    outputs = {}
    for kept in ("true", "false"):
        folder = tmp_path / kept
        folder.mkdir()
        monkeypatch.chdir(folder)
        (folder / "loyaltyrules.toml").write_text(f"[run]\ningest_store = {kept}\n")
        for day in ("2025-11-19", "2025-11-20"):
            result = CliRunner().invoke(cli, ["run", "--example", "--as-of", day, "-q",
                                              "--state", "state.sqlite", "--out", "out"])
            assert result.exit_code == 0, result.output
        outputs[kept] = {f.name: f.read_bytes() for f in sorted((folder / "out").iterdir())
                         if f.is_file()}
        assert (folder / "state.sqlite.ingest.duckdb").exists() == (kept == "true")
    assert outputs["true"] == outputs["false"]
    assert any(name.startswith("actions-") for name in outputs["true"])


def test_ingest_store_setting_is_a_boolean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loyaltyrules.toml").write_text('[run]\ningest_store = "no"\n')
    result = CliRunner().invoke(cli, ["run", "--example", "--as-of", "2025-11-20"])
    assert result.exit_code == 1
    assert "ingest_store must be true or false" in result.output
