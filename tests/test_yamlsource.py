"""The positioned YAML loader: scalar typing, positions, and the limits it enforces."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltyrules.diagnostics import DiagnosticError, Location
from loyaltyrules.yamlsource import (
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    YamlDocument,
    load_yaml_file,
    load_yaml_text,
    resolve_plain,
)


def load(text: str) -> YamlDocument:
    return load_yaml_text(text, "f.yaml")


def value(text: str) -> Any:
    return load(f"v: {text}\n").data["v"]


def problems(text: str) -> list[tuple[str, int, int]]:
    with pytest.raises(DiagnosticError) as caught:
        load(text)
    return [(d.code, d.location.line, d.location.col) for d in caught.value.diagnostics]


# ------------------------------------------------------------ scalar typing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("Yes", "Yes"),
        ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
        ("2020-01-01", "2020-01-01"), ("2020-01-01T10:00:00", "2020-01-01T10:00:00"),
        ("1.50", Decimal("1.50")), ("2000.50", Decimal("2000.50")), ("1e3", Decimal("1e3")),
        ("-0.5", Decimal("-0.5")), (".5", Decimal(".5")),
        ("12", 12), ("-3", -3), ("+4", 4), ("010", 10), ("0o17", "0o17"), ("0x1F", "0x1F"),
        ("1_000", "1_000"), ("1:30", "1:30"), (".inf", ".inf"), (".nan", ".nan"),
        ("null", None), ("~", None), ("", None), ("Null", None),
        ("7d", "7d"), ("params.x", "params.x"),
        ('"12"', "12"), ("'1.50'", "1.50"), ('"true"', "true"), ("'null'", "null"),
        ('"2020-01-01"', "2020-01-01"), ("!!str 12", "12"), ("!!int 12", 12),
        ("!!float 2", Decimal(2)), ("!!bool true", True), ("!!null null", None),
    ],
)
def test_scalar_typing(text: str, expected: Any) -> None:
    got = value(text)
    assert got == expected
    assert type(got) is type(expected)


def test_decimal_keeps_its_digits() -> None:
    assert str(value("1.50")) == "1.50"
    assert not isinstance(value("1.50"), float)


def test_on_is_a_plain_key() -> None:
    assert load("on: upgrade\nyes: no\n").data == {"on": "upgrade", "yes": "no"}


def test_block_scalars_are_strings() -> None:
    data = load("a: |\n  12\nb: >-\n  true\n").data
    assert data == {"a": "12\n", "b": "true"}


@pytest.mark.parametrize("text", ["purchase", "customer.tier", "0x10", "1.2.3", "--1", "7 d"])
def test_resolve_plain_leaves_other_text_alone(text: str) -> None:
    assert resolve_plain(text) == text


def test_wrong_explicit_tag() -> None:
    assert problems("v: !!int abc\n") == [("yaml.tag", 1, 4)]


# ------------------------------------------------------------ positions


DOC = """\
# a comment
id: big-purchase-call
trigger:
  kind: purchase
params:
  threshold: {type: decimal, default: 2000}
actions:
  - type: call
    window:
      due_by: 7d
