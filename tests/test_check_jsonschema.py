"""The published schemas work with a stock tool: the `check-jsonschema` CLI.

Users validate policies in CI or pre-commit hooks without loyaltyrules installed, so the
schemas must give the same answers there: the valid corpus and the policy pack pass,
every file of the schema-violation corpus fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
CORPUS = ROOT / "tests" / "corpus"
KINDS = ("policy", "override", "templates")

CLI = Path(sys.executable).parent / "check-jsonschema"
pytestmark = pytest.mark.skipif(
    not CLI.exists(), reason=f"check-jsonschema is not installed next to {sys.executable}"
)


def kind_of(path: Path) -> str | None:
    """The file kind from its `kind` key (none = policy); None when unreadable or other."""
    try:  # BaseLoader: every scalar a string, enough to read `kind`
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    except (yaml.YAMLError, UnicodeDecodeError):
        return None
    kind = data.get("kind", "policy") if isinstance(data, dict) else "policy"
    return kind if kind in KINDS else None


def by_kind(paths: list[Path]) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    for path in paths:
        kind = kind_of(path)
        if kind is not None:
            groups.setdefault(kind, []).append(path)
    return groups


def check(kind: str, paths: list[Path]) -> subprocess.CompletedProcess[str]:
    """One CLI run over many files (JSON output names every failing file)."""
    command = [str(CLI), "-o", "json", "--schemafile", str(SCHEMAS / f"{kind}.schema.json")]
    return subprocess.run(
        [*command, *map(str, paths)], capture_output=True, text=True, check=False, cwd=ROOT
    )


def failing_files(result: subprocess.CompletedProcess[str]) -> set[Path]:
    report = json.loads(result.stdout)
    return {Path(e["filename"]).resolve() for e in report["errors"] + report["parse_errors"]}


VALID = sorted((CORPUS / "valid").glob("*.yaml")) + sorted((ROOT / "policies").rglob("*.yaml"))
INVALID = sorted((CORPUS / "schema").glob("*.yaml"))


@pytest.mark.parametrize("kind", KINDS)
def test_valid_files_pass(kind: str) -> None:
    paths = by_kind(VALID).get(kind, [])
    if not paths:
        pytest.skip(f"no valid {kind} files yet")
    result = check(kind, paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_valid_corpus_covers_every_kind() -> None:
    assert set(by_kind(sorted((CORPUS / "valid").glob("*.yaml")))) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_schema_violations_fail(kind: str) -> None:
    paths = by_kind(INVALID).get(kind, [])
    assert paths, f"the schema corpus has no {kind} files"
    result = check(kind, paths)
    assert result.returncode == 1, result.stdout + result.stderr
    passed = {p.resolve() for p in paths} - failing_files(result)
    assert not passed, f"check-jsonschema accepted: {sorted(p.name for p in passed)}"
