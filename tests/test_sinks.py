"""The output sinks: JSON Lines, CSV and task sheets (docs/outputs.md)."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from jsonschema import Draft202012Validator

from loyaltyrules.contact import DEFAULT_RULES, Known, Rules, StoreCalendar, decide_day
from loyaltyrules.sinks import (
    ACTION_FIELDS,
    CSV_COLUMNS,
    ActionRecordError,
    CsvSink,
    JsonlSink,
    TaskSheetSink,
    sinks_for,
    write_csv,
    write_jsonl,
    write_task_sheets,
)
from loyaltyrules.sinks.directory import Directory, StaffCard, StoreCard
from loyaltyrules.sinks.record import (
    ASSIGNEE_FIELDS,
    MERGED_FIELDS,
    MERGED_REASON_FIELDS,
    REASON_FIELDS,
)

ROOT = Path(__file__).resolve().parents[1]
ACTION_SCHEMA = json.loads((ROOT / "schemas" / "action.schema.json").read_text("utf-8"))
VALIDATOR = Draft202012Validator(ACTION_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)

BASE: dict[str, Any] = {
    "action_id": "ef9cbcbd6ae28eaca306581d69b3f142", "policy": "big-purchase-call",
    "policy_version": 1, "bundle": "56220bed22b47adf", "type": "call", "customer_id": "C1",
    "store_id": "S1", "region": "north", "assignee": {"role": "store_staff", "id": "E7"},
    "not_before": "2025-11-21", "due_by": "2025-11-28", "valid_until": "2025-11-28",
    "as_of": "2025-11-21",
    "priority": 60, "template": "big-purchase-call", "params": {"amount": 2350.0},
    "reason": {"trigger": "purchase", "purchase_id": "P9",
               "values": {"purchase.amount": "2350.00", "params.threshold": "2000.00"}},
}
TEMPLATES = {
    "big-purchase-call": {"en": "Call {customer_id} about their purchase of {amount}.",
                          "ko": "{customer_id} 고객님께 {amount} 구매 관련 전화."},
    "birthday-greeting": {"en": "Happy birthday, {customer_id}!"},
}
TITLES = {"big-purchase-call": "Follow-up call after a big purchase"}


def make(n: int, **changes: Any) -> dict[str, Any]:
    action = copy.deepcopy(BASE)
    action["action_id"] = f"{n:032x}"
    action.update(changes)
    return action


def varied_actions() -> list[dict[str, Any]]:
    return [
        make(1),
        make(2, assignee={"role": "store_manager", "id": None}, template=None, params={}),
        make(3, type="tier_change", customer_id="Ç-顧客-7", reason={"trigger": "upgrade"},
             params={"tier": "gold", "discount_pct": 12, "ok": True, "note": None}),
        make(4, policy="birthday-greeting", type="sms", template="birthday-greeting",
             reason={"trigger": "schedule", "purchase_id": None, "values": {}}),
    ]


def shuffled(action: Mapping[str, Any]) -> dict[str, Any]:
    """The same record with its keys (and nested keys) in reverse order."""
    out = {key: action[key] for key in reversed(list(action))}
    out["assignee"] = {key: action["assignee"][key] for key in reversed(list(action["assignee"]))}
    out["reason"] = {key: action["reason"][key] for key in reversed(list(action["reason"]))}
    return out


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def failing_after(count: int) -> Iterator[dict[str, Any]]:
    """Actions that break off with an error after `count` of them: a crash mid-write."""
    for n in range(count):
        yield make(100 + n)
    raise RuntimeError("disk on fire")


# ---------------------------------------------------------------- the record


def test_field_order_is_the_schema_order() -> None:
    props = ACTION_SCHEMA["properties"]
    assert tuple(props) == ACTION_FIELDS
    assert tuple(props["assignee"]["properties"]) == ASSIGNEE_FIELDS
    assert tuple(props["reason"]["properties"]) == REASON_FIELDS
    merged = props["reason"]["properties"]["merged"]["items"]
    assert tuple(merged["properties"]) == MERGED_FIELDS
    assert tuple(merged["properties"]["reason"]["properties"]) == MERGED_REASON_FIELDS


def test_the_sample_actions_are_valid_records() -> None:
    for action in varied_actions():
        VALIDATOR.validate(action)


# ---------------------------------------------------------------- JSON Lines


def test_every_jsonl_line_validates(tmp_path: Path) -> None:
    out = tmp_path / "actions.jsonl"
    assert write_jsonl([shuffled(a) for a in varied_actions()], out) == 4
    lines = out.read_text("utf-8").splitlines()
    assert len(lines) == 4
    for line in lines:
        VALIDATOR.validate(json.loads(line))


def test_jsonl_round_trip_keeps_values_and_schema_order(tmp_path: Path) -> None:
    actions = varied_actions()
    out = tmp_path / "actions.jsonl"
    write_jsonl([shuffled(a) for a in actions], out)
    back = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert back == actions
    for record in back:
        assert list(record) == [k for k in ACTION_FIELDS if k in record]
        assert set(ACTION_FIELDS) - set(record) <= {"due_at", "invitation"}
        assert tuple(record["assignee"]) == ASSIGNEE_FIELDS
        assert list(record["reason"]) == [k for k in REASON_FIELDS if k in record["reason"]]


def test_jsonl_is_compact_utf8_one_line_each(tmp_path: Path) -> None:
    out = tmp_path / "actions.jsonl"
    write_jsonl(varied_actions(), out)
    raw = out.read_bytes()
    assert raw.endswith(b"\n") and b"\r" not in raw and not raw.startswith(b"\xef\xbb\xbf")
    assert "Ç-顧客-7".encode() in raw  # UTF-8 as is, not \u escapes
    assert b", " not in raw.split(b"\n")[0] and b'": ' not in raw


def test_jsonl_turns_decimals_and_dates_into_json() -> None:
    from loyaltyrules.sinks import action_line

    line = action_line(make(1, params={"a": Decimal("12"), "b": Decimal("2.5"),
                                       "d": dt.date(2025, 1, 2)}))
    assert json.loads(line)["params"] == {"a": 12, "b": 2.5, "d": "2025-01-02"}


def test_jsonl_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    print("before")
    assert write_jsonl(varied_actions(), "-") == 4
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "before"
    assert [json.loads(line) for line in out[1:]] == varied_actions()


def test_empty_action_list_gives_an_empty_file(tmp_path: Path) -> None:
    out = tmp_path / "actions.jsonl"
    out.write_text("old\n")
    assert write_jsonl([], out) == 0
    assert out.read_bytes() == b""


@pytest.mark.parametrize("broken, message", [
    ({**BASE, "phone": "+1 555"}, "unknown field 'phone'"),
    ({k: v for k, v in BASE.items() if k != "due_by"}, "missing field 'due_by'"),
    ({**BASE, "assignee": {"role": "store_staff"}}, "assignee: missing field 'id'"),
    ({**BASE, "reason": {"trigger": "purchase", "x": 1}}, "reason: unknown field 'x'"),
    ({**BASE, "assignee": None}, "assignee: expected an object"),
    ({**BASE, "reason": {"trigger": "purchase", "merged": {"action_id": "x"}}},
     "reason.merged: expected a list"),
    ({**BASE, "reason": {"trigger": "purchase", "merged": [
        {"action_id": "x", "policy": "p", "type": "call", "reason": {"trigger": "schedule"},
         "phone": "+1 555"}]}}, r"reason.merged\[0\]: unknown field 'phone'"),
    ({**BASE, "reason": {"trigger": "purchase", "merged": [
        {"action_id": "x", "policy": "p", "type": "call", "reason": {"values": {}}}]}},
     r"reason.merged\[0\], reason: missing field 'trigger'"),
])
def test_a_malformed_record_is_refused_and_the_old_file_kept(
        tmp_path: Path, broken: dict[str, Any], message: str) -> None:
    out = tmp_path / "actions.jsonl"
    out.write_text("previous\n")
    with pytest.raises(ActionRecordError, match=message):
        write_jsonl([make(1), broken], out)
    assert out.read_text() == "previous\n"
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- atomicity


@pytest.mark.parametrize("write", [write_jsonl, write_csv])
def test_a_failure_mid_write_leaves_the_previous_file(tmp_path: Path, write: Any) -> None:
    out = tmp_path / "out"
    write([make(1)], out)
    before = out.read_bytes()
    with pytest.raises(RuntimeError, match="disk on fire"):
        write(failing_after(3), out)
    assert out.read_bytes() == before
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_rename_leaves_the_previous_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "actions.jsonl"
    out.write_text("previous\n")

    def refuse(src: Any, dst: Any) -> None:
        raise OSError("rename refused")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="rename refused"):
        write_jsonl(varied_actions(), out)
    assert out.read_text() == "previous\n"
    assert leftovers(tmp_path) == []


def test_a_new_file_is_not_created_on_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        write_jsonl(failing_after(2), tmp_path / "new.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    out = tmp_path / "actions.jsonl"
    write_jsonl([make(1)], out)
    umask = os.umask(0)
    os.umask(umask)
    if os.name == "posix":
        assert out.stat().st_mode & 0o777 == 0o666 & ~umask


# ---------------------------------------------------------------- CSV


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        return list(reader)


def test_csv_columns_and_values(tmp_path: Path) -> None:
    out = tmp_path / "actions.csv"
    assert write_csv([shuffled(a) for a in varied_actions()], out) == 4
    assert out.read_bytes().startswith(b"\xef\xbb\xbfaction_id,as_of,policy,")
    rows = read_csv(out)
    first, second, third, fourth = rows
    assert first == {
        "action_id": f"{1:032x}", "as_of": "2025-11-21",
        "policy": "big-purchase-call", "policy_version": "1", "type": "call",
        "customer_id": "C1", "store_id": "S1", "region": "north",
        "assignee_role": "store_staff", "assignee_id": "E7", "not_before": "2025-11-21",
        "due_by": "2025-11-28", "priority": "60", "template": "big-purchase-call",
        "params": '{"amount":2350.0}', "reason_trigger": "purchase",
        "reason_purchase_id": "P9",
        "reason_values": "purchase.amount=2350.00; params.threshold=2000.00",
        "reason_merged": "", "due_at": "", "invitation_event_id": "",
        "invitation_date": "", "reason_row_id": "",
    }
    assert (second["assignee_id"], second["template"], second["params"]) == ("", "", "{}")
    assert third["customer_id"] == "Ç-顧客-7"
    assert json.loads(third["params"]) == {"tier": "gold", "discount_pct": 12, "ok": True,
                                           "note": None}
    assert (third["reason_purchase_id"], third["reason_values"]) == ("", "")
    assert fourth["reason_purchase_id"] == ""


@pytest.mark.parametrize("hostile", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)",
                                     "\t=1", "\r=1"])
def test_csv_cells_cannot_start_a_formula(tmp_path: Path, hostile: str) -> None:
    out = tmp_path / "actions.csv"
    write_csv([make(1, customer_id=hostile, reason={
        "trigger": "purchase", "purchase_id": hostile, "values": {}})], out)
    row = read_csv(out)[0]
    assert row["customer_id"] == "'" + hostile
    assert row["reason_purchase_id"] == "'" + hostile


def test_csv_leaves_ordinary_cells_alone(tmp_path: Path) -> None:
    out = tmp_path / "actions.csv"
    write_csv([make(1, customer_id="C-1=2", store_id="S 1")], out)
    row = read_csv(out)[0]
    assert (row["customer_id"], row["store_id"]) == ("C-1=2", "S 1")


# ---------------------------------------------------------------- task sheets


def sheet_actions() -> list[dict[str, Any]]:
    return [
        make(1, due_by="2025-11-30", priority=90),
        make(2, due_by="2025-11-28", priority=10, customer_id="C2"),
        make(3, due_by="2025-11-28", priority=70, customer_id="C3"),
        make(4, assignee={"role": "store_manager", "id": None}, policy="birthday-greeting",
             type="sms", template="birthday-greeting", params={},
             reason={"trigger": "schedule", "values": {"customer.birthday": "1990-11-21"}}),
        make(5, store_id="S2", region="south", customer_id="C5"),
    ]


def test_task_sheets_group_per_store_and_assignee(tmp_path: Path) -> None:
    written = write_task_sheets(sheet_actions(), tmp_path / "sheets", TEMPLATES)
    assert [p.name for p in written] == [
        "S1-E7.md", "S1-E7.html", "S1-store_manager.md", "S1-store_manager.html", "S2-E7.md",
        "S2-E7.html", "index.html", "index.md"]
    assert sorted(p.name for p in (tmp_path / "sheets").iterdir()) == sorted(
        p.name for p in written)


def test_task_sheet_orders_by_due_date_then_priority(tmp_path: Path) -> None:
    write_task_sheets(sheet_actions(), tmp_path, TEMPLATES)
    text = (tmp_path / "S1-E7.md").read_text("utf-8")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## 1. Call: customer `C3`", "## 2. Call: customer `C2`",
                        "## 3. Call: customer `C1`"]


def test_task_sheet_content(tmp_path: Path) -> None:
    write_task_sheets([make(1)], tmp_path, TEMPLATES, titles=TITLES)
    text = (tmp_path / "S1-E7.md").read_text("utf-8")
    assert text.startswith("# Tasks for `E7` (store staff) at store `S1`\n")
    assert "As of 2025-11-21: 1 task," in text
    for expected in [
        "- **What:** Call, template `big-purchase-call` (en)",
        "  > Call C1 about their purchase of 2350.00.",
        "- **For:** customer `C1`",
        "- **When:** 2025-11-21 .. 2025-11-28",
        "- **Why:** Follow-up call after a big purchase (`big-purchase-call` v1), purchase `P9`",
        "  - `purchase.amount = 2350.00`",
        "  - `params.threshold = 2000.00`",
        "- **Priority:** 60",
        "- **Values:** `amount = 2350.0`",
        f"- **Action id:** `{1:032x}`",
    ]:
        assert expected + "\n" in text, expected


def test_task_sheet_for_a_role_and_without_templates(tmp_path: Path) -> None:
    write_task_sheets(sheet_actions(), tmp_path)
    text = (tmp_path / "S1-store_manager.md").read_text("utf-8")
    assert text.startswith("# Tasks for store manager (role) at store `S1`\n")
    assert "- **What:** Sms, template `birthday-greeting`\n" in text
    assert "> " not in text
    assert "- **Why:** birthday-greeting (`birthday-greeting` v1), schedule\n" in text
    assert "  - `customer.birthday = 1990-11-21`\n" in text


def test_task_sheet_locale_and_fallback_to_english(tmp_path: Path) -> None:
    write_task_sheets(sheet_actions(), tmp_path, TEMPLATES, locale="ko")
    assert "> C1 고객님께 2350.00 구매 관련 전화." in (tmp_path / "S1-E7.md").read_text("utf-8")
    assert "> Happy birthday, C1!" in (tmp_path / "S1-store_manager.md").read_text("utf-8")


def test_task_sheet_index_counts(tmp_path: Path) -> None:
    write_task_sheets(sheet_actions(), tmp_path)
    index = (tmp_path / "index.md").read_text("utf-8")
    assert "As of 2025-11-21: 5 tasks on 3 sheets." in index
    assert ("- [S1-E7.md](S1-E7.md): store `S1`, `E7` (store staff), 3 tasks, "
            "first due 2025-11-28") in index
    assert ("- [S1-store_manager.md](S1-store_manager.md): store `S1`, store manager (role), "
            "1 task, first due 2025-11-28") in index
    assert "- [S2-E7.md](S2-E7.md): store `S2`" in index


def test_no_actions_gives_just_an_index(tmp_path: Path) -> None:
    written = write_task_sheets([], tmp_path / "new")
    assert written == [tmp_path / "new" / "index.html", tmp_path / "new" / "index.md"]
    assert all("No tasks." in path.read_text("utf-8") for path in written)


def people(enrich: bool) -> Directory:
    """A directory over a DuckDB table holding C1's personal data."""
    con = duckdb.connect()
    con.execute("CREATE TABLE customers AS SELECT 'C1' AS customer_id, 'ko' AS locale, "
                "'Mina Secret' AS name, '010-5555-0101' AS phone, 'mina@example.invalid' "
                "AS email, '7 Hidden Road' AS address")
    con.execute("CREATE TABLE purchases AS SELECT 'P9' AS purchase_id, 'C1' AS customer_id")
    return Directory({"S1": StoreCard("S1", "Harbour Street", "en")},
                     {"E7": StaffCard("E7", "Ellen Moss", "S1", "store_staff")}, enrich, con)


