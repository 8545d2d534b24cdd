"""What store staff and managers see, in a real browser: headless Chromium (Debian's
package) driven by Playwright.

* the example store's task sheets and each report, screenshotted at a phone's width,
  at 700 px, on a desktop and as printed on A4: nothing reaches past the page, every
  chart text and legend lies inside its chart, no placeholder is left;
* the store work page: signing in with the token, marking a task done, and the
  outcome in the ledger and in `report staff`.

Without Chromium or Playwright the tests skip with the reason, unless
LOYALTYRULES_BROWSER_TESTS=required (set by .ci/run): then they fail.
Screenshots go to the test's temporary folder, or to LOYALTYRULES_SCREENSHOTS.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _paths import PACK
from _service import start_serve

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REQUIRED = os.environ.get("LOYALTYRULES_BROWSER_TESTS") == "required"
DAY = "2025-11-20"
TOKEN = "browser-test-token-0123456789"
PHONE, PAGE, DESKTOP = 390, 700, 1280
A4_CONTENT = 703  # 210 mm less 2 x 12 mm of margin, at 96 px per inch
PLACEHOLDER = re.compile(r"\{[a-z_][a-z0-9_]*\}")
LAYOUT_CHECK = """() => {
  const width = document.documentElement.clientWidth, problems = [];
  if (document.documentElement.scrollWidth > width + 1)
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -0.5 || r.right > width + 0.5)
      problems.push(`${el.tagName} "${(el.textContent || "").trim().slice(0, 40)}" spans ` +
                    `${Math.round(r.left)}..${Math.round(r.right)} of ${width}`);
  }
  for (const svg of document.querySelectorAll("svg")) {
    const box = svg.viewBox.baseVal;
    for (const item of svg.querySelectorAll("text, rect")) {
      const b = item.getBBox();
      if (b.x < box.x - 0.5 || b.y < box.y - 0.5 || b.x + b.width > box.x + box.width + 0.5
          || b.y + b.height > box.y + box.height + 0.5)
        problems.push(`chart ${item.tagName} "${item.textContent}" lies outside its chart`);
    }
  }
  return problems;
}"""


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install '.[test]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (Debian: apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if REQUIRED:
            pytest.fail(f"browser tests are required here, but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver, tempfile.TemporaryDirectory() as profile:
        context = driver.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield context
        context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("LOYALTYRULES_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cli(*args: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "loyaltyrules", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example store with enrichment on: six weeks caught up, then the night of DAY;
    and its three reports as HTML."""
    folder = tmp_path_factory.mktemp("store")
    (folder / "loyaltyrules.toml").write_text("[sheets]\nenrich = true\n", encoding="utf-8")
    common = ["--example", "--policies", str(PACK), "-q"]
    cli("run", "--as-of", "2025-10-01", "--through", "2025-11-19", *common, cwd=folder)
    cli("run", "--as-of", DAY, *common, cwd=folder)
    span = ["--from", "2025-10-01", "--to", DAY, "--example", "--format", "html"]
    cli("report", "staff", *span, "--out", "staff.html", cwd=folder)
    cli("report", "actions", *span, "--out", "actions.html", cwd=folder)
    cli("report", "churn", "--year", "2025", "--example", "--format", "html", "--out",
        "churn.html", cwd=folder)
    return folder


def png_width(data: bytes) -> int:
    return int(struct.unpack(">I", data[16:20])[0])


def look(browser: Any, url: str, width: int, shots: Path, name: str,
         media: str = "screen") -> tuple[list[str], str]:
    """Open `url` at `width`, save a full-page screenshot; (layout problems, text)."""
    page = browser.new_page()
    try:
        page.set_viewport_size({"width": width, "height": 900})
        page.emulate_media(media=media)
        page.goto(url)
        shot = page.screenshot(path=str(shots / f"{name}-{width}-{media}.png"), full_page=True)
        problems: list[str] = page.evaluate(LAYOUT_CHECK)
        if png_width(shot) != width:
            problems.append(f"the screenshot is {png_width(shot)} px wide, not {width}")
        return problems, page.inner_text("body")
    finally:
        page.close()


def checked(browser: Any, url: str, shots: Path, name: str, widths: tuple[int, ...]) -> str:
    """The page's text after checking it at every width and in print: nothing clipped."""
    text = ""
    for width, media in [*((w, "screen") for w in widths), (A4_CONTENT, "print")]:
        problems, text = look(browser, url, width, shots, name, media)
        assert problems == [], f"{name} at {width} px ({media}): {problems}"
    return text


