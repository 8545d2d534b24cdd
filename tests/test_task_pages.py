"""Task sheets for people: messages in the customer's language with every placeholder
filled or flagged, names and contact details with enrichment, and the same bytes from
`export` as from the run (docs/outputs.md, Task sheets)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.sinks import write_task_sheets
from loyaltyrules.sinks.directory import Directory, StaffCard, StoreCard
from loyaltyrules.sinks.message import choose_locale, message_for, render
from loyaltyrules.sinks.taskhtml import task_card
from loyaltyrules.sinks.taskview import view_tasks

from _paths import PACK

DAY = "2025-11-20"


def test_the_language_is_the_customers_else_the_stores_else_the_packs() -> None:
    texts = {"en": "Hi", "ko": "안녕", "zh": "你好"}
    assert choose_locale(texts, ["zh", "ko", "en"]) == "zh"
    assert choose_locale(texts, [None, "ko", "en"]) == "ko"
    assert choose_locale(texts, ["fr", None, "en"]) == "en"  # no French text: skipped
    assert choose_locale(texts, ["ko-KR", None, "en"]) == "ko"  # the language of ko-KR
    assert choose_locale({"en": "Hi", "en-GB": "Hello"}, ["en-GB"]) == "en-GB"


def test_rendering_fills_what_it_knows_and_lists_the_rest() -> None:
    message = render({"en": "Dear {name}, {{thanks}} from {store}!"}, ["en"],
                     {"store": "Harbour Street"}.get)
    assert message.text == "Dear {name}, {thanks} from Harbour Street!"
    assert message.missing == ("name",)


def directory(enrich: bool = True) -> Directory:
    con = duckdb.connect()
    con.execute("""CREATE TABLE customers AS SELECT * FROM (VALUES
        ('C1', 'ko', 'Mina Park', '010-1', NULL, NULL),
        ('C2', NULL, 'Jon Lee', NULL, NULL, '2 Road')) AS t(customer_id, locale, name, phone,
        email, address)""")
    con.execute("CREATE TABLE purchases AS SELECT 'P7' AS purchase_id, 'C2' AS customer_id")
    return Directory({"S1": StoreCard("S1", "Harbour Street", "zh", "Asia/Seoul")},
                     {"E1": StaffCard("E1", "Kim Hana", "S1", "store_manager")}, enrich, con)


def action(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "action_id": "a" * 32, "policy": "referral-thanks", "type": "sms",
        "customer_id": "C1", "store_id": "S1", "region": "north",
        "assignee": {"role": "store_manager", "id": None}, "not_before": DAY, "due_by": DAY,
        "as_of": DAY, "priority": 70, "template": "t", "params": {"discount_pct": 10.0},
        "reason": {"trigger": "first_purchase", "purchase_id": "P7",
                   "values": {"referrer.customer_id": "C1", "purchase.amount": "120.50"}}}
    base.update(changes)
    return base


def test_every_placeholder_source() -> None:
    texts = {"en": "{name} thanks {friend_name}; {staff_name} at {store}: {amount}, "
                   "{discount_pct}%, {purchase_id}, {due_by}",
             "ko": "{name} 고객님, {friend_name} 님 소개 감사합니다. {store} {staff_name}"}
    message = message_for(action(), texts, directory())
    assert message is not None and message.locale == "ko"  # C1 reads Korean
    assert message.text == "Mina Park 고객님, Jon Lee 님 소개 감사합니다. Harbour Street Kim Hana"
    english = message_for(action(), {"en": texts["en"]}, directory())
    assert english is not None
    assert english.text == ("Mina Park thanks Jon Lee; Kim Hana at Harbour Street: 120.50, "
                            f"10%, P7, {DAY}")
    welcome = message_for(action(customer_id="C2"), {"en": "Welcome {name}, from "
                                                           "{referrer_name}"}, directory())
    assert welcome is not None and welcome.text == "Welcome Jon Lee, from Mina Park"
    assert welcome.locale == "en"  # C2 has no locale, the store's (zh) has no text


def test_without_enrichment_no_customer_name_is_filled() -> None:
    message = message_for(action(), {"en": "{name} and {friend_name} at {store}"},
                          directory(enrich=False))
    assert message is not None
    assert message.text == "{name} and {friend_name} at Harbour Street"
    assert message.missing == ("name", "friend_name")


@pytest.fixture(scope="module")
def enriched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example store's night with enrichment on, run from its own folder."""
    folder = tmp_path_factory.mktemp("enriched")
    (folder / "loyaltyrules.toml").write_text("[sheets]\nenrich = true\n", encoding="utf-8")
    ran = CliRunner().invoke(cli, ["run", "--example", "--as-of", DAY, "--policies", str(PACK),
                                   "-q", "--config", str(folder / "loyaltyrules.toml"),
                                   "--state", str(folder / "state.sqlite"), "--out",
                                   str(folder / "out")])
    assert ran.exit_code == 0, ran.output
    return folder


