"""`loyaltyrules validate` and `loyaltyrules schema` as users run them: through click's
CliRunner and as a real `python -m loyaltyrules` process."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from loyaltyrules.cli import cli

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "policies"
BROKEN = ROOT / "tests" / "corpus" / "broken"
UNKNOWN_FACT = BROKEN / "unknown-fact.yaml"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_module(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("LOYALTYRULES_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "loyaltyrules", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def _everything(result: Result | subprocess.CompletedProcess[str]) -> str:
    if isinstance(result, Result):
        return result.output + (result.stderr if result.stderr_bytes is not None else "")
    return result.stdout + result.stderr


# ------------------------------------------------------------ validate, in process


def test_pack_is_valid() -> None:
    result = invoke("validate", str(PACK))
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output and "valid" in result.output


def test_broken_file_exits_1_with_file_line_col() -> None:
    result = invoke("validate", str(UNKNOWN_FACT))
    assert result.exit_code == 1
    assert f"{os.path.relpath(UNKNOWN_FACT)}:9:5: error [expr.unknown-fact]" in result.output
    assert "did you mean 'customer.tier'?" in result.output


def test_json_format_carries_code_file_line_col_suggestion() -> None:
    result = invoke("validate", str(UNKNOWN_FACT), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False and report["files"] == 1
    [diagnostic] = report["diagnostics"]
    assert diagnostic["code"] == "expr.unknown-fact"
    assert Path(diagnostic["file"]).resolve() == UNKNOWN_FACT.resolve()
    assert (diagnostic["line"], diagnostic["col"]) == (9, 5)
    assert diagnostic["suggestion"] == "did you mean 'customer.tier'?"
    assert diagnostic["severity"] == "error"


def test_json_format_on_the_pack() -> None:
    result = invoke("validate", str(PACK), "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["ok"] is True
    assert all(d["severity"] != "error" for d in report["diagnostics"])


def test_json_related_names_the_other_file() -> None:
    case = BROKEN / "override-locked-param"
    report = json.loads(invoke("validate", str(case), "--format", "json").output)
    [diagnostic] = report["diagnostics"]
    assert diagnostic["code"] == "override.locked-param"
    assert Path(diagnostic["file"]).name == "north.yaml"
    assert diagnostic["related"] and "policy.yaml:8:3" in diagnostic["related"][0]


def test_not_found() -> None:
    result = invoke("validate", "no/such/place.yaml")
    assert result.exit_code == 1
    assert "file.not-found" in result.output


def test_strict_turns_warnings_into_failure(tmp_path: Path) -> None:
    policy = (PACK / "big-purchase-call.yaml").read_text(encoding="utf-8")
    unused = policy.replace("params:\n", "params:\n  spare: {type: int, default: 1}\n", 1)
    path = tmp_path / "p.yaml"
    path.write_text(unused, encoding="utf-8")
    assert invoke("validate", str(path)).exit_code == 0
    strict = invoke("validate", str(path), "--strict")
    assert strict.exit_code == 1
    assert "[param.unused]" in strict.output


def _garbage_folder(root: Path) -> Path:
    """A folder of files no one should feed to validate, plus a few broken corpus files."""
    rng = random.Random(20260101)
    folder = root / "garbage"
    (folder / "overrides").mkdir(parents=True)
    (folder / "templates").mkdir()
    for i in range(12):
        (folder / f"bytes-{i}.yaml").write_bytes(rng.randbytes(rng.randint(0, 400)))
    (folder / "empty.yaml").write_bytes(b"")
    (folder / "nul.yaml").write_bytes(b"\x00\x00\x00")
    (folder / "utf16.yaml").write_bytes("id: x\n".encode("utf-16"))
    (folder / "list.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    (folder / "overrides" / "odd.yaml").write_text("kind: override\ntarget: 5\n", encoding="utf-8")
    (folder / "overrides" / "scalar.yaml").write_text("hello\n", encoding="utf-8")
    (folder / "templates" / "odd.yaml").write_text("kind: templates\ntemplates: [1]\n",
                                                   encoding="utf-8")
    (folder / "deep.yaml").write_text("[" * 3000 + "]" * 3000, encoding="utf-8")
    (folder / "recursive.yaml").write_text("a: &a [*a]\n", encoding="utf-8")
    for name in ("alias-bomb.yaml", "not-utf8.yaml", "tab-indent.yaml", "unknown-fact.yaml"):
        (folder / name).write_bytes((BROKEN / name).read_bytes())
    return folder


def test_garbage_folder_never_shows_a_traceback(tmp_path: Path) -> None:
    folder = _garbage_folder(tmp_path)
    for fmt in ("text", "json"):
        result = CliRunner().invoke(cli, ["validate", str(folder), "--format", fmt])
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.exit_code == 1
        assert "Traceback" not in _everything(result)
        assert "internal" not in _everything(result)
    report = json.loads(invoke("validate", str(folder), "--format", "json").output)
    files = {Path(d["file"]).name for d in report["diagnostics"]}
    assert {"empty.yaml", "nul.yaml", "deep.yaml", "recursive.yaml", "alias-bomb.yaml"} <= files


# ------------------------------------------------------------ schema, in process


def test_schema_lists_names() -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    names = result.output.split()
    assert {"policy", "override", "templates", "action"} <= set(names)


def test_schema_policy_is_json() -> None:
    result = invoke("schema", "policy")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"].endswith("2020-12/schema")
    assert "properties" in schema


def test_schema_unknown_name_suggests() -> None:
    result = CliRunner().invoke(cli, ["schema", "polcy"])
    assert result.exit_code == 1
    assert "did you mean 'policy'?" in _everything(result)


# ------------------------------------------------------------ a real process


def test_process_pack_is_valid() -> None:
    done = run_module("validate", "policies")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_process_broken_file() -> None:
    done = run_module("validate", str(UNKNOWN_FACT.relative_to(ROOT)))
    assert done.returncode == 1
    assert "tests/corpus/broken/unknown-fact.yaml:9:5: error [expr.unknown-fact]" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_process_json_and_not_found(tmp_path: Path) -> None:
    done = run_module("validate", "missing.yaml", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert [d["code"] for d in report["diagnostics"]] == ["file.not-found"]
    assert report["diagnostics"][0]["file"] == "missing.yaml"


def test_process_garbage_folder(tmp_path: Path) -> None:
    folder = _garbage_folder(tmp_path)
    done = run_module("validate", str(folder))
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "internal error" not in done.stderr


def test_process_schema_unknown_name() -> None:
    done = run_module("schema", "polcy")
    assert done.returncode == 1
    assert "did you mean 'policy'?" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
