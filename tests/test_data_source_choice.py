"""The data a command reads is named, never guessed: in a folder without data, under
cron (no terminal), every command that reads data refuses with the fix and leaves
the folder as it was; the bundled example store is the explicit `--example`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyaltyrules.cli import cli

from _paths import PACK

COMMANDS = {
    "run": ["run", "--as-of", "2025-11-20", "-q"],
    "catch-up": ["run", "-q"],
    "explain": ["explain", "--customer", "C0001", "--as-of", "2025-11-20"],
    "backtest": ["backtest", "--from", "2025-11-01", "--to", "2025-11-20"],
    "report churn": ["report", "churn", "--year", "2025"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_data_source_is_a_refusal_with_the_fix(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  name: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, COMMANDS[name])
    assert result.exit_code == 1, result.output
    assert "no data source" in result.output
    for fix in ("--data", "[source] data", "--example"):
        assert fix in result.output
    assert list(tmp_path.iterdir()) == []  # no ledger, no output folder


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_example_is_the_explicit_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        name: str) -> None:
    monkeypatch.chdir(tmp_path)
    command = [*COMMANDS[name], "--example"]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    both = CliRunner().invoke(cli, [*command, "--data", str(tmp_path)])
    assert both.exit_code == 1 and "give one" in both.output


def test_a_data_folder_or_a_configuration_is_still_found(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         example_store: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    example_store.rename(work / "data")
    result = CliRunner().invoke(cli, ["run", "--as-of", "2025-11-20", "-q",
                                      "--policies", str(PACK)])
    assert result.exit_code == 0, result.output
    (work / "data").rename(work / "shop")
    (work / "loyaltyrules.toml").write_text('[source]\ndata = "shop"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["backtest", "--from", "2025-11-01", "--to", "2025-11-20",
                                      "--policies", str(PACK)])
    assert result.exit_code == 0, result.output


def test_under_cron_an_empty_folder_stays_empty(tmp_path: Path) -> None:
    """No terminal, no data: the process refuses, exit 1, and writes nothing."""
    env = {**os.environ, "LOYALTYRULES_DEBUG": ""}
    done = subprocess.run([sys.executable, "-m", "loyaltyrules", "run"], cwd=tmp_path,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 1, done.stderr
    assert "--example" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_readmes_first_command(tmp_path: Path) -> None:
    """As .ci/run runs it: an empty folder, the bundled example store by name."""
    done = subprocess.run([sys.executable, "-m", "loyaltyrules", "run", "--example",
                           "--as-of", "2025-11-20", "--quiet"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    actions = (tmp_path / "out" / "actions-2025-11-20.jsonl").read_text(encoding="utf-8")
    assert [json.loads(line)["as_of"] for line in actions.splitlines()]
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert "loyaltyrules run --example --as-of 2025-11-20" in readme
