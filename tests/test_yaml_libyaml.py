"""Composing over libyaml's events gives what the pure-Python loader gives.

yamlsource composes policy files over libyaml's parser when PyYAML has it (ten times
faster) and falls back to PyYAML's own parser for input where the two may differ or
that libyaml refuses. Whatever the route, a document must give the same nodes (tags,
styles, values, positions) and every error the same words and position.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from loyaltyrules import yamlsource
from loyaltyrules.diagnostics import DiagnosticError

REPO = Path(__file__).resolve().parent.parent
needs_libyaml = pytest.mark.skipif(yamlsource._FastComposer is None,
                                   reason="PyYAML was built without libyaml")


def shape(node: yaml.Node, seen: set[int]) -> list[Any]:
    """What the builder reads from a node: kind, tag, style, start, a scalar's value and end."""
    mark = node.start_mark
    out: list[Any] = [type(node).__name__, node.tag, getattr(node, "style", None),
                      (mark.index, mark.line, mark.column)]
    if isinstance(node, yaml.ScalarNode):
        out += [node.value, node.end_mark.index]
    elif id(node) not in seen:  # an alias shares its anchor's children
        seen.add(id(node))
        children = node.value if isinstance(node, yaml.SequenceNode) else \
            [pair for pair in node.value for pair in pair]  # keys and values in order
        out.append([shape(child, seen) for child in children])
    return out


def composed(text: str, *, python_only: bool) -> list[Any] | str:
    try:
        if python_only:
            nodes = yamlsource._compose_with(yamlsource._ComposeOnly, text, set())
        else:
            nodes = yamlsource._compose_all(text, set())
    except (yaml.YAMLError, yamlsource._TooDeep) as err:
        return f"{type(err).__name__}: {err}"
    return [shape(node, set()) for node in nodes]


def same_either_way(text: str) -> None:
    assert composed(text, python_only=False) == composed(text, python_only=True)


@needs_libyaml
@pytest.mark.parametrize("path", sorted(
    p.relative_to(REPO).as_posix() for pattern in ("*.yaml", "*.yml")
    for p in REPO.glob(f"**/{pattern}") if ".venv" not in p.parts and ".git" not in p.parts))
def test_every_yaml_file_of_the_repository(path: str) -> None:
    text = (REPO / path).read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
    same_either_way(text)


PIECES = [*"ab:- \n\t'\"!&*[]{},#|>?%@`\\.0\r", "\ufeff", "\x85", "\u2028", "é", "\U0001f600",
          "---", "...", "!!str", "!x", "%YAML 1.1\n", "\n  ", "\n- ", ": ", "&x ", "*x",
          "|-\n  a\n", ">+2\n   b\n", "|#", "? "]


@needs_libyaml
@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=25).map("".join),
       st.sampled_from(["\n", "", "\r\n"]))
def test_generated_text(body: str, end: str) -> None:
    same_either_way(body + end)


@pytest.mark.parametrize("text", [
    "!\n", "a: !\n", "|#\n", "{-a?b}\n", "id: x\n\ufeff\n", "a\t\n", "?", "a: [b\n",
    "a: &x [*x]\n", "a: !!int x\n", "a: 1\na: 2\n",
])
def test_without_libyaml_the_same_answers(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the two parsers differ, and without libyaml at all, the answer is PyYAML's."""
    def answer() -> object:
        try:
            return yamlsource.load_yaml_text(text, "f.yaml").data
        except DiagnosticError as err:
            return [d.render() for d in err.diagnostics]

    with_libyaml = answer()
    monkeypatch.setattr(yamlsource, "_FastComposer", None)
    assert with_libyaml == answer()
