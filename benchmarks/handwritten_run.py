"""The yardstick for a whole `loyaltyrules run`: a hand-written end-to-end script.

    python benchmarks/handwritten_run.py DATA_DIR --from A --to B --out actions.jsonl

It does what a competent engineer would write by hand for the default pack on the
generated data (benchmarks/generate.py): read the same Parquet files into DuckDB, run
the pack as hand-written SQL (baseline.sql), write the actions as JSON Lines (one
object per action: policy, customer_id, as_of, key). No row checks, no ledger, no
contact rules, no point-of-sale views: the least work that yields the actions.
The last line on stdout is a JSON object with the actions per policy, so
bench_run.py can check both sides agree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
BASELINE_SQL = HERE / "baseline.sql"

# The canonical tables baseline.sql reads; the generator's files already use the
# canonical names, and the purchase date is the store-local date. The calendar,
# complaints and events are optional: without their file baseline.sql finds none.
LOAD_SQL = {
    "stores": "SELECT store_id, region FROM read_parquet($path)",
    "customers": "SELECT customer_id, CAST(birthday AS DATE) AS birthday, "
    "CAST(joined_on AS DATE) AS joined_on, referred_by, region, home_store "
    "FROM read_parquet($path)",
    "purchases": "SELECT purchase_id, customer_id, store_id, "
    "CAST(purchased_at AS TIMESTAMP) AS purchased_at, "
    "CAST(purchased_at AS DATE) AS purchase_date, CAST(amount AS DECIMAL(18, 3)) AS amount "
    "FROM read_parquet($path)",
    "calendar": "SELECT CAST(date AS DATE) AS date, name, kind, region "
    "FROM read_parquet($path)",
    "complaints": "SELECT complaint_id, customer_id, "
    "CAST(received_at AS TIMESTAMP) AS received_at FROM read_parquet($path)",
    "events": "SELECT event_id, kind, customer_id, "
    "CAST(occurred_at AS TIMESTAMP) AS occurred_at FROM read_parquet($path)",
}
OPTIONAL = ("calendar", "complaints", "events")


def run(data: Path, first: dt.date, last: dt.date, out: Path) -> dict[str, int]:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    for name, query in LOAD_SQL.items():
        path = data / f"{name}.parquet"
        if name in OPTIONAL and not path.exists():
            continue
        con.execute(f"CREATE TEMP TABLE {name} AS {query}", {"path": str(path)})
    con.execute("SET VARIABLE first_day = $d", {"d": first})
    con.execute("SET VARIABLE last_day = $d", {"d": last})
    script = BASELINE_SQL.read_text(encoding="utf-8")
    final = script.rindex("\nWITH\n")  # the last statement yields the actions
    con.execute(script[:final])
    con.execute("CREATE TEMP TABLE actions AS " + script[final:].strip().rstrip(";"))
    con.execute(
        "COPY (SELECT * FROM actions ORDER BY as_of, policy, customer_id, key) "
        "TO $out (FORMAT JSON)",
        {"out": str(out)},
    )
    rows = con.execute("SELECT policy, count(*) FROM actions GROUP BY policy").fetchall()
    return {policy: int(n) for policy, n in rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="a folder written by generate.py")
    parser.add_argument("--from", dest="first", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--to", dest="last", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--out", type=Path, required=True, help="the JSON Lines file")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.data_dir, args.first, args.last, args.out), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
