"""`validate` reports exactly the expected errors, at the exact positions.

* every file of tests/corpus/broken/ and tests/corpus/schema/ carries `# expect:` lines,
  and every folder of tests/corpus/broken/ an expect.txt (see tests/corpus/broken/README.md);
* inputs too big or too odd to commit (empty, > 1 MiB, bad bytes after a BOM) are made here;
* the default pack validates clean, and so does each valid corpus file and the pack
  bundled with the valid corpus (apart from the clashes that bundling two packs makes).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from loyaltyrules.diagnostics import Diagnostic, Location
from loyaltyrules.validation.pipeline import validate_paths
from loyaltyrules.yamlsource import MAX_FILE_BYTES

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
BROKEN = CORPUS / "broken"
POLICIES = ROOT / "policies"
VALID = sorted((CORPUS / "valid").glob("*.yaml"))

SINGLE = sorted(BROKEN.glob("*.yaml")) + sorted((CORPUS / "schema").glob("*.yaml"))
FOLDERS = sorted(p for p in BROKEN.iterdir() if p.is_dir())
_EXPECT = re.compile(r"# expect: (\S+) (\d+):(\d+)(?: (.+))?$")


def expectations(path: Path) -> list[tuple[str, int, int, str | None]]:
    """The `# expect:` header of a corpus file (a UTF-8 BOM before it is allowed)."""
    found = []
    for line in path.read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\n"):
        match = _EXPECT.match(line.decode("utf-8", "replace").rstrip("\r"))
        if not match:
            break
        found.append((match[1], int(match[2]), int(match[3]), match[4]))
    return found


def errors_of(*paths: Path) -> list[Diagnostic]:
    return validate_paths(list(paths)).errors


def _mentions(diagnostic: Diagnostic, text: str) -> bool:
    return text in diagnostic.message or text in (diagnostic.suggestion or "")


@pytest.mark.parametrize("path", SINGLE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_single_file_case(path: Path) -> None:
    expected = expectations(path)
    assert expected, f"{path.name} has no '# expect:' line"
    errors = errors_of(path)
    got = [(d.code, d.location.line, d.location.col) for d in errors]
    assert got == [(code, line, col) for code, line, col, _ in expected]
    for diagnostic, (_, _, _, text) in zip(errors, expected, strict=True):
        assert Path(diagnostic.location.file).resolve() == path.resolve()
        if text:
            assert _mentions(diagnostic, text), diagnostic.render()


def _relative(location: Location, root: Path) -> str:
    name = Path(location.file).resolve().relative_to(root.resolve()).as_posix()
    return f"{name}:{location.line}:{location.col}"


@pytest.mark.parametrize("case", FOLDERS, ids=lambda p: p.name)
def test_multi_file_case(case: Path) -> None:
    lines = (case / "expect.txt").read_text(encoding="utf-8").splitlines()
    expected = [line.split() for line in lines if line.strip()]
    got = [[d.code, _relative(d.location, case)] for d in errors_of(case)]
    assert got == [e[:2] for e in expected]
    for diagnostic, wanted in zip(errors_of(case), expected, strict=True):
        if len(wanted) > 2:
            assert [_relative(r, case) for r in diagnostic.related] == wanted[2:]


def test_corpus_is_big_enough() -> None:
    assert len(list(BROKEN.glob("*.yaml"))) + len(FOLDERS) >= 30
    assert len(FOLDERS) >= 8


# ------------------------------------------------------------ generated inputs


def _codes_at(path: Path) -> list[tuple[str, int, int]]:
    return [(d.code, d.location.line, d.location.col) for d in errors_of(path)]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    assert _codes_at(path) == [("file.empty", 1, 1)]


def test_whitespace_only_file(tmp_path: Path) -> None:
    path = tmp_path / "blank.yaml"
    path.write_text("\n   \n\n", encoding="utf-8")
    assert _codes_at(path) == [("file.empty", 1, 1)]


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    line = b"# " + b"x" * 1021 + b"\n"
    with path.open("wb") as out:
        for _ in range(10 * 1024):  # 10 MiB
            out.write(line)
    assert path.stat().st_size > MAX_FILE_BYTES
    errors = errors_of(path)
    assert [(d.code, d.location.line, d.location.col) for d in errors] == [("file.too-large", 1, 1)]
    assert str(path.stat().st_size) in errors[0].message


def test_file_just_under_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * (MAX_FILE_BYTES - 4) + b"\n")
    assert path.stat().st_size <= MAX_FILE_BYTES
    assert _codes_at(path) == [("file.empty", 1, 1)]


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b"id: x\ntitle: caf\xe9\n", (2, 11)),
        (b"\xef\xbb\xbfid: x\ntitle: caf\xe9\n", (2, 11)),  # the BOM is not a column
        ("id: x\ntitle: \u00e9t\u00e9 ".encode() + b"\xff\n", (2, 12)),  # columns are characters
        (b"id: \x80\n", (1, 5)),
        ("id: x\n".encode("utf-16"), (1, 1)),
    ],
    ids=["latin-1", "bom", "after-multibyte", "continuation-byte", "utf-16"],
)
def test_non_utf8_bytes(tmp_path: Path, raw: bytes, where: tuple[int, int]) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(raw)
    errors = errors_of(path)
    got = [(d.code, d.location.line, d.location.col) for d in errors]
    assert got == [("file.encoding", *where)]


def test_nul_byte_is_a_syntax_error_not_a_tab(tmp_path: Path) -> None:
    path = tmp_path / "nul.yaml"
    path.write_bytes(b"id: x\ntitle: a\x00b\n")
    assert _codes_at(path) == [("yaml.syntax", 2, 9)]


def test_not_found() -> None:
    errors = errors_of(ROOT / "no-such-folder")
    assert [d.code for d in errors] == ["file.not-found"]


# ------------------------------------------------------------ clean inputs


def test_pack_is_clean() -> None:
    result = validate_paths([POLICIES])
    assert result.errors == []
    assert len(result.context.sources) >= 8


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_corpus_file_alone_has_no_yaml_or_schema_error(path: Path) -> None:
    codes = {d.code.split(".")[0] for d in errors_of(path)}
    assert not codes & {"file", "yaml", "schema", "internal"}


# Bundling a second copy of the pack's policies with the pack clashes by design; and
# birthday-greeting.yaml of the valid corpus reads tier.* under a schedule trigger
# (schema-valid, semantically wrong: tier.* exists only for tier ladders).
_BUNDLE_CLASHES = {
    "policy.duplicate-id", "policy.effective-overlap", "template.duplicate",
    "template.unknown", "override.disable-forbidden", "override.unknown-param",
    "override.unknown-policy",
}


def test_pack_bundled_with_valid_corpus(tmp_path: Path) -> None:
    bundle = tmp_path / "policies"
    shutil.copytree(POLICIES, bundle)
    for path in VALID:
        folder = {"override": "overrides", "templates": "templates"}.get(_kind(path), "corpus")
        (bundle / folder).mkdir(exist_ok=True)
        shutil.copy(path, bundle / folder / path.name)
    result = validate_paths([bundle])
    assert len(result.context.sources) == len(list(POLICIES.rglob("*.yaml"))) + len(VALID)
    unexpected = [d for d in result.errors if d.code not in _BUNDLE_CLASHES
                  and not (d.code == "expr.fact-not-available" and "tier." in d.message)]
    assert unexpected == []
    # every policy, override, templates and metrics file made it through schema and models
    modelled = [f for f in result.context.loaded
                if f.kind in ("policy", "override", "templates", "metrics")]
    assert len(result.context.models) == len(modelled) >= 8 + len(VALID)


def _kind(path: Path) -> str:
    match = re.search(r"^kind:\s*(\S+)", path.read_text(encoding="utf-8"), re.MULTILINE)
    return match[1] if match else "policy"


def test_valid_corpus_without_cross_pack_clashes() -> None:
    """The valid policies that need no template or other policy validate clean alone."""
    alone = [p for p in VALID if _kind(p) == "policy" and p.name != "birthday-greeting.yaml"]
    for path in alone:
        assert errors_of(path) == [], path.name


# ------------------------------------------------------------ symbolic links
# (made here: a committed link loop would trip tools that walk the repository)


def _one_policy(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(POLICIES / "big-purchase-call.yaml", folder)
    return folder


def _named(path: Path) -> list[tuple[str, str, int]]:
    return [(d.code, Path(d.location.file).name, d.location.line) for d in errors_of(path)]


def test_a_dangling_link_is_an_error_naming_it(tmp_path: Path) -> None:
    folder = _one_policy(tmp_path / "policies")
    (folder / "lapsed-contact.yaml").symlink_to("../elsewhere/lapsed-contact.yaml")
    assert _named(folder) == [("file.broken-link", "lapsed-contact.yaml", 0)]
    assert "does not exist" in errors_of(folder)[0].message


def test_a_link_loop_is_an_error_naming_it(tmp_path: Path) -> None:
    folder = _one_policy(tmp_path / "policies")
    (folder / "loop.yaml").symlink_to("loop.yaml")
    (folder / "a.yaml").symlink_to("b.yaml")
    (folder / "b.yaml").symlink_to("a.yaml")
    assert _named(folder) == [("file.broken-link", "a.yaml", 0), ("file.broken-link", "b.yaml", 0),
                              ("file.broken-link", "loop.yaml", 0)]
    assert all("loop" in d.message for d in errors_of(folder))


def test_a_folder_link_back_up_is_a_loop(tmp_path: Path) -> None:
    folder = _one_policy(tmp_path / "policies")
    (folder / "regions").mkdir()
    (folder / "regions" / "up").symlink_to("..")
    assert _named(folder) == [("file.broken-link", "up", 0)]


def test_links_to_files_and_folders_are_followed(tmp_path: Path) -> None:
    shared = _one_policy(tmp_path / "shared")
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "pack").symlink_to(shared, target_is_directory=True)
    (folder / "lapsed.yaml").symlink_to(POLICIES / "lapsed-contact.yaml")
    (folder / ".#lapsed.yaml").symlink_to("user@host.1234")  # an editor's lock: not ours
    result = validate_paths([folder])
    assert result.errors == []
    assert sorted(Path(f.source.display).name for f in result.context.loaded) == [
        "big-purchase-call.yaml", "lapsed.yaml"]


def test_a_dangling_link_given_by_name(tmp_path: Path) -> None:
    (tmp_path / "gone.yaml").symlink_to("nowhere.yaml")
    assert _named(tmp_path / "gone.yaml") == [("file.broken-link", "gone.yaml", 0)]
