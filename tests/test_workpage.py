"""The store work page over HTTP (the browser test drives it in Chromium): what it
lists, how it records an outcome (the import's path), and who may use it."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.examples import example_data_dir
from loyaltyrules.ledger import connect_state
from loyaltyrules.outcomes import import_outcomes
from loyaltyrules.reports.staff import staff_figures
from loyaltyrules.state import transaction
from loyaltyrules.statefile import as_state
from test_outcomes import action as ledger_action
from test_outcomes import make_ledger

from _paths import PACK
from _states import rows

pytest.importorskip("starlette")
with warnings.catch_warnings():  # starlette's notice about its httpx-based test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from loyaltyrules.service.app import create_app
from loyaltyrules.service.settings import ServiceSettings

DAY = "2025-11-20"
TOKEN = "a-long-service-token"


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ledger of the example store's night of DAY."""
    folder = tmp_path_factory.mktemp("night")
    ran = CliRunner().invoke(cli, ["run", "--example", "--as-of", DAY, "--state",
                                   str(folder / "state.sqlite"), "--out", str(folder / "out"),
                                   "--policies", str(PACK), "-q"])
    assert ran.exit_code == 0, ran.output
    return folder / "state.sqlite"


@pytest.fixture()
def state(night: Path, tmp_path: Path) -> Path:
    shutil.copy(night, tmp_path / "state.sqlite")
    return tmp_path / "state.sqlite"


def client(state: Path, token: str | None = None, enrich: bool = True,
           host: str = "127.0.0.1") -> TestClient:
    settings = ServiceSettings(policies=(PACK,), state=state, token=token, reload_interval=0,
                               data=example_data_dir(), enrich=enrich)
    return TestClient(create_app(settings), base_url=f"http://{host}",
                      raise_server_exceptions=False)


@pytest.fixture()
def local(state: Path) -> Iterator[TestClient]:
    with client(state) as opened:
        yield opened


def form_of(page: str, action_id: str) -> dict[str, str]:
    """The hidden fields of the task's form."""
    start = page.index(f"/tasks/{action_id}")
    fields = re.findall(r'name="(csrf|day)" value="([^"]*)"', page[start:start + 600])
    return dict(fields)


