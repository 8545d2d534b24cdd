"""The HTTP service on loopback: sustained request rate and latency percentiles.

    python benchmarks/bench_http.py [--rate 1000] [--duration 20] [--connections 32]
                                    [--state FILE] [--purchase-share 0.8] [--engine-alone]
                                    [--sync normal|full]

Starts `loyaltyrules serve` in its own process on a free loopback port with a fresh
state file (in the temporary folder, TMPDIR: it must be on the disk to be measured, not
a tmpfs; or give --state) and `--sync` as given (default: serve's own, normal), then
drives it from a second process over keep-alive HTTP/1.1 connections (raw asyncio
sockets, uvloop when installed). Pacing is open-loop: request i is due at
start + i/rate whatever happened before, and its latency runs from that due time to
the last byte of the response, so time spent queueing behind a slow request counts.
The mix: POST /v1/purchases (new receipts from 2,000 customers) and
GET /v1/customers/{id}/actions. Prints the achieved rate and p50/p95/p99/max per
endpoint and overall (design, section 7: p99 under 5 ms at 1,000 requests/s).
`--engine-alone` then makes the same calls on the engine in process at the same
pace and times each call on its own: the floor the HTTP layer adds to (with
`--sync full` on a slow disk a single caller cannot keep the pace, since every receipt
then waits for an fsync).
The exit status is 1 when a response is not 200 or the rate falls short by over 2%.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CUSTOMERS = 2000
WARMUP = 300  # requests sent (and not measured) before the timed run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, state: Path, sync: str | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "loyaltyrules", "serve", "--port", str(port),
               "--state", str(state), "--reload-interval", "0", "--log-level", "warning",
               *(["--sync", sync] if sync else [])]
    server = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=1):
                return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(server.stderr.read().decode() if server.stderr else "") from None
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not come up within 60 s")


def operations(count: int, seed: int, purchase_share: float) -> list[tuple[str, Any]]:
    """("purchase", receipt) or ("open", customer_id); receipt ids unique, dates past."""
    rng = random.Random(seed)
    day = dt.date.today() - dt.timedelta(days=1)
    out: list[tuple[str, Any]] = []
    for i in range(count):
        customer = f"B{rng.randrange(CUSTOMERS):05d}"
        if rng.random() < purchase_share:
            out.append(("purchase", {
                "purchase_id": f"H{seed}-{i:08d}", "customer_id": customer,
                "store_id": f"S{rng.randrange(1, 11):03d}", "staff_id": "E00001",
                "purchased_at": f"{day}T{10 + i % 10:02d}:{i % 60:02d}:00",
                "amount": f"{rng.lognormvariate(4.8, 1.0):.2f}", "currency": "EUR"}))
        else:
            out.append(("open", customer))
    return out


def requests(count: int, seed: int, purchase_share: float) -> list[tuple[str, bytes]]:
    """(label, raw HTTP/1.1 request) pairs."""
    out: list[tuple[str, bytes]] = []
    for kind, value in operations(count, seed, purchase_share):
        if kind == "purchase":
            body = json.dumps(value).encode()
            head = (f"POST /v1/purchases HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
            out.append(("POST /v1/purchases", head.encode() + body))
        else:
            head = f"GET /v1/customers/{value}/actions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            out.append(("GET /v1/customers/{id}/actions", head.encode()))
    return out


def engine_alone(rate: float, duration: float, purchase_share: float, state: Path,
                 sync: str) -> None:
    """The floor: the same calls on the engine in process, paced, each call timed alone."""
    from loyaltyrules.api import Engine

    engine = Engine.load(state=state, sync=sync)
    ops = operations(int(rate * duration), 1, purchase_share)
    results: list[tuple[str, float, int]] = []
    start = time.perf_counter() + 0.05
    for i, (kind, value) in enumerate(ops):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        began = time.perf_counter()
        if kind == "purchase":
            engine.on_purchase(value)
        else:
            engine.open_actions(value)
        results.append((f"engine.{'on_purchase' if kind == 'purchase' else 'open_actions'}",
                        time.perf_counter() - began, 200))
    engine.close()
    print(f"\nthe engine alone (sync {sync}), in process, one thread, same calls and pacing "
          "(no HTTP);\nlatency = the call's own time, without queueing:")
    report(rate, {"elapsed": time.perf_counter() - start, "results": results})


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _drive(port: int, rate: float, batch: list[tuple[str, bytes]], connections: int,
                 warmup: list[tuple[str, bytes]]) -> dict[str, Any]:
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    for _, raw in warmup:
        conn = await pool.get()
        await _exchange(*conn, raw)
        pool.put_nowait(conn)
    clock = time.perf_counter  # the loop's own clock may tick in whole milliseconds
    results: list[tuple[str, float, int]] = []

    async def one(label: str, raw: bytes, due: float) -> None:
        conn = await pool.get()
        try:
            status = await _exchange(*conn, raw)
        finally:
            pool.put_nowait(conn)
        results.append((label, clock() - due, status))

    tasks = []
    start = clock() + 0.05
    for i, (label, raw) in enumerate(batch):
        due = start + i / rate
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(label, raw, due)))
    await asyncio.gather(*tasks)
    elapsed = clock() - start
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    return {"elapsed": elapsed, "results": results}


def drive(port: int, rate: float, duration: float, connections: int, purchase_share: float,
          out: Any) -> None:
    """Runs in the load process; sends its measurements back through `out`."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    batch = requests(int(rate * duration), 1, purchase_share)
    warmup = requests(WARMUP, 2, purchase_share)
    out.send(asyncio.run(_drive(port, rate, batch, connections, warmup)))


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process (Linux /proc; zeros elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def stalled_us() -> dict[str, int]:
    """Microseconds some task waited for a CPU / for I/O, machine-wide (Linux PSI; else {})."""
    out = {}
    for kind in ("cpu", "io"):
        try:
            first = Path(f"/proc/pressure/{kind}").read_text().splitlines()[0]
        except (OSError, IndexError):
            continue
        out[kind] = int(first.rsplit("total=", 1)[1])
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(rate: float, data: dict[str, Any]) -> bool:
    results: list[tuple[str, float, int]] = data["results"]
    achieved = len(results) / data["elapsed"]
    bad = sum(1 for _, _, status in results if status != 200)
    print(f"target {rate:.0f} req/s, achieved {achieved:.0f} req/s over {data['elapsed']:.1f} s "
          f"({len(results)} requests, {bad} not 200)")
    if data.get("server_cpu"):
        user, system = data["server_cpu"]
        per = 1e6 / len(results)
        print(f"server CPU: {user + system:.1f} s, {(user + system) * per:.0f} us per request "
              f"(user {user * per:.0f}, system {system * per:.0f}; warm-up included)")
    print(f"{'endpoint':34} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    labels = [*sorted({label for label, _, _ in results}), "all"]
    for label in labels:
        values = [lat * 1000 for lab, lat, _ in results if label in (lab, "all")]
        print(f"{label:34} {len(values):>7} {percentile(values, 0.50):>8.2f} "
              f"{percentile(values, 0.95):>8.2f} {percentile(values, 0.99):>8.2f} "
              f"{max(values):>8.2f}")
    return bad == 0 and achieved >= rate * 0.98


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--purchase-share", type=float, default=0.8)
    parser.add_argument("--state", type=Path, help="state file (default: a fresh temporary one)")
    parser.add_argument("--sync", choices=["normal", "full"],
                        help="the server's --sync (default: serve's default, normal); "
                             "also used by --engine-alone")
    parser.add_argument("--engine-alone", action="store_true",
                        help="also time the same calls on the engine in process (the floor)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        state = args.state or Path(folder) / "state.sqlite"
        port = free_port()
        server = start_server(port, state, args.sync)
        try:
            receiver, sender = multiprocessing.Pipe(duplex=False)
            load = multiprocessing.get_context("spawn").Process(
                target=drive, args=(port, args.rate, args.duration, args.connections,
                                    args.purchase_share, sender))
            before, pressure, began = cpu_seconds(server.pid), stalled_us(), time.monotonic()
            load.start()
            data = receiver.recv()
            load.join()
            after = cpu_seconds(server.pid)
            data["server_cpu"] = (after[0] - before[0], after[1] - before[1])
            data["pressure"] = {k: (v - pressure[k]) / 1e6 / (time.monotonic() - began)
                                for k, v in stalled_us().items()}
        finally:
            server.terminate()
            server.wait(timeout=30)
    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"server: loyaltyrules serve --sync {args.sync or '(default)'} on 127.0.0.1, state "
          f"{'given' if args.state else 'fresh'}; {os.cpu_count()} CPUs shared with the load "
          f"process; load average {load_avg}")
    if data["pressure"]:  # other work on the machine shows up in the tail: say how much
        shares = ", ".join(f"{kind} {share:.0%}" for kind, share in data["pressure"].items())
        print(f"time some task waited (Linux PSI, whole machine, load process included): "
              f"{shares}")
    ok = report(args.rate, data)
    if args.engine_alone:
        with tempfile.TemporaryDirectory() as folder:
            fresh = Path(folder) / "alone.sqlite"
            engine_alone(args.rate, args.duration, args.purchase_share,
                         fresh if args.state is None else args.state.with_suffix(".alone"),
                         args.sync or "normal")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