PERSONAL = ("Mina Secret", "010-5555-0101", "mina@example.invalid", "7 Hidden Road")


def test_task_sheets_show_personal_data_only_with_enrichment(tmp_path: Path) -> None:
    greeting = {"birthday-greeting": {"en": "Happy birthday, {name}! From {store}."}}
    actions = [make(1), make(4, type="sms", template="birthday-greeting", params={},
                             reason={"trigger": "schedule", "values": {}})]
    write_task_sheets(actions, tmp_path / "off", greeting, directory=people(False))
    text = "".join(p.read_text("utf-8") for p in (tmp_path / "off").iterdir())
    assert not any(value in text for value in PERSONAL)
    assert "Happy birthday, {name}! From Harbour Street." in text  # flagged, not guessed
    assert "fill in {name} by hand: names and contact details are off" in text
    write_task_sheets(actions, tmp_path / "on", greeting, directory=people(True))
    sheet = (tmp_path / "on" / "S1-E7.md").read_text("utf-8")
    assert "Happy birthday, Mina Secret! From Harbour Street." in sheet
    assert "- **Phone:** `010-5555-0101`" in sheet and "- **Check:**" not in sheet
    assert "7 Hidden Road" not in sheet and "mina@" not in sheet  # calls and sms need phones
    page = (tmp_path / "on" / "S1-E7.html").read_text("utf-8")
    assert '<a href="tel:01055550101">010-5555-0101</a>' in page
    assert '<blockquote class="msg" lang="en">Happy birthday, Mina Secret!' in page


