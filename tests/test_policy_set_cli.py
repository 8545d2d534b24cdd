"""What a policy set is, as the commands see it: an empty set is refused (validate,
run and backtest exit 1 and say so, nothing is written), a test file given on its
own runs against the policies beside it, and overrides naming a region or store the
data does not know are reported (validate --data, every run's and backtest's summary)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from loyaltyrules.cli import cli

from _paths import PACK, REPO


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture()
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    (folder / "templates").mkdir(parents=True)  # templates, but no policy
    shutil.copy(PACK / "templates" / "pack.yaml", folder / "templates")
    return folder


# -- an empty policy set -----------------------------------------------------------------
def test_validate_reports_an_empty_set(empty: Path) -> None:
    result = invoke("validate", str(empty))
    assert result.exit_code == 1
    assert "[policy-set.empty]" in result.output and "no policy in" in result.output


def test_validate_reports_an_empty_folder(tmp_path: Path) -> None:
    result = invoke("validate", str(tmp_path))
    assert result.exit_code == 1
    assert "[policy-set.empty]" in result.output


def test_validating_single_files_is_no_policy_set(tmp_path: Path) -> None:
    """A templates file checked on its own (an editor, a CI step) is not an empty set."""
    result = invoke("validate", str(PACK / "templates" / "pack.yaml"))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", [
    ["run", "--as-of", "2025-11-20"],
    ["backtest", "--from", "2025-11-01", "--to", "2025-11-20"],
])
def test_run_and_backtest_refuse_an_empty_set(empty: Path, tmp_path: Path, example_store: Path,
                                              command: list[str]) -> None:
    state, out = tmp_path / "state.sqlite", tmp_path / "out"
    extra = ["--state", str(state)] if command[0] == "run" else []
    result = invoke(*command, "--policies", str(empty), "--data", str(example_store),
                    "--out", str(out), *extra)
    assert result.exit_code == 1, result.output
    assert "[policy-set.empty]" in result.output and "internal error" not in result.output
    assert not state.exists() and not out.exists()


def test_run_refuses_a_set_of_only_templates(tmp_path: Path, example_store: Path) -> None:
    result = invoke("run", "--as-of", "2025-11-20", "--data", str(example_store),
                    "--policies", str(PACK / "templates" / "pack.yaml"),
                    "--state", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "[policy-set.empty]" in result.output


# -- a test file given on its own -------------------------------------------------------
@pytest.fixture()
def in_repo() -> Iterator[None]:
    before = Path.cwd()
    os.chdir(REPO)
    try:
        yield
    finally:
        os.chdir(before)


def test_a_test_file_runs_against_the_policies_beside_it(in_repo: None) -> None:
    result = invoke("test", "policies/tests/big-purchase-call.yaml", "-v")
    assert result.exit_code == 0, result.output
    assert "internal error" not in result.output
    ran = {line.split(": ")[0] for line in result.output.splitlines() if line.startswith("PASS")}
    assert ran == {"PASS policies/tests/big-purchase-call.yaml"}
    assert "0 failed" in result.output


def test_two_test_files_and_a_path_from_elsewhere(tmp_path: Path) -> None:
    copy = tmp_path / "pack"
    shutil.copytree(PACK, copy)
    given = [copy / "tests" / "top-spender-flowers.yaml", copy / "tests" / "lapsed-contact.yaml"]
    result = invoke("test", *map(str, given), "-v")
    assert result.exit_code == 0, result.output
    ran = {line.split(": ")[0].removeprefix("PASS ") for line in result.output.splitlines()
           if line.startswith("PASS")}
    assert {Path(name).name for name in ran} == {p.name for p in given}


# -- override targets the data does not know ------------------------------------------------
@pytest.fixture()
def with_typo(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(PACK, folder)
    (folder / "overrides").mkdir()
    (folder / "overrides" / "nort.yaml").write_text(
        "kind: override\ntarget: {region: nort}\n"
        "policies:\n  big-purchase-call: {params: {threshold: 1500}}\n", encoding="utf-8")
    (folder / "overrides" / "s1.yaml").write_text(
        "kind: override\ntarget: {store: S1}\n"
        "policies:\n  big-purchase-call: {params: {threshold: 1800}}\n", encoding="utf-8")
    return folder


def test_validate_with_data_warns_of_an_unknown_region(with_typo: Path, example_store: Path
                                                       ) -> None:
    result = invoke("validate", str(with_typo), "--data", str(example_store))
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if "override.unknown-target" in line]
    assert len(lines) == 1 and "nort.yaml:2:18: warning" in lines[0], result.output
    assert "did you mean 'north'?" in result.output
    assert invoke("validate", str(with_typo), "--data", str(example_store),
                  "--strict").exit_code == 1
    assert "unknown-target" not in invoke("validate", str(with_typo)).output  # no data given


def test_validate_with_unusable_data_exits_2(with_typo: Path, tmp_path: Path) -> None:
    result = invoke("validate", str(with_typo), "--data", str(tmp_path / "nothing-here"))
    assert result.exit_code == 2
    assert "unusable input" in result.output and "nothing-here" in result.output


def test_every_run_and_backtest_summary_names_the_unknown_target(
        with_typo: Path, example_store: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    run = invoke("run", "--as-of", "2025-11-20", "--policies", str(with_typo), "--data",
                 str(example_store), "--state", str(tmp_path / "s.sqlite"), "--out",
                 str(tmp_path / "o"), "--quiet", "--summary-json", str(summary))
    assert run.exit_code == 0, run.output
    warned = [line for line in run.output.splitlines() if line.startswith("warning: override")]
    assert len(warned) == 1 and "region 'nort'" in warned[0] and "nort.yaml" in warned[0]
    [listed] = json.loads(summary.read_text(encoding="utf-8"))["unknown_override_targets"]
    assert listed.startswith("region 'nort' (") and listed.endswith("nort.yaml)")
    back = invoke("backtest", "--from", "2025-11-01", "--to", "2025-11-20", "--policies",
                  str(with_typo), "--data", str(example_store))
    assert back.exit_code == 0 and "region 'nort'" in back.output
