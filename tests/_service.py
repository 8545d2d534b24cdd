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


def start_serve(state: Path | str, *extra: str, env: dict[str, str] | None = None,
                log: Path | None = None, policies: Path = PACK
                ) -> tuple[subprocess.Popen[bytes], str]:
    """The server process and its base URL, once /v1/health answers; `extra` options
    go to `serve`, its standard error to `log` when given."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            time.sleep(0.1)
    server.kill()
    pytest.fail("the service did not start")