def test_hostile_ids_make_safe_distinct_files_and_inert_markdown(tmp_path: Path) -> None:
    actions = [
        make(1, store_id="../up", customer_id="C1\n# Injected heading"),
        make(2, assignee={"role": "store_staff", "id": "e7"}),
        make(3, assignee={"role": "store_staff", "id": "E7"}),
        make(4, assignee={"role": "store_staff", "id": "a`b"}),
    ]
    written = write_task_sheets(actions, tmp_path / "sheets")
    assert all(p.parent == tmp_path / "sheets" for p in written)
    names = [p.name for p in written]
    assert len({n.casefold() for n in names}) == len(names) == 10
    assert not (tmp_path / "up-E7.md").exists()
    text = "".join(p.read_text("utf-8") for p in written)
    assert "\n# Injected" not in text
    assert "``a`b``" in text


def test_task_sheets_keep_the_index_when_a_sheet_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_task_sheets(sheet_actions(), tmp_path)
    index_before = (tmp_path / "index.md").read_text("utf-8")
    from loyaltyrules.sinks import tasksheet

    real = tasksheet._sheet_text

    def break_on_s2(sheet: Any, *args: Any) -> str:
        if sheet.store_id == "S2":
            raise RuntimeError("disk on fire")
        return real(sheet, *args)

    monkeypatch.setattr(tasksheet, "_sheet_text", break_on_s2)
    with pytest.raises(RuntimeError):
        write_task_sheets([*sheet_actions(), make(9, store_id="S2", customer_id="C9")],
                          tmp_path)
    assert (tmp_path / "index.md").read_text("utf-8") == index_before
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- merged staff tasks

