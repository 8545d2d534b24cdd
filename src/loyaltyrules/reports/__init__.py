"""The playbook's reports: staff review, churn, action volumes; table, CSV or HTML.

See docs/reports.md.
"""

from .churn import DEFAULT_EXPECTED_YEARS, churn_report, churn_rows
from .model import Chart, Report
from .render import render_csv, render_html, render_table
from .staff import staff_figures, staff_report
from .volumes import volume_counts, volumes_report

__all__ = [
    "DEFAULT_EXPECTED_YEARS", "Chart", "Report", "churn_report", "churn_rows", "render_csv",
    "render_html", "render_table", "staff_figures", "staff_report", "volume_counts",
    "volumes_report",
]  # fmt: skip
