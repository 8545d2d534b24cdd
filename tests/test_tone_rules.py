"""The playbook's tone rules: the phrase lists catch the paraphrases of the corpus
(tests/corpus/tone/) and leave its fine texts alone, in every language; the rule a
template keeps follows from the policies that send it, whatever tone it declares;
placeholders are names the template can receive."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from loyaltyrules.diagnostics import Severity
from loyaltyrules.validation import tone
from loyaltyrules.validation.pipeline import validate_paths
from loyaltyrules.validation.templates import placeholders

from _paths import PACK, REPO

CORPUS = REPO / "tests" / "corpus" / "tone"
CASES = [
    (language.stem, rule, verdict, text)
    for language in sorted(CORPUS.glob("*.yaml"))
    for rule, verdicts in yaml.safe_load(language.read_text(encoding="utf-8")).items()
    for verdict, texts in verdicts.items()
    for text in texts
]


def test_the_corpus_covers_every_language_and_rule() -> None:
    seen = {(language, rule, verdict) for language, rule, verdict, _ in CASES}
    for language in ("en", "zh", "ko"):
        for rule in (tone.NO_SALES, tone.NO_BLAME):
            assert {(language, rule, "caught"), (language, rule, "fine")} <= seen


@pytest.mark.parametrize(("language", "rule", "verdict", "text"), CASES,
                         ids=lambda v: v if len(str(v)) < 40 else str(v)[:40])
def test_phrase_lists(language: str, rule: str, verdict: str, text: str) -> None:
    found = [m.group(0) for m in tone.findings(rule, language, text)]
    if verdict == "caught":
        assert found, f"{rule} misses a paraphrase: {text!r}"
    else:
        assert not found, f"{rule} over-matches {found} in {text!r}"


def test_a_regional_locale_uses_its_language_list() -> None:
    assert list(tone.findings(tone.NO_SALES, "en-GB", "Shop now and save"))


# -- the tone follows from the policy ----------------------------------------------------
GREETING = """id: winter-greeting
title: Winter greeting
version: 1
trigger: {kind: schedule, every: year, on: "12-24"}
actions:
  - type: sms
    assignee: {role: store_staff, source: customer.staff_id, fallback: store_manager}
    window: {due_by: 0d}
    template: winter-greeting
  - type: call
    assignee: {role: store_staff, source: customer.staff_id, fallback: store_manager}
    window: {due_by: 14d}
    template: pre-season-call
"""
TEMPLATES = """kind: templates
templates:
  winter-greeting:
    channel: sms
    tone: service
    text:
      en: "Merry Christmas, {name}! Discover our new winter collection."
  pre-season-call:
    channel: call
    tone: service
    text:
      en: "Call {name} about the new winter collection before the season starts."
  lapsed-contact:
    channel: sms
    tone: thanks
    text:
      en: "Dear {name}, did we do something to upset you?"
      fr: "Cher {name}, vous nous manquez."
"""


@pytest.fixture()
def policy_set(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    (folder / "templates").mkdir(parents=True)
    shutil.copy(PACK / "lapsed-contact.yaml", folder)
    (folder / "winter-greeting.yaml").write_text(GREETING, encoding="utf-8")
    (folder / "templates" / "t.yaml").write_text(TEMPLATES, encoding="utf-8")
    return folder


def test_a_template_cannot_escape_by_declaring_another_tone(policy_set: Path) -> None:
    result = validate_paths([policy_set])
    tones = [d for d in result.errors if d.code == "template.tone"]
    assert [(d.location.line, d.location.col) for d in tones] == [(7, 50), (17, 25), (17, 48)]
    assert "holiday, seasonal or birthday greeting by policy 'winter-greeting'" in tones[0].message
    assert "lapsed-customer message by policy 'lapsed-contact'" in tones[1].message
    assert [Path(r.file).name for r in tones[1].related] == ["lapsed-contact.yaml"]
    warnings = {d.code for d in result.diagnostics if d.severity is Severity.WARNING}
    assert warnings == {"template.tone-declared", "template.tone-unchecked"}


def test_a_pre_season_call_may_speak_of_the_season(policy_set: Path) -> None:
    """A call on a yearly date is a conversation, not a greeting."""
    result = validate_paths([policy_set])
    assert not [d for d in result.errors if "pre-season-call" in d.message]


def test_the_pack_keeps_its_tones_without_warnings() -> None:
    result = validate_paths([PACK])
    assert result.diagnostics == []


# -- placeholders -------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "names", "problems"), [
    ("Dear {name}, {{literally}} }} {{", ["name"], []),
    ("{name", [], [0]),
    ("name}", [], [4]),
    ("{}", [], [0]),
    ("{Name}", [], [0]),
    ("{a {b}", ["b"], [0]),
    ("{no_such_field} {tier}", ["no_such_field", "tier"], []),
])
def test_placeholder_syntax(text: str, names: list[str], problems: list[int]) -> None:
    found, bad = placeholders(text)
    assert [p.name for p in found] == names
    assert [offset for offset, _message in bad] == problems


def test_unknown_placeholders_name_what_the_template_can_receive(policy_set: Path) -> None:
    path = policy_set / "templates" / "t.yaml"
    path.write_text(TEMPLATES.replace("Discover", "{no_such_field} {staf_name}"),
                    encoding="utf-8")
    found = [d for d in validate_paths([policy_set]).errors
             if d.code == "template.unknown-placeholder"]
    assert [(d.location.line, d.location.col) for d in found] == [(7, 37), (7, 53)]
    assert "did you mean 'staff_name'?" in (found[1].suggestion or "")
    assert "placeholders it can use:" in (found[0].suggestion or "")
    assert [Path(r.file).name for r in found[0].related] == ["winter-greeting.yaml"]


def test_a_param_of_the_action_is_a_name_it_can_receive(policy_set: Path) -> None:
    """The pack's {tier} and {discount_pct} come from its actions' params."""
    assert validate_paths([PACK]).errors == []
    path = policy_set / "templates" / "t.yaml"
    path.write_text(TEMPLATES.replace("Discover", "{tier}"), encoding="utf-8")
    found = [d for d in validate_paths([policy_set]).errors
             if d.code == "template.unknown-placeholder"]
    assert len(found) == 1 and "{tier}" in found[0].message
