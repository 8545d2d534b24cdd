"""Reports on hand-made fixtures; expected figures worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from loyaltyrules.outcomes import import_outcomes
from loyaltyrules.reports import (
    churn_report,
    churn_rows,
    render_csv,
    render_html,
    render_table,
    staff_figures,
    staff_report,
    volume_counts,
    volumes_report,
)
from loyaltyrules.sources import open_source
from test_outcomes import action, make_ledger, write_csv

D = dt.date
MARCH = (D(2025, 3, 1), D(2025, 3, 31))


@pytest.fixture()
def ledger(tmp_path: Path) -> Path:
    acts = {
        "a1": action("a1", "call"), "a2": action("a2", "sms", as_of="2025-03-09"),
        "a3": action("a3", "visit", as_of="2025-03-10"), "a4": action("a4", "letter"),
        "a5": action("a5", "email", staff="E2", store="S2"), "a6": action("a6", staff="E2"),
        "a7": action("a7", "tier_change", staff="E2"), "a8": action("a8", as_of="2025-04-02"),
        "a9": action("a9", staff=None, policy="lapsed-contact", status_role="store_manager"),
        "a10": action("a10", as_of="2024-12-30", due_by="2025-01-06"),
        "a11": action("a11", "invitation", staff="E2"), "a12": action("a12", "invitation",
                                                                      staff="E2"),
        "a13": action("a13", "invitation", staff="E2"),
    }
    db = make_ledger(tmp_path / "s.sqlite", list(acts.values()))
    rows = [("a1", "done", "2025-03-10T18:00:00"),   # on time (the due day itself)
            ("a2", "done", "2025-03-11T09:00:00"),   # late
            ("a3", "failed", "2025-03-10T09:00:00"),  # still open
            ("a5", "declined", "2025-03-05T09:00:00"),
            ("a6", "unreachable", "2025-03-05T09:00:00"),  # still open
            ("a9", "done", "2025-03-09T09:00:00"),   # on time, role task
            ("a11", "accepted", "2025-03-05T09:00:00"),  # invitations: accepted, on time
            ("a12", "attended", "2025-03-20T19:00:00")]  # came (after the due day)
    import_outcomes(db, write_csv(tmp_path / "o.csv", [
        f"{acts[k]['action_id']},{s},{t},,," for k, s, t in rows]), today=D(2025, 6, 1))
    return db


def test_staff_figures(ledger: Path) -> None:
    got = {who: {ch: f.values() for ch, f in by.items()}
           for (store, who), by in staff_figures(ledger, *MARCH).items() if store == "S1"}
    # assigned, done, on_time, late, declined, open, accepted, attended. a7 (tier change)
    # and a8 (April) left out; an accepted or attended invitation is done.
    none = [0] * 8
    assert got == {
        "E1": {"calls": [1, 1, 1, 0, 0, 0, 0, 0], "messages": [2, 1, 0, 1, 0, 1, 0, 0],
               "visits": [1, 0, 0, 0, 0, 1, 0, 0], "invitations": none,
               "all": [4, 2, 1, 1, 0, 2, 0, 0]},
        "E2": {"calls": [1, 0, 0, 0, 0, 1, 0, 0], "messages": none,
               "visits": none, "invitations": [3, 2, 1, 1, 0, 1, 2, 1],
               "all": [4, 2, 1, 1, 0, 2, 2, 1]},
        "store_manager:S1": {"calls": [1, 1, 1, 0, 0, 0, 0, 0], "messages": none,
                             "visits": none, "invitations": none,
                             "all": [1, 1, 1, 0, 0, 0, 0, 0]},
    }
    # E2 also works for S2: HQ sees that store's follow-up on a row of its own.
    elsewhere = staff_figures(ledger, *MARCH)["S2", "E2"]
    assert elsewhere["messages"].values() == [1, 0, 0, 0, 1, 0, 0, 0]
    report = staff_report(ledger, *MARCH)
    assert report.rows[-1] == ["(all)", "(all)", "all", 10, 5, 3, 2, 1, 4, 2, 1]
    assert ("done on time (share of assigned)", "30.0%") in report.facts
    assert ("invitations accepted", 2) in report.facts


def test_volumes(ledger: Path) -> None:
    assert dict(volume_counts(ledger, D(2024, 12, 1), D(2025, 4, 30))) == {
        ("2025-W01", "big-purchase-call", "S1"): 1,  # 2024-12-30 is in ISO 2025-W01
        ("2025-W10", "big-purchase-call", "S1"): 8,  # a1 a2 (Sunday 9th) a4 a6 a7 a11-13
        ("2025-W10", "big-purchase-call", "S2"): 1,
        ("2025-W10", "lapsed-contact", "S1"): 1,
        ("2025-W11", "big-purchase-call", "S1"): 1,  # a3, Monday 10th
        ("2025-W14", "big-purchase-call", "S1"): 1,
    }
    facts = volumes_report(ledger, *MARCH).facts
    assert facts[0] == ("actions", 11)
    assert facts[-3:] == [("invitations sent", 3), ("invitations accepted", 2),
                          ("invitations attended", 1)]


CUSTOMERS = "customer_id,name\nC1,A\nC2,B\nC3,C\nC4,D\nC5,E\n"
STORES = "store_id,region,name,timezone\nS1,north,One,UTC\nS2,north,Two,UTC\n"
PURCHASES = """purchase_id,customer_id,store_id,staff_id,purchased_at,amount
P1,C1,S1,E1,2024-03-01T10:00:00,100.00
P2,C1,S1,E1,2024-06-01T10:00:00,300.00
P3,C1,S2,E2,2024-11-01T10:00:00,200.00
P4,C1,S2,E2,2024-11-05T10:00:00,-50.00
P5,C1,S1,E1,2025-02-01T10:00:00,80.00
P6,C2,S1,E1,2024-05-01T10:00:00,500.00
P7,C3,S2,,2024-12-31T20:00:00,250.00
P8,C3,S2,,2025-01-10T10:00:00,-250.00
P9,C4,S1,E1,2023-05-01T10:00:00,1000.00
P10,C5,S1,E1,2025-03-01T10:00:00,400.00
P11,,S1,E1,2024-04-01T10:00:00,999.00
"""


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name, text in (("customers", CUSTOMERS), ("stores", STORES), ("purchases", PURCHASES)):
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def test_churn(store: Path) -> None:
    con = open_source(store, as_of_limit=D(2025, 12, 31)).connection
    # Active 2024: C1, C2, C3 (C4 only 2023, C5 only 2025, P11 anonymous). C1 bought again
    # in 2025; C3's 2025 receipt is a return, so C2 and C3 are lost: 2 / 3.
    # Spend 2024: C1 100+300+200-50 = 550, C2 500, C3 250 = 1300 over 5 visits:
    # 260.00 per visit, 5/3 = 1.67 visits a year, x 3 years = 1300.00 each; 2 lost: 2600.00.
    # C1's last 2024 purchase was at S2 with E2; C3's at S2 with no associate.
    expected = [
        ["(all)", "(all)", 3, 2, "0.6667", "260.00", "1.67", "1300.00", "2600.00"],
        ["S1", "(all)", 1, 1, "1.0000", "500.00", "1.00", "1500.00", "1500.00"],
        ["S1", "E1", 1, 1, "1.0000", "500.00", "1.00", "1500.00", "1500.00"],
        ["S2", "(all)", 2, 1, "0.5000", "200.00", "2.00", "1200.00", "1200.00"],
        ["S2", "(none)", 1, 1, "1.0000", "250.00", "1.00", "750.00", "750.00"],
        ["S2", "E2", 1, 0, "0.0000", "183.33", "3.00", "1650.00", "0.00"],
    ]
    report = churn_report(con, 2025, Decimal(3))
    assert [[str(c) for c in row] for row in report.rows] == [
        [str(c) for c in row] for row in expected]
    assert ("churn rate", "66.67%") in report.facts
    # C4 was active in 2023 and not in 2024, so 2024's churn has exactly one lost customer.
    assert churn_rows(con, 2024)[0].active == 1 and churn_rows(con, 2024)[0].lost == 1


def test_renderers(ledger: Path, store: Path) -> None:
    con = open_source(store, as_of_limit=D(2025, 12, 31)).connection
    for report in (staff_report(ledger, *MARCH), churn_report(con, 2025),
                   volumes_report(ledger, *MARCH)):
        page = render_html(report)
        assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<table>" in page
        assert not re.search(r"(src|href)\s*=", page, re.I)
        assert "http://" not in page and "https://" not in page and "<script" not in page
        csv_text = render_csv(report)
        assert csv_text.splitlines()[0] == ",".join(report.columns)
        assert len(csv_text.splitlines()) == len(report.rows) + 1
        assert report.title in render_table(report)
