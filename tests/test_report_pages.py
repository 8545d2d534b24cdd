"""Reports people can read: the period and bundle in every header, names where the data
has them, charts whose labels and legends stay inside (tests/test_browser.py checks
the same in a real browser)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from loyaltyrules.reports import Chart, Report, render_html, render_table, staff_report
from loyaltyrules.reports.header import churn_header, ledger_header, with_header
from loyaltyrules.reports.names import with_names
from loyaltyrules.reports.svg import WIDTH, bar_chart, text_width
from loyaltyrules.sinks.directory import Directory, StaffCard, StoreCard
from test_outcomes import action, make_ledger

D = dt.date
PEOPLE = Directory({"S1": StoreCard("S1", "North Plaza")},
                   {"E1": StaffCard("E1", "Kim Hana", "S1", "store_staff"),
                    "E9": StaffCard("E9", "Ellen Moss", "S1", "store_manager")})


def test_the_header_names_the_period_and_every_bundle(tmp_path: Path) -> None:
    old = {**action("a1"), "bundle": "aaaa"}
    ledger = make_ledger(tmp_path / "s.sqlite", [old, action("a2"), action("a3")])
    assert ledger_header(ledger, D(2025, 3, 1), D(2025, 3, 31)) == [
        ("period", "2025-03-01 to 2025-03-31"),
        ("bundle", "test (2 actions), aaaa (1 actions)")]
    assert ledger_header(ledger, D(2026, 1, 1), D(2026, 1, 2))[1] == (
        "bundle", "none (no actions in these dates)")
    assert churn_header(2025)[0] == ("period", "2024-01-01 to 2025-12-31 (2024 compared with "
                                               "2025)")


def test_names_follow_the_ids_in_table_and_charts(tmp_path: Path) -> None:
    ledger = make_ledger(tmp_path / "s.sqlite", [
        action("a1"), action("a2", staff=None, status_role="store_manager")])
    first, last = D(2025, 3, 1), D(2025, 3, 31)
    report = with_names(with_header(staff_report(ledger, first, last),
                                    ledger_header(ledger, first, last)), PEOPLE)
    assert report.columns[:5] == ["store", "store_name", "associate", "name", "channel"]
    names = {row[2]: row[3] for row in report.rows}
    assert names == {"E1": "Kim Hana", "store_manager:S1": "Ellen Moss", "(all)": ""}
    assert {row[0]: row[1] for row in report.rows} == {"S1": "North Plaza", "(all)": ""}
    assert report.charts[0].labels == ["S1 · Kim Hana (E1)", "S1 · Ellen Moss (store manager)"]
    table = render_table(report)
    assert "period: 2025-03-01 to 2025-03-31" in table and "bundle: test" in table
    page = render_html(report)
    assert "<b>Period:</b> 2025-03-01 to 2025-03-31" in page and "<b>Bundle:</b> test" in page
    assert "<th class=n>on time</th>" in page  # words, so headers wrap


def test_without_names_in_the_data_the_report_is_unchanged() -> None:
    report = Report("t", "s", ["store", "n"], [["S9", 1]])
    assert with_names(report, Directory()) is report


def svg_box(svg: str) -> tuple[int, int]:
    found = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert found
    return int(found.group(1)), int(found.group(2))


def test_a_long_legend_wraps_inside_the_chart() -> None:
    series = {f"policy-with-a-long-name-{n}": [1.0, 2.0] for n in range(9)}
    svg = bar_chart(Chart("Actions per week", ["2025-W01", "2025-W02"], series))
    width, height = svg_box(svg)
    assert width == WIDTH
    entries = re.findall(r'<rect x="(\d+)" y="(\d+)" width="10" height="10"[^>]*/>'
                         r'\n<text x="(\d+)" y="(\d+)">([^<]+)</text>', svg)
    assert len(entries) == 9 and len({y for _x, y, *_ in entries}) >= 3  # several rows
    for _x, _y, text_x, text_y, name in entries:
        assert int(text_x) + text_width(name) <= WIDTH and int(text_y) <= height


def test_long_labels_are_shortened_to_their_column_with_the_whole_text_kept() -> None:
    label = "A store with a very long name indeed · Associate with a long name (E12345)"
    svg = bar_chart(Chart("c", [label, "S1"], {"open": [3.0, 1.0]}))
    shown = re.search(r"<title>[^<]+</title>([^<]+)</text>", svg)
    assert shown and shown.group(1).endswith("…") and text_width(shown.group(1)) <= 240
    assert f"<title>{label}</title>" in svg
    assert text_width("고객님") == text_width("abcdef")  # wide characters count double
