"""One year of impact simulation against one full-history night, as whole commands.

    python benchmarks/bench_simulate.py DATA [--from 2025-01-01 --to 2025-12-31]

DATA is a folder from generate.py. The candidate is the default pack with the
big-purchase threshold lowered from 2,000 to 1,500. Measured, each as a separate
process, wall time and peak memory (the process's maximum resident set):

1. night: `loyaltyrules run --as-of TO` on a new ledger (the whole history is read,
   one date evaluated);
2. simulate: `loyaltyrules simulate --baseline pack --candidate lowered --from FROM
   --to TO` (the year evaluated twice, once per set, with the contact rules).

Prints both and their ratio (the design's target: within 2x at scale 1.0).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command run as its own process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(REPO / "cli.py"), *args], capture_output=True,
                          text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(args)}\n{done.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def _lowered(folder: Path) -> Path:
    shutil.copytree(REPO / "policies", folder)
    call = folder / "big-purchase-call.yaml"
    text = call.read_text(encoding="utf-8")
    version = int(re.search(r"^version: (\d+)$", text, re.MULTILINE)[1])  # type: ignore[index]
    call.write_text(text.replace("default: 2000", "default: 1500").replace(
        f"\nversion: {version}\n", f"\nversion: {version + 1}\n"), encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--from", dest="start", default="2025-01-01")
    parser.add_argument("--to", dest="end", default="2025-12-31")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        work = Path(tmp)
        candidate = _lowered(work / "candidate")
        night = _timed(["run", "--as-of", args.end, "--data", str(args.data), "--state",
                        str(work / "state.sqlite"), "--out", str(work / "out"), "--quiet"])
        print(f"night     {args.end}: {night[0]:7.1f} s, peak {night[1]:7.0f} MB", flush=True)
        simulate = _timed(["simulate", "--baseline", str(REPO / "policies"), "--candidate",
                           str(candidate), "--from", args.start, "--to", args.end, "--data",
                           str(args.data), "--format", "csv", "--out", str(work / "impact")])
        print(f"simulate  {args.start} .. {args.end}: {simulate[0]:7.1f} s, "
              f"peak {simulate[1]:7.0f} MB")
        print(f"ratio simulate / night: {simulate[0] / night[0]:.2f} "
              f"(cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