def test_the_example_night_names_customers_and_speaks_their_languages(enriched: Path) -> None:
    sheets = enriched / "out" / f"tasks-{DAY}"
    markdown = (sheets / "S2-E4.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Tasks for Choi Minho, `E4` (store staff) at North Station")
    assert "- **Phone:** `000-0000-0178`" in markdown
    assert "> Customer 0178 고객님께 지난주 구매하신" in markdown
    assert "> 亲爱的Customer 0040，好久不见" in markdown
    assert "Choi Minho" in markdown.split("亲爱的")[1]  # {staff_name} filled
    everything = "".join(p.read_text(encoding="utf-8") for p in sheets.iterdir())
    assert "- **Check:**" not in everything
    languages = set(re.findall(r'<blockquote class="msg" lang="(\w+)"', everything))
    assert languages == {"en", "ko", "zh"}
    manager = (sheets / "S3-store_manager.md").read_text(encoding="utf-8")
    assert "Ellen Moss" in manager  # the one store manager of S3 (staff table)


def test_export_rebuilds_the_enriched_sheets_byte_for_byte(enriched: Path,
                                                           tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    shutil.copy(enriched / "state.sqlite", state)
    again = tmp_path / "again"
    args = ["export", "--as-of", DAY, "--state", str(state), "--out", str(again),
            "--policies", str(PACK), "--config", str(enriched / "loyaltyrules.toml")]
    done = CliRunner().invoke(cli, [*args, "--example"])
    assert done.exit_code == 0, done.output
    first, second = enriched / "out" / f"tasks-{DAY}", again / f"tasks-{DAY}"
    assert sorted(p.name for p in first.iterdir()) == sorted(p.name for p in second.iterdir())
    for path in first.iterdir():
        assert (second / path.name).read_bytes() == path.read_bytes(), path.name
    bare = CliRunner().invoke(cli, [*args[:6], str(tmp_path / "bare"), *args[7:9]])
    assert bare.exit_code == 0 and "task sheets show ids" in bare.output


def test_invitations_complaint_replies_in_hours_and_event_replies_read_in_words(
        tmp_path: Path) -> None:
    """What main's occasions hand the store: the gathering an invitation is for, the hour
    a complaint's reply is due, and the complaint or event a task answers."""
    whole = {"policy_version": 1, "bundle": "b" * 12}  # what a ledger's record has besides
    invite = action(**whole, action_id="b" * 32, type="invitation", template=None, params={},
                    invitation={"event_id": "vip-q4", "date": "2025-12-20", "capacity": 20},
                    reason={"trigger": "schedule", "values": {}})
    reply = action(**whole, action_id="c" * 32, type="call", template=None, params={},
                   due_at="2025-11-20T16:30:00+09:00",
                   reason={"trigger": "complaint", "complaint_id": "K-9", "values": {}})
    thanks = action(**whole, action_id="d" * 32, type="call", customer_id="C2", template=None,
                    params={}, reason={"trigger": "event", "event_id": "EV-3", "values": {}})
    views = view_tasks([invite, reply, thanks], directory(), None, {"referral-thanks": "Thanks"})
    cards = [task_card(view) for view in views]
    assert "Invite to <strong>vip-q4 on 2025-12-20 (Sat)</strong>" in cards[0]
    assert 'Phone: <a href="tel:0101">010-1</a>' in cards[0]  # invited by phone
    assert "Due by <strong>2025-11-20 (Thu) 16:30</strong>" in cards[1]
    assert "Thanks: reply to complaint K-9 on 2025-11-20" in cards[1]
    assert "Thanks: reply to event EV-3 on 2025-11-20" in cards[2]
    write_task_sheets([invite, reply, thanks], tmp_path / "sheets", None, "en",
                      {"referral-thanks": "Thanks"}, directory=directory())
    markdown = (tmp_path / "sheets" / "S1-store_manager.md").read_text(encoding="utf-8")
    assert "- **Invite to:** vip-q4 on 2025-12-20 (Sat)" in markdown
    assert f"- **When:** {DAY} .. 2025-11-20T16:30:00+09:00" in markdown
    assert "complaint `K-9`" in markdown and "event `EV-3`" in markdown
