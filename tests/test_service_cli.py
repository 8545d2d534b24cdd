"""`loyaltyrules serve` refuses unsafe or impossible setups before binding anything."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.service.auth import needs_token


def test_loopback_needs_no_token() -> None:
    assert not any(needs_token(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]",
                                            "localhost", "LOCALHOST"))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "::", "example.invalid"])
def test_a_public_address_needs_a_token(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOYALTYRULES_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--host", host])
    assert result.exit_code == 1
    assert "LOYALTYRULES_TOKEN" in result.output and "loopback" in result.output


def test_an_empty_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTYRULES_TOKEN", " ")
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1 and "empty" in result.output


def test_without_the_extra_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn -> ImportError
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "loyaltyrules: loyaltyrules serve needs the service extra: "
        "pip install 'loyaltyrules[serve]'")


def test_invalid_policies_stop_the_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nversion: nope\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["serve", "--policies", str(bad),
                                      "--state", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 1 and "problems in the policies" in result.output