def test_the_nights_task_sheets_show_names_phones_and_messages_in_three_languages(
        browser: Any, store: Path, shots: Path) -> None:
    folder = store / "out" / f"tasks-{DAY}"
    pages = sorted(folder.glob("S*.html"))
    assert len(pages) >= 5
    languages: set[str] = set()
    for sheet in [folder / "index.html", *pages]:
        text = checked(browser, sheet.as_uri(), shots, sheet.stem, (PHONE, PAGE))
        assert not PLACEHOLDER.search(text), f"{sheet.name}: {PLACEHOLDER.search(text)}"
        html = sheet.read_text(encoding="utf-8")
        assert "<mark>{" not in html and "task flagged" not in html
        languages |= set(re.findall(r'<blockquote class="msg" lang="([a-z]{2})"', html))
        if sheet.name != "index.html":
            # a phone for calls and messages, the address for an e-mail reply
            contact = r"000-0000-\d{4}|c\d{4}@example\.invalid"
            assert re.search(r"Customer \d{4}", text) and re.search(contact, text)
    assert languages == {"en", "zh", "ko"}
    e4 = (folder / "S2-E4.html").read_text(encoding="utf-8")
    assert "Tasks for Choi Minho" in e4 and "North Station (S2)" in e4
    assert "Customer 0178 고객님께" in e4 and "亲爱的Customer 0040" in e4


def test_the_sheets_print_on_a4_and_letter(browser: Any, store: Path, shots: Path) -> None:
    page = browser.new_page()
    try:
        page.goto((store / "out" / f"tasks-{DAY}" / "S2-E4.html").as_uri())
        for paper in ("A4", "Letter"):
            pdf = page.pdf(path=str(shots / f"S2-E4-{paper}.pdf"), format=paper)
            assert pdf.startswith(b"%PDF") and b"/Type /Page" in pdf
    finally:
        page.close()


@pytest.mark.parametrize("report", ["staff", "actions", "churn"])
def test_each_report_fits_the_page_with_whole_legends(
        browser: Any, store: Path, shots: Path, report: str) -> None:
    path = store / f"{report}.html"
    text = checked(browser, path.as_uri(), shots, report, (PAGE, DESKTOP))
    assert "Period:" in text and "Bundle:" in text and not PLACEHOLDER.search(text)
    html = path.read_text(encoding="utf-8")
    assert html.count("<svg") >= 1
    if report != "actions":
        assert "Kim Hana" in text  # associates named from the staff table
    if report == "actions":
        legend = re.findall(r'<rect x="\d+" y="\d+" width="10" height="10"', html)
        assert len(legend) >= 8  # two charts, four policies or more each: legends wrap


def outcome_rows(state: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(state) as conn:
        return conn.execute("SELECT action_id, status, staff_id FROM outcomes").fetchall()


def test_an_associate_marks_a_task_done_on_the_work_page(
        browser: Any, store: Path, shots: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    shutil.copy(store / "loyaltyrules-state.sqlite", state)
    log = tmp_path / "serve.log"
    server, base = start_serve(state, "--example", "--config", str(store / "loyaltyrules.toml"),
                               env={"LOYALTYRULES_TOKEN": TOKEN}, log=log)
    page = browser.new_page()
    try:
        page.set_viewport_size({"width": PHONE, "height": 844})
        page.goto(f"{base}/stores/S2/today?day={DAY}")
        assert "/login" in page.url
        page.fill("input[name=token]", TOKEN)
        page.click("button[type=submit]")
        page.wait_for_url(f"**/stores/S2/today?day={DAY}")
        problems = page.evaluate(LAYOUT_CHECK)
        page.screenshot(path=str(shots / "work-page-390.png"), full_page=True)
        assert problems == []
        task = page.locator("article.task").filter(has_text="Customer 0178")
        action_id = task.get_attribute("id").removeprefix("t-")
        task.locator("summary").click()
        task.locator("textarea[name=note]").fill("Ms Kim asked about 010-4444-5555")
        task.locator("button[value=done]").click()
        page.wait_for_url("**recorded=*")
        assert "Recorded: done" in page.inner_text("body")
        assert page.locator(f"#t-{action_id}").count() == 0  # no longer open
        page.screenshot(path=str(shots / "work-page-recorded-390.png"), full_page=True)
    finally:
        page.close()
        server.terminate()
        server.wait(timeout=30)
    assert outcome_rows(state) == [(action_id, "done", "E4")]
    assert b"010-4444-5555" not in state.read_bytes()
    served = log.read_text(encoding="utf-8")
    assert "Customer 0178" not in served and "000-0000-" not in served and "010-4444" not in served
    report = cli("report", "staff", "--from", DAY, "--to", DAY, "--state", str(state),
                 "--format", "csv", cwd=tmp_path)
    rows = list(csv.DictReader(io.StringIO(report.lstrip("\ufeff"))))
    e4 = next(r for r in rows if r["associate"] == "E4" and r["channel"] == "calls")
    assert (e4["assigned"], e4["done"], e4["open"]) == ("1", "1", "0")
