"""loyaltyrules.toml: typed defaults, clear errors with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyaltyrules.config import load_config, parse_config
from loyaltyrules.diagnostics import DiagnosticError


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.path is None
    assert config.source.data == tmp_path / "data"
    assert config.source.reject_share == 0.05 and config.source.consent_default is True


def test_reads_the_working_directory_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "loyaltyrules.toml").write_text(
        '[source]\ndata = "exports"\ncurrency = "gbp"\n[run]\nout = "actions.jsonl"\n'
        '[source.tables.purchases.columns]\namount = "Total"\n'
    )
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.source.data == tmp_path / "exports"
    assert config.source.currency == "GBP"
    assert config.source.table("purchases").columns == {"amount": "Total"}
    assert config.sections["run"] == {"out": "actions.jsonl"}


def test_bad_toml_has_a_line(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticError) as err:
        parse_config('[source]\ncurrency = "GBP"\nreject_share = \n', tmp_path / "x.toml")
    (diag,) = err.value.diagnostics
    assert diag.code == "config.syntax" and diag.location.line == 3


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        ('[source]\ncurency = "GBP"\n', "config.unknown-key", 2),
        ("[source]\nreject_share = 2\n", "config.bad-value", 2),
        ("[source.tables.purchase]\npath = 'x'\n", "config.unknown-table", 1),
        ("[source.tables.stores]\nderive_from = 'purchases'\n", "config.bad-value", 2),
    ],
)
def test_bad_values(tmp_path: Path, text: str, code: str, line: int) -> None:
    with pytest.raises(DiagnosticError) as err:
        parse_config(text, tmp_path / "loyaltyrules.toml")
    (diag,) = err.value.diagnostics
    assert (diag.code, diag.location.line) == (code, line)
    if code == "config.unknown-key":
        assert diag.suggestion == "did you mean 'currency'?"
