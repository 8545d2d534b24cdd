"""Safe YAML loading that keeps where every value came from.

Policy files are written by people, so every later error must point at a line and
column. PyYAML's composer gives nodes with marks; we turn nodes into plain JSON-like
values ourselves, which lets us

* resolve scalars by a YAML-1.2-like core schema (only true/false are booleans, so
  `on:` stays a key; timestamps stay strings; numbers with a point become Decimal),
* never construct objects (unknown tags are errors),
* reject duplicate keys, and bound alias expansion (no "billion laughs"),
* bound the file size before parsing.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import yaml

from .diagnostics import Diagnostic, DiagnosticError, Location

MAX_FILE_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 20_000
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]

_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_STD_TAG = "tag:yaml.org,2002:"


_PLAIN = "tag:loyaltyrules,2026:plain"


class _Bounded:
    """Composing as we need it, on top of either event source (see _ComposeOnly).

    YAML 1.1 implicit typing (yes/no/on/off booleans, sexagesimal ints, timestamps)
    is dropped: an untagged plain scalar is marked and typed by resolve_plain.
    """

    depth = 0
    alias_ids: set[int]  # the nodes that stand for an `*alias`

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)  # type: ignore[misc]

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Bound nesting (PyYAML composes recursively) and give each alias its own marks.

        An alias becomes a shallow copy of its anchored node carrying the alias's own
        position, so errors inside an expansion point at the `*alias` that caused it;
        the copy shares the anchored node's children, so nothing is expanded here.
        """
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, yaml.AliasEvent):
            node = copy.copy(cast(yaml.Node, super().compose_node(parent, index)))  # type: ignore[misc]
            node.start_mark, node.end_mark = event.start_mark, event.end_mark
            self.alias_ids.add(id(node))
            return node
        if self.depth >= MAX_DEPTH:
            raise _TooDeep(event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self.depth -= 1


class _ComposeOnly(_Bounded, yaml.SafeLoader):
    """A loader used only to compose nodes, in pure Python: the reference, and the one
    whose words and positions every YAML error carries."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_ids = set()


_FastComposer: type[_Bounded] | None = None
if yaml.__with_libyaml__:
    from yaml._yaml import CParser
    from yaml.composer import Composer
    from yaml.resolver import Resolver

    class _CComposeOnly(_Bounded, Composer, CParser, Resolver):
        """The same composing (ours and PyYAML's Composer, in Python) over libyaml's
        events: scanning and parsing are most of the time, composing is not. Its
        events carry the same marks (character index, line, column), so positions
        are the same; its error messages are not, hence the fallback in _compose_all.
        """

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            Resolver.__init__(self)
            self.alias_ids = set()
            self.flow = 0  # how many flow collections ([], {}) the node is in

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if getattr(event, "tag", None) is not None:
                raise _NotLikePyYAML  # libyaml reads some tags PyYAML refuses
            if self.flow and isinstance(event, yaml.ScalarEvent) and not event.style \
                    and "?" in event.value:
                raise _NotLikePyYAML  # PyYAML ends a plain scalar at `?` in [] and {}
            flow = isinstance(event, yaml.CollectionStartEvent) and bool(event.flow_style)
            self.flow += flow
            try:
                return super().compose_node(parent, index)
            finally:
                self.flow -= flow

        def compose_scalar_node(self, anchor: Any) -> yaml.ScalarNode:
            node = super().compose_scalar_node(anchor)
            node.style = node.style or None  # libyaml says '' for plain, PyYAML None
            return node

    _FastComposer = _CComposeOnly


class _NotLikePyYAML(Exception):
    """Input where libyaml and PyYAML may disagree: compose it with PyYAML."""


# Found by comparing the two on generated text: libyaml reads a document without a
# final line break, tabs, a byte order mark inside, and a block scalar's header with a
# comment right after it (`|#`) differently from PyYAML, or accepts what PyYAML refuses.
_LIBYAML_DIFFERS = re.compile(r"[\t\ufeff]|[|>][-+0-9]*#")


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__("too deep")
        self.mark = mark


@dataclass(frozen=True)
class NodePosition:
    value: Location
    key: Location | None
    style: str | None
    raw_start: int
    raw_end: int


@dataclass(frozen=True)
class YamlDocument:
    """A loaded file: its data and the position of every node, keyed by path."""

    file: str
    text: str
    data: Any
    positions: dict[PathKey, NodePosition]

    def location(self, path: PathKey = (), *, key: bool = False) -> Location:
        """The position of a node, or of its nearest ancestor that exists."""
        path = tuple(path)
        while path not in self.positions and path:
            path = path[:-1]
        pos = self.positions.get(path)
        if pos is None:
            return Location(self.file, 1, 1)
        if key and pos.key is not None:
            return pos.key
        return pos.value

    def scalar_location(self, path: PathKey, offset: int) -> Location:
        """The position of character `offset` of a string scalar (for expressions)."""
        pos = self.positions.get(tuple(path))
        if pos is None:
            return self.location(path)
        value = _get(self.data, path)
        if not isinstance(value, str):
            return pos.value
        index = _align(value, self.text, pos, offset)
        return _index_location(self.file, self.text, index)


def _get(data: Any, path: PathKey) -> Any:
    for part in path:
        data = data[part]
    return data


def _align(value: str, text: str, pos: NodePosition, offset: int) -> int:
    """Map an offset in a scalar's value to an index in the source text.

    Walks value and source together, letting whitespace (line folding, indentation)
    and quoting differ, and stepping over quote escapes (`\\"`, `\\u00e9`, `''`);
    anything else falls back to the scalar's start.
    """
    i, j = 0, pos.raw_start
    offset = min(offset, len(value))
    if pos.style in ('"', "'"):
        j += 1
    elif pos.style in ("|", ">"):
        j = text.find("\n", j) + 1
    while i < offset and j < pos.raw_end:
        escape = _escape_length(text, j, pos.style)
        fold = _fold(text, j, pos)
        if escape:
            i, j = i + 1, j + escape
        elif fold:
            folded, j = fold
            i += len(folded) if value.startswith(folded, i) else 0
        elif value[i] == text[j]:
            i, j = i + 1, j + 1
        elif text[j] in " \t\r\n":
            j += 1
        elif value[i] in " \n":
            i += 1
        else:
            return pos.raw_start
    while j < pos.raw_end and i < len(value):  # to the source of value[i] itself
        fold = _fold(text, j, pos)
        if fold and not fold[0]:
            j = fold[1]
        elif text[j] in " \t\r\n" and value[i] != text[j]:
            j += 1
        else:
            break
    return j


def _fold(text: str, j: int, pos: NodePosition) -> tuple[str, int] | None:
    """A line break of a flow scalar at `j` with the blanks around it: what it adds to
    the value (a space, or n-1 newlines for n breaks) and where the next line's text
    starts. After a `\\` (an escaped break in a double-quoted scalar) it adds nothing.
    """
    if pos.style in ("|", ">"):
        return None
    escaped = pos.style == '"' and text.startswith("\\", j)
    k = j + 1 if escaped else j
    end = k
    while end < pos.raw_end and text[end] in " \t\r\n":
        end += 1
    breaks = text.count("\n", k, end)
    if not breaks or (escaped and not text.startswith(("\n", "\r\n"), k)):
        return None
    if escaped:
        return "", end
    return (" " if breaks == 1 else "\n" * (breaks - 1)), end


_ESCAPE_LENGTH = {"x": 4, "u": 6, "U": 10}


def _escape_length(text: str, j: int, style: str | None) -> int:
    """How many source characters at `j` make one character of a quoted scalar's value."""
    if style == "'" and text.startswith("''", j):
        return 2
    if style == '"' and text[j] == "\\" and j + 1 < len(text) and text[j + 1] not in "\r\n":
        return _ESCAPE_LENGTH.get(text[j + 1], 2)
    return 0


def _index_location(file: str, text: str, index: int) -> Location:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return Location(file, line, col)


def _mark(file: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, mark.line + 1, mark.column + 1)


class _Builder:
    """Turns a composed node tree into plain values, recording positions."""

    def __init__(self, file: str, alias_ids: set[int]) -> None:
        self.file = file
        self.alias_ids = alias_ids
        self.positions: dict[PathKey, NodePosition] = {}
        self.diagnostics: list[Diagnostic] = []
        self.budget = MAX_EXPANDED_NODES
        self.open: list[int] = []  # ids of the collections being built (cycle check)
        self.aliases: list[yaml.Node] = []  # the aliases being expanded, outermost first

    def build(self, node: yaml.Node, path: PathKey, key: Location | None) -> Any:
        """Build one node; aliases are expanded here, so bound them here."""
        self.budget -= 1
        collection = not isinstance(node, yaml.ScalarNode)
        if collection and id(node.value) in self.open:
            raise DiagnosticError([self._alias_limit(node, "an alias refers to a node that "
                                                     "contains it (an endless document)")])
        if self.budget < 0 or len(path) > MAX_DEPTH:
            raise DiagnosticError([self._alias_limit((*self.aliases, node)[0], None)])
        alias = id(node) in self.alias_ids
        if alias:
            self.aliases.append(node)
        if collection:
            self.open.append(id(node.value))
        try:
            return self._build(node, path, key)
        finally:
            if collection:
                self.open.pop()
            if alias:
                self.aliases.pop()

    def _build(self, node: yaml.Node, path: PathKey, key: Location | None) -> Any:
        self.positions[path] = NodePosition(
            _mark(self.file, node.start_mark),
            key,
            getattr(node, "style", None) if isinstance(node, yaml.ScalarNode) else None,
            node.start_mark.index,
            node.end_mark.index,
        )
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, "seq")
            return [self.build(item, (*path, i), None) for i, item in enumerate(node.value)]
        return self._scalar(cast(yaml.ScalarNode, node))

    def _alias_limit(self, node: yaml.Node, message: str | None) -> Diagnostic:
        """At the outermost alias whose expansion is too big, or one that contains itself."""
        return Diagnostic(
            "yaml.alias-limit",
            message or f"the document expands to more than {MAX_EXPANDED_NODES} nodes or "
            f"{MAX_DEPTH} levels (anchors and aliases used recursively?)",
            _mark(self.file, node.start_mark),
            "write the values out; aliases may only repeat small pieces",
        )

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        self._check_tag(node, "map")
        result: dict[str, Any] = {}
        first_seen: dict[str, Location] = {}
        for key_node, value_node in node.value:
            key_loc = _mark(self.file, key_node.start_mark)
            key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if key_node.tag == _STD_TAG + "merge" or (key == "<<" and key_node.style is None):
                self.diagnostics.append(
                    Diagnostic("yaml.merge-key", "merge keys (<<) are not supported", key_loc,
                               "write the keys out in full")
                )
                continue
            if not isinstance(key, str):
                self.diagnostics.append(
                    Diagnostic("yaml.key-type", "mapping keys must be strings", key_loc,
                               "quote the key")
                )
                continue
            if key in first_seen:
                self.diagnostics.append(
                    Diagnostic("yaml.duplicate-key", f"duplicate key {key!r}", key_loc,
                               "remove one of the two entries", related=(first_seen[key],))
                )
                continue
            first_seen[key] = key_loc
            result[key] = self.build(value_node, (*path, key), key_loc)
        return result

    def _check_tag(self, node: yaml.Node, kind: str) -> None:
        if node.tag not in (_STD_TAG + kind, None):
            self._bad_tag(node)

    def _bad_tag(self, node: yaml.Node) -> None:
        self.diagnostics.append(
            Diagnostic("yaml.tag", f"YAML tag {node.tag!r} is not allowed",
                       _mark(self.file, node.start_mark), "remove the tag")
        )

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            return self._typed_scalar(node)
        except ValueError:  # Python refuses to convert integers of > 4300 digits
            self.diagnostics.append(
                Diagnostic("yaml.number-too-long", f"a number of {len(node.value)} characters",
                           _mark(self.file, node.start_mark), "write a shorter number")
            )
            return node.value

    def _typed_scalar(self, node: yaml.ScalarNode) -> Any:
        text: str = node.value
        tag = node.tag
        if tag == _PLAIN:
            return resolve_plain(text)
        if tag == _STD_TAG + "str":
            return text  # quoted and block scalars, and explicit !!str
        typed = resolve_plain(text)
        wanted = {"int": int, "float": Decimal, "bool": bool, "null": type(None)}
        kind = tag[len(_STD_TAG):] if tag.startswith(_STD_TAG) else ""
        if kind not in wanted:
            self._bad_tag(node)
            return text
        if kind == "float" and isinstance(typed, int) and not isinstance(typed, bool):
            return Decimal(typed)
        if not isinstance(typed, wanted[kind]) or isinstance(typed, bool) != (kind == "bool"):
            self.diagnostics.append(
                Diagnostic("yaml.tag", f"{text!r} is not a valid !!{kind}",
                           _mark(self.file, node.start_mark), "remove the tag")
            )
        return typed


def resolve_plain(text: str) -> Any:
    """Type a plain scalar: null, true/false, int, Decimal, else the string itself."""
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return Decimal(text)
    return text


def _yaml_error(file: str, text: str, err: yaml.YAMLError) -> Diagnostic:
    if isinstance(err, yaml.reader.ReaderError):  # a control character such as NUL
        return Diagnostic("yaml.syntax",
                          f"invalid YAML: character #x{err.character:04x} is not allowed",
                          _index_location(file, text, err.position),
                          "remove the character (was the file saved as text?)")
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    if "'\\t'" in problem:
        return Diagnostic("yaml.tab", "tab characters cannot indent YAML", _mark(file, mark),
                          "indent with spaces")
    context = getattr(err, "context", None)
    message = f"{context}, {problem}" if context else problem
    return Diagnostic("yaml.syntax", f"invalid YAML: {message}", _mark(file, mark),
                      "check indentation, colons and quotes near this position")


def _decode(file: str, raw: bytes) -> str:
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw  # offsets after the BOM
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        good = body[: err.start].decode("utf-8")
        raise DiagnosticError([
            Diagnostic("file.encoding", f"the file is not UTF-8 (byte 0x{body[err.start]:02x})",
                       _index_location(file, good, len(good)), "save the file as UTF-8")
        ]) from None


def load_yaml_text(text: str, file: str = "<string>") -> YamlDocument:
    """Parse one YAML document; raises DiagnosticError with every problem found."""
    if "\t" in text:
        _check_tabs(file, text)
    alias_ids: set[int] = set()
    try:
        nodes = _compose_all(text, alias_ids)
    except yaml.YAMLError as err:
        raise DiagnosticError([_yaml_error(file, text, err)]) from None
    except _TooDeep as err:
        raise DiagnosticError([
            Diagnostic("yaml.too-deep", f"the document nests more than {MAX_DEPTH} levels deep",
                       _mark(file, err.mark), "flatten the structure")
        ]) from None
    if not nodes:
        raise DiagnosticError([
            Diagnostic("file.empty", "the file holds no YAML document", Location(file, 1, 1),
                       "a policy file needs at least an id, a trigger and actions")
        ])
    if len(nodes) > 1:
        raise DiagnosticError([
            Diagnostic("yaml.multiple-documents", "only one YAML document per file is allowed",
                       _mark(file, nodes[1].start_mark), "split the documents into files")
        ])
    builder = _Builder(file, alias_ids)
    data = builder.build(nodes[0], (), None)
    if builder.diagnostics:
        raise DiagnosticError(builder.diagnostics)
    return YamlDocument(file, text, data, builder.positions)


def _compose_all(text: str, alias_ids: set[int]) -> list[yaml.Node]:
    """The documents' nodes, composed over libyaml's events when it is there (the
    parsing is then about ten times faster).

    A document libyaml refuses (or one too deep, or one where the two may disagree)
    is composed again by the Python loader, so every error keeps its wording and
    position whichever library is installed, and a document gives the same nodes
    either way (tests/test_yaml_libyaml.py).
    """
    if _FastComposer is not None and text.endswith("\n") and not _LIBYAML_DIFFERS.search(text):
        try:
            return _compose_with(_FastComposer, text, alias_ids)
        except (yaml.YAMLError, _TooDeep, _NotLikePyYAML):
            alias_ids.clear()
    return _compose_with(_ComposeOnly, text, alias_ids)


def _compose_with(loader_class: Any, text: str, alias_ids: set[int]) -> list[yaml.Node]:
    loader = loader_class(text)
    loader.alias_ids = alias_ids
    try:
        nodes = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
        return nodes
    finally:
        loader.dispose()


def _check_tabs(file: str, text: str) -> None:
    """Tabs in indentation give cryptic PyYAML errors; name them plainly."""
    for number, line in enumerate(text.split("\n"), start=1):
        indent = len(line) - len(line.lstrip(" \t"))
        if "\t" in line[:indent] and line.strip() and not line.lstrip().startswith("#"):
            raise DiagnosticError([
                Diagnostic("yaml.tab", "tab characters cannot indent YAML",
                           Location(file, number, line.index("\t") + 1), "indent with spaces")
            ])


def load_yaml_file(path: Path, display: str | None = None) -> YamlDocument:
    """Read and parse a file, bounding its size first."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DiagnosticError([
                Diagnostic("file.too-large",
                           f"the file is {size} bytes; policy files may be at most "
                           f"{MAX_FILE_BYTES} bytes", Location(name, 1, 1),
                           "split it, or check that it is the file you meant")
            ])
        raw = path.read_bytes()
    except OSError as err:
        raise DiagnosticError([
            Diagnostic("file.unreadable", f"cannot read the file: {err.strerror}",
                       Location(name, 0, 0))
        ]) from None
    return load_yaml_text(_decode(name, raw), name)