"""


@pytest.mark.parametrize(
    ("path", "key", "where"),
    [
        ((), False, (2, 1)),
        (("id",), False, (2, 5)),
        (("id",), True, (2, 1)),
        (("trigger",), False, (4, 3)),
        (("trigger", "kind"), False, (4, 9)),
        (("trigger", "kind"), True, (4, 3)),
        (("params", "threshold", "default"), False, (6, 39)),
        (("params", "threshold", "default"), True, (6, 30)),
        (("actions",), False, (8, 3)),
        (("actions", 0), False, (8, 5)),
        (("actions", 0, "type"), True, (8, 5)),
        (("actions", 0, "window", "due_by"), False, (10, 15)),
        (("actions", 0, "window", "due_by"), True, (10, 7)),
    ],
)
def test_positions(path: tuple[str | int, ...], key: bool, where: tuple[int, int]) -> None:
    assert load(DOC).location(path, key=key) == Location("f.yaml", *where)


def test_missing_path_falls_back_to_nearest_ancestor() -> None:
    doc = load(DOC)
    assert doc.location(("trigger", "metric")) == doc.location(("trigger",))
    assert doc.location(("nope", "deeper")) == doc.location(())


def test_crlf_positions() -> None:
    doc = load("id: x\r\ntrigger:\r\n  kind: purchase\r\n")
    assert doc.location(("trigger", "kind")) == Location("f.yaml", 3, 9)


def test_positions_after_wide_characters_count_characters() -> None:
    doc = load("u: {a: \u4f60\U0001f600, b: 1}\n")
    assert doc.location(("u", "b")) == Location("f.yaml", 1, 15)


# ------------------------------------------------------------ scalar_location


def at(text: str, path: tuple[str | int, ...], offset: int) -> tuple[int, int]:
    location = load(text).scalar_location(path, offset)
    return location.line, location.col


def test_scalar_location_plain() -> None:
    text = "conditions:\n  - purchase.amount >= params.threshold\n"
    assert at(text, ("conditions", 0), 0) == (2, 5)
    assert at(text, ("conditions", 0), 19) == (2, 24)


def test_scalar_location_double_quoted() -> None:
    text = 'when: "!customer.has_address || customer.consent_mail"\n'
    assert at(text, ("when",), 0) == (1, 8)
    assert at(text, ("when",), 25) == (1, 33)


def test_scalar_location_single_quoted() -> None:
    text = "when: 'customer.tier == \"gold\"'\n"
    assert at(text, ("when",), 17) == (1, 25)


def test_scalar_location_at_the_end_of_the_value() -> None:
    text = "when: 'customer.tier =='\nx: 1\n"
    assert at(text, ("when",), 16) == (1, 24)  # "expected a value, found the end"
    assert at(text, ("when",), 99) == (1, 24)  # past the end: clamped, not an IndexError


def test_scalar_location_steps_over_quote_escapes() -> None:
    text = 'c: "customer.tier == \\"gold\\" && customer.teir"\n'
    value = load(text).data["c"]
    assert value == 'customer.tier == "gold" && customer.teir'
    assert at(text, ("c",), value.index("customer.teir")) == (1, 34)
    text = 'c: "\\u00e9\\t x && customer.teir"\n'
    assert at(text, ("c",), load(text).data["c"].index("customer")) == (1, 19)
    assert at("c: 'a''b c'\n", ("c",), 4) == (1, 10)


def test_scalar_location_over_an_escaped_line_break() -> None:
    text = 'c: "purchase.amount >= 100 && \\\n  customer.teir"\n'
    value = load(text).data["c"]
    assert value == "purchase.amount >= 100 && customer.teir"
    assert at(text, ("c",), value.index("customer")) == (2, 3)


def test_scalar_location_folded() -> None:
    text = "c: >-\n  purchase.amount >= 100 &&\n  customer.tier == \"gold\"\n"
    data = load(text).data["c"]
    offset = data.index("customer")
    assert at(text, ("c",), 0) == (2, 3)
    assert at(text, ("c",), offset) == (3, 3)
    assert at(text, ("c",), offset + 17) == (3, 20)


def test_scalar_location_literal() -> None:
    text = "c: |\n  a &&\n    b\n"
    data = load(text).data["c"]
    assert data == "a &&\n  b\n"
    assert at(text, ("c",), data.index("b")) == (3, 5)


def test_scalar_location_multiline_plain() -> None:
    text = "c: purchase.amount >= 100\n  && customer.tier == \"gold\"\n"
    data = load(text).data["c"]
    assert at(text, ("c",), data.index("customer")) == (2, 6)


def test_scalar_location_of_a_non_string_is_the_node() -> None:
    assert at("a:\n  b: 12\n", ("a", "b"), 1) == (2, 6)


def test_scalar_location_after_a_unicode_escape() -> None:
    assert at('c: "\\u0041 && customer.teir"\n', ("c",), 5) == (1, 15)


# ------------------------------------------------------------ what the loader refuses


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\na: 2\n", [("yaml.duplicate-key", 2, 1)]),
        ("a: &x {b: 1}\nc:\n  <<: *x\n", [("yaml.merge-key", 3, 3)]),
        ("1: a\n", [("yaml.key-type", 1, 1)]),
        ("? [a]\n: b\n", [("yaml.key-type", 1, 3)]),
        ("a: !!python/object:os.system {}\n", [("yaml.tag", 1, 4)]),
        ("a: !custom x\n", [("yaml.tag", 1, 4)]),
        ("a: 1\n---\nb: 2\n", [("yaml.multiple-documents", 3, 1)]),
        ("a:\n\tb: 1\n", [("yaml.tab", 2, 1)]),
        ("a: b: c\n", [("yaml.syntax", 1, 5)]),
        ("a: x\x00\n", [("yaml.syntax", 1, 5)]),
        ("a: &a [*a]\n", [("yaml.alias-limit", 1, 8)]),
        ("a: &a {b: [*a]}\n", [("yaml.alias-limit", 1, 12)]),
        ("", [("file.empty", 1, 1)]),
        ("# only a comment\n", [("file.empty", 1, 1)]),
        ("v: 1" + "0" * 5000 + "\n", [("yaml.number-too-long", 1, 4)]),
    ],
)
def test_refused(text: str, expected: list[tuple[str, int, int]]) -> None:
    assert problems(text) == expected


def test_every_problem_in_one_pass() -> None:
    assert problems("a: 1\na: 2\n1: x\nb: !t y\n") == [
        ("yaml.duplicate-key", 2, 1), ("yaml.key-type", 3, 1), ("yaml.tag", 4, 4)]


def test_billion_laughs_is_bounded() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    [(code, line, col)] = problems("\n".join(lines) + "\n")
    assert code == "yaml.alias-limit"
    # the alias whose expansion goes past the budget: a4's first *a3
    assert (line, col) == (5, 10)
    assert MAX_EXPANDED_NODES < 10**5


def test_small_aliases_are_fine() -> None:
    doc = load("base: &b {role: store_staff}\nx: *b\ny: *b\n")
    assert doc.data["x"] == doc.data["y"] == {"role": "store_staff"}
    assert doc.data["x"] is not doc.data["y"]
    assert doc.location(("y",)) == Location("f.yaml", 3, 4)  # the alias, not the anchor


def test_nesting_is_bounded() -> None:
    assert problems("[" * 300 + "]" * 300) == [("yaml.too-deep", 1, MAX_DEPTH + 1)]
    assert load("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)).data is not None


def test_chained_aliases_cannot_nest_deeper_than_the_limit() -> None:
    deep = "[" * 40 + "{}" + "]" * 40
    text = f"a: &a {deep}\nb: &b " + "[" * 40 + "*a" + "]" * 40 + "\n"
    assert problems(text) == [("yaml.alias-limit", 2, 47)]


# ------------------------------------------------------------ files


def test_file_is_read_as_utf8_with_optional_bom(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"\xef\xbb\xbfid: caf\xc3\xa9\n")
    doc = load_yaml_file(path, "p.yaml")
    assert doc.data == {"id": "caf\u00e9"}
    assert doc.location(("id",)) == Location("p.yaml", 1, 5)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticError) as caught:
        load_yaml_file(tmp_path)  # a folder cannot be read as a file
    assert [d.code for d in caught.value.diagnostics] == ["file.unreadable"]


# ------------------------------------------------------------ scalar_location, generated

STYLES = [None, '"', "'", "|", ">"]
SCALAR_TEXT = st.text(
    alphabet=st.sampled_from(list("abcxyz019 .,:#'\"\\!&*[]{}()|>=<-_?%@`\u00e9\u4f60\t\n")),
    min_size=1, max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(text=SCALAR_TEXT, style=st.sampled_from(STYLES), indent=st.integers(0, 3))
def test_scalar_location_finds_each_character(text: str, style: str | None, indent: int) -> None:
    """Whatever style yaml.safe_dump picks, each visible character maps back to itself."""
    source = yaml.safe_dump({"k": [text]} if indent else {"k": text}, default_style=style,
                            allow_unicode=True, width=30)
    doc = load(source)
    path: tuple[str | int, ...] = ("k", 0) if indent else ("k",)
    value = doc.data["k"][0] if indent else doc.data["k"]
    assert value == text
    lines = source.split("\n")
    for offset, char in enumerate(value):
        if char in " \t\n":
            continue
        location = doc.scalar_location(path, offset)
        found = lines[location.line - 1][location.col - 1]
        assert found == char or (found == "\\" and (style == '"' or '"' in source)), (
            source, offset, location)