MERGE_DAY = dt.date(2025, 11, 21)
MERGE_TEMPLATES = {**TEMPLATES, "referral-welcome-call": {
    "en": "Call {customer_id} to welcome them and ask how the first purchase is working out."}}
MERGE_TITLES = {**TITLES, "referral-thanks": "Thank a referral, both sides, the same day"}
BIG_PURCHASE_ID, WELCOME_ID, GIFT_ID, OTHER_ID = (f"{n:032x}" for n in (1, 2, 3, 4))


def merged_run() -> list[dict[str, Any]]:
    """The contact rules' emitted records for one day on which three staff tasks for C1
    and E7 merge into the big-purchase call; C2's call stays alone."""
    welcome = make(2, policy="referral-thanks", priority=55, template="referral-welcome-call",
                   due_by="2025-11-24", params={},
                   reason={"trigger": "first_purchase", "purchase_id": "P9",
                           "values": {"referrer.customer_id": "C0101"}})
    gift = make(3, policy="birthday-greeting", type="gift", priority=40, template=None,
                params={"discount_pct": 10},
                reason={"trigger": "schedule", "values": {"customer.birthday": "1990-11-21"}})
    candidates = [welcome, make(1), gift, make(4, customer_id="C2")]
    rules = Rules(DEFAULT_RULES, lambda _customer, _column: True, StoreCalendar(()))
    decisions = decide_day(MERGE_DAY, candidates, Known(), rules)
    assert {d.action_id: d.status for d in decisions} == {
        BIG_PURCHASE_ID: "open", WELCOME_ID: "merged", GIFT_ID: "merged", OTHER_ID: "open"}
    return [d.record for d in decisions if d.status == "open"]