def outcomes(state: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(state) as conn:
        return conn.execute("SELECT action_id, status, staff_id, topic, completed_date "
                            "FROM outcomes").fetchall()


def first_task(page: str) -> str:
    found = re.search(r'action="/stores/S2/tasks/([0-9a-f]{32})"', page)
    assert found, page
    return found.group(1)


def test_the_page_lists_each_associates_open_tasks(local: TestClient) -> None:
    page = local.get(f"/stores/S2/today?day={DAY}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert "Tasks at North Station (S2)" in text
    assert '<section id="who-S2-E4"><h2>Choi Minho' in text  # names from the staff table
    assert "3 open" in text and text.count('<form class="outcome"') == 3
    assert '<a href="tel:00000000178">000-0000-0178</a>' in text  # enrichment on
    assert "Customer 0178 고객님께" in text  # the message in the customer's language
    assert "{" not in re.sub(r"<style>.*?</style>", "", text, flags=re.S)


def test_without_enrichment_no_contact_detail_reaches_the_page(state: Path) -> None:
    with client(state, enrich=False) as opened:
        text = opened.get(f"/stores/S2/today?day={DAY}").text
    assert "000-0000-" not in text and "Customer 0178" not in text
    assert "names and contact details are off" in text and "C0178" in text


def test_marking_a_task_done_records_the_outcome_as_an_import_would(
        local: TestClient, state: Path) -> None:
    page = local.get(f"/stores/S2/today?day={DAY}").text
    action_id = first_task(page)
    answer = local.post(f"/stores/S2/tasks/{action_id}", data={
        **form_of(page, action_id), "status": "done", "topic": "region",
        "note": "called Ms Kim on 010-9999-1234"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith(f"/stores/S2/today?day={DAY}&recorded=")
    [(recorded, status, staff, topic, _day)] = outcomes(state)
    assert (recorded, status, staff, topic) == (action_id, "done", "E4", "region")
    assert b"010-9999-1234" not in state.read_bytes()  # the note is never stored
    after = local.get(answer.headers["location"]).text
    assert "Recorded: done" in after and "2 open" in after and "<h2>Recorded</h2>" in after
    # The same outcome imported as a file is the same outcome: nothing changes.
    with sqlite3.connect(state) as conn:
        stamp = conn.execute("SELECT completed_at FROM outcomes").fetchone()[0]
    file = state.with_name("again.csv")
    file.write_text(f"action_id,status,completed_at,staff_id,topic\n"
                    f"{action_id},done,{stamp},E4,region\n", encoding="utf-8")
    assert import_outcomes(state, file).unchanged == 1


@pytest.mark.parametrize(("change", "status"), [
    ({"csrf": "0" * 64}, 403),
    ({"csrf": None}, 403),
    ({"status": "finished"}, 400),
    ({"topic": "weather"}, 400),
])
def test_bad_forms_are_refused_and_nothing_is_recorded(
        local: TestClient, state: Path, change: dict[str, Any], status: int) -> None:
    page = local.get(f"/stores/S2/today?day={DAY}").text
    action_id = first_task(page)
    fields = {**form_of(page, action_id), "status": "done"}
    fields.update(change)
    answer = local.post(f"/stores/S2/tasks/{action_id}",
                        data={k: v for k, v in fields.items() if v is not None})
    assert answer.status_code == status
    assert outcomes(state) == []


def test_another_stores_task_or_an_unknown_one_is_not_found(
        local: TestClient, state: Path) -> None:
    page = local.get(f"/stores/S2/today?day={DAY}").text
    action_id = first_task(page)
    fields = {**form_of(page, action_id), "status": "done"}
    assert local.post(f"/stores/S1/tasks/{action_id}", data=fields).status_code == 404
    assert local.post(f"/stores/S2/tasks/{'f' * 32}", data=fields).status_code == 404
    assert outcomes(state) == []


def test_a_post_from_another_site_is_refused(local: TestClient, state: Path) -> None:
    page = local.get(f"/stores/S2/today?day={DAY}").text
    action_id = first_task(page)
    fields = {**form_of(page, action_id), "status": "done"}
    for headers in ({"origin": "http://evil.example"}, {"sec-fetch-site": "cross-site"}):
        answer = local.post(f"/stores/S2/tasks/{action_id}", data=fields, headers=headers)
        assert answer.status_code == 403
    assert outcomes(state) == []


def test_without_a_token_only_a_loopback_host_is_served(state: Path) -> None:
    with client(state, host="rebound.example") as opened:
        assert opened.get(f"/stores/S2/today?day={DAY}").status_code == 403


def test_with_a_token_a_browser_signs_in_and_gets_a_session_cookie(state: Path) -> None:
    with client(state, token=TOKEN, host="shop.example") as opened:
        first = opened.get(f"/stores/S2/today?day={DAY}", follow_redirects=False)
        assert first.status_code == 303
        assert first.headers["location"] == f"/login?next=/stores/S2/today%3Fday%3D{DAY}"
        assert opened.get("/v1/bundle").status_code == 401
        wrong = opened.post("/login", data={"token": "guess", "next": "/stores/S2/today"})
        assert wrong.status_code == 401 and "lr_session" not in opened.cookies
        evil = opened.post("/login", data={"token": TOKEN, "next": "https://evil.example/"},
                           follow_redirects=False)
        assert evil.headers["location"] == "/login"  # no open redirect
        signed = opened.post("/login", data={"token": TOKEN, "next": f"/stores/S2/today?day={DAY}"},
                             follow_redirects=False)
        assert signed.status_code == 303
        assert signed.headers["location"] == f"/stores/S2/today?day={DAY}"
        set_cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
        assert opened.get(f"/stores/S2/today?day={DAY}").status_code == 200
        # The session opens the work page, not the API: hosts keep the bearer token.
        assert opened.get("/v1/bundle").status_code == 401
        opened.cookies.set("lr_session", signed.cookies["lr_session"][:-4] + "0000")
        assert opened.get(f"/stores/S2/today?day={DAY}",
                          follow_redirects=False).status_code == 303


def test_a_bearer_token_opens_the_page_too(state: Path) -> None:
    with client(state, token=TOKEN) as opened:
        page = opened.get(f"/stores/S2/today?day={DAY}",
                          headers={"authorization": f"Bearer {TOKEN}"})
        assert page.status_code == 200 and "Choi Minho" in page.text


def test_a_bad_day_is_a_clear_error(local: TestClient) -> None:
    answer = local.get("/stores/S2/today?day=2025-13-45")
    assert answer.status_code == 400 and "YYYY-MM-DD" in answer.text


def test_on_either_state_store_invitations_and_calls_are_recorded_and_counted(
        any_state: str) -> None:
    """The page reads and records through the state store (SQLite or PostgreSQL); an
    invitation offers the customer's answers, and `report staff` counts what was tapped."""
    call = ledger_action("call-1", "call", as_of=DAY, due_by=DAY, staff="E4", store="S2")
    invite = {**ledger_action("inv-1", "invitation", as_of=DAY, due_by=DAY, staff="E4",
                              store="S2"),
              "invitation": {"event_id": "vip-q4", "date": "2025-12-20", "capacity": 20}}
    make_ledger(any_state, [call, invite])
    handed_out(any_state)
    with client(as_state(any_state)) as opened:  # type: ignore[arg-type]
        page = opened.get(f"/stores/S2/today?day={DAY}").text
        assert "2 open" in page and "Invite to <strong>vip-q4 on 2025-12-20 (Sat)" in page
        start = page.index(f"/tasks/{invite['action_id']}")
        buttons = re.findall(r'name="status" value="(\w+)"', page[start:start + 1500])
        assert buttons == ["accepted", "attended", "declined", "unreachable"]
        fields = form_of(page, invite["action_id"])
        wrong = opened.post(f"/stores/S2/tasks/{invite['action_id']}",
                            data={**fields, "status": "done"})
        assert wrong.status_code == 400 and "Accepted, Attended" in wrong.text
        for action, status in ((invite, "accepted"), (call, "done")):
            answer = opened.post(f"/stores/S2/tasks/{action['action_id']}",
                                 data={**fields, "status": status}, follow_redirects=False)
            assert answer.status_code == 303, answer.text
        after = opened.get(f"/stores/S2/today?day={DAY}").text
        assert "0 open" in after and "Accepted: invitation" in after
    assert sorted(rows(any_state, "SELECT status, staff_id FROM outcomes")) == [
        ("accepted", "E4"), ("done", "E4")]
    figures = staff_figures(any_state, dt.date(2025, 11, 1), dt.date(2025, 11, 30))
    counted = figures["S2", "E4"]
    assert (counted["all"].done, counted["invitations"].accepted, counted["calls"].done) == (
        2, 1, 1)


def handed_out(state: str) -> None:
    """What the run's contact rules do to a new action: its contact day is its day."""
    conn = connect_state(state)
    try:
        with transaction(conn):
            conn.execute("UPDATE actions SET contact_day = as_of")
    finally:
        conn.close()
