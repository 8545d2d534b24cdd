"""A real `loyaltyrules serve` process on a free loopback port, for the tests that
need one (shared, like _paths, outside conftest so test modules can import it)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from _paths import PACK

# A free port is found by binding port 0 and closing it; with parallel workers
# (pytest-xdist) another process may take it before `serve` binds it: then `serve`
# exits saying so and the start is tried again on a new port.
ATTEMPTS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(state: Path | str, *extra: str, env: dict[str, str] | None = None,
                log: Path | None = None, policies: Path = PACK
                ) -> tuple[subprocess.Popen[bytes], str]:
    """The server process and its base URL, once /v1/health answers; `extra` options
    go to `serve`, its standard error to `log` when given."""
    for _ in range(ATTEMPTS):
        started = _start(state, extra, env, log, policies)
        if started is not None:
            return started
    pytest.fail(f"the service found no free port in {ATTEMPTS} tries")


def _start(state: Path | str, extra: tuple[str, ...], env: dict[str, str] | None,
           log: Path | None, policies: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    """As start_serve, or None when the port was taken before `serve` bound it."""
    port = free_port()
    command = [sys.executable, "-m", "loyaltyrules", "serve", "--port", str(port), "--state",
               str(state), "--policies", str(policies), "--reload-interval", "0", "--log-level",
               "warning", *extra]
    environment = {**os.environ, **(env or {})}
    if log is None:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env=environment)
    else:
        with log.open("wb") as errors:  # the child keeps its own handle
            server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors,
                                      env=environment)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/v1/health").status_code == 200:
                return server, base
        except httpx.TransportError:
            if server.poll() is not None:
                errors_text = _errors(server, log)
                if "address already in use" in errors_text.lower():
                    return None
                raise AssertionError(errors_text) from None
            time.sleep(0.1)
    server.kill()
    pytest.fail("the service did not start")


def _errors(server: subprocess.Popen[bytes], log: Path | None) -> str:
    if log is not None:
        return log.read_text(errors="replace")
    return server.stderr.read().decode(errors="replace") if server.stderr else ""