def test_merged_records_are_valid_and_keep_the_schema_order_in_jsonl(tmp_path: Path) -> None:
    actions = merged_run()
    for action in actions:
        VALIDATOR.validate(action)
    survivor = next(a for a in actions if a["action_id"] == BIG_PURCHASE_ID)
    backwards = copy.deepcopy(survivor)
    backwards["reason"]["merged"] = [
        {**{k: item[k] for k in reversed(list(item))},
         "reason": {k: item["reason"][k] for k in reversed(list(item["reason"]))}}
        for item in survivor["reason"]["merged"]]
    out = tmp_path / "actions.jsonl"
    write_jsonl([shuffled(backwards)], out)
    [back] = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert back == survivor
    for item in back["reason"]["merged"]:
        assert tuple(item) == MERGED_FIELDS
        assert list(item["reason"]) == [k for k in MERGED_REASON_FIELDS if k in item["reason"]]


def test_csv_shows_the_merged_tasks_in_a_last_column(tmp_path: Path) -> None:
    out = tmp_path / "actions.csv"
    write_csv(merged_run(), out)
    rows = {row["action_id"]: row for row in read_csv(out)}
    assert CSV_COLUMNS[18] == "reason_merged"  # later columns come after it
    survivor = rows[BIG_PURCHASE_ID]
    # The survivor's own columns are as before; it is due by the earliest due date.
    assert (survivor["policy"], survivor["reason_trigger"], survivor["due_by"]) == (
        "big-purchase-call", "purchase", "2025-11-24")
    assert survivor["reason_values"] == "purchase.amount=2350.00; params.threshold=2000.00"
    assert survivor["reason_merged"] == (
        "referral-thanks: call, template referral-welcome-call, due 2025-11-24, priority 55;"
        " trigger first_purchase, purchase P9; referrer.customer_id=C0101;"
        f" action {WELCOME_ID}"
        " | birthday-greeting: gift, due 2025-11-28, priority 40; trigger schedule;"
        ' customer.birthday=1990-11-21; params {"discount_pct":10};'
        f" action {GIFT_ID}")
    assert rows[OTHER_ID]["reason_merged"] == ""
    assert set(rows) == {BIG_PURCHASE_ID, OTHER_ID}


def test_task_sheet_lists_the_merged_tasks_under_the_task(tmp_path: Path) -> None:
    write_task_sheets(merged_run(), tmp_path, MERGE_TEMPLATES, titles=MERGE_TITLES)
    text = (tmp_path / "S1-E7.md").read_text("utf-8")
    task = text[text.index("## 1. Call: customer `C1`"):text.index("## 2. ")]
    expected = "\n".join([
        "- **Why:** Follow-up call after a big purchase (`big-purchase-call` v1), purchase `P9`",
        "  - `purchase.amount = 2350.00`",
        "  - `params.threshold = 2000.00`",
        "- **Also covers:** 2 more tasks for this customer, merged into this one; "
        "report the outcome under this task's action id",
        "  - **Call**, template `referral-welcome-call`, due 2025-11-24, priority 55",
        "    > Call C1 to welcome them and ask how the first purchase is working out.",
        "    - **Why:** Thank a referral, both sides, the same day (`referral-thanks`), "
        "first purchase `P9`",
        "      - `referrer.customer_id = C0101`",
        f"    - **Merged action id:** `{WELCOME_ID}`",
        "  - **Gift**, due 2025-11-28, priority 40",
        "    - **Why:** birthday-greeting (`birthday-greeting`), schedule",
        "      - `customer.birthday = 1990-11-21`",
        "    - **Values:** `discount_pct = 10`",
        f"    - **Merged action id:** `{GIFT_ID}`",
        "- **Priority:** 60",
        "- **Values:** `amount = 2350.0`",
        f"- **Action id:** `{BIG_PURCHASE_ID}`",
    ]) + "\n"
    assert expected in task
    assert "- **When:** 2025-11-21 .. 2025-11-24\n" in task
    other = text[text.index("## 2. "):]
    assert "customer `C2`" in other and "Also covers" not in other
    index = (tmp_path / "index.md").read_text("utf-8")
    assert "2 tasks" in index  # the merged ones are not tasks of their own


def test_merged_tasks_from_store_data_stay_inert(tmp_path: Path) -> None:
    hostile = {"action_id": "x", "policy": "=cmd", "type": "call", "template": "a`b",
               "reason": {"trigger": "purchase", "purchase_id": "P1\n# Injected heading",
                          "values": {"fact": "v\n## also injected"}}}
    action = make(1, reason={**BASE["reason"], "merged": [hostile]})
    write_task_sheets([action], tmp_path, MERGE_TEMPLATES)
    text = (tmp_path / "S1-E7.md").read_text("utf-8")
    assert "\n# Injected" not in text and "\n## also" not in text
    assert "template ``a`b``" in text and "`P1 # Injected heading`" in text
    # The cell starts with the policy id: a would-be formula is made plain text.
    write_csv([make(1, reason={"trigger": "purchase", "merged": [hostile]})],
              tmp_path / "a.csv")
    assert read_csv(tmp_path / "a.csv")[0]["reason_merged"].startswith("'=cmd: call")


def test_run_on_the_example_store_shows_every_merged_task(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from loyaltyrules.cli import cli

    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "run", "--example", "--as-of", "2025-03-01", "--through", "2025-03-08", "--quiet",
        "--state", str(tmp_path / "s.db"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for day in sorted(out.glob("actions-*.jsonl"))
               for line in day.read_text("utf-8").splitlines()]  # one file per date
    merging = {r["action_id"]: r for r in records if r["reason"].get("merged")}
    assert merging, "the example store's week to 8 March has a merged staff task"
    rows = {row["action_id"]: row for day in sorted(out.glob("actions-*.csv"))
            for row in read_csv(day)}
    sheets = "".join(p.read_text("utf-8") for p in sorted(out.glob("tasks-*/*.md")))
    for action_id, record in merging.items():
        cell = rows[action_id]["reason_merged"]
        assert cell.count(" | ") == len(record["reason"]["merged"]) - 1
        for item in record["reason"]["merged"]:
            assert f"{item['policy']}: {item['type']}" in cell
            assert f"action {item['action_id']}" in cell
            assert f"- **Merged action id:** `{item['action_id']}`" in sheets
    assert all(row["reason_merged"] == "" for key, row in rows.items() if key not in merging)


# ---------------------------------------------------------------- Sink


def test_sinks_for_builds_the_named_outputs(tmp_path: Path) -> None:
    assert sinks_for(None) == []
    sinks = sinks_for(str(tmp_path / "a.jsonl"), str(tmp_path / "a.csv"),
                      str(tmp_path / "sheets"), templates=TEMPLATES)
    assert [type(s) for s in sinks] == [JsonlSink, CsvSink, TaskSheetSink]
    actions = sheet_actions()
    for sink in sinks:
        sink.write(actions)
    assert len((tmp_path / "a.jsonl").read_text("utf-8").splitlines()) == 5
    assert len(read_csv(tmp_path / "a.csv")) == 5
    assert (tmp_path / "sheets" / "index.md").exists()
