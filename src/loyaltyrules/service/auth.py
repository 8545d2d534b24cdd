"""Bearer-token checks and the rule for which addresses need a token."""

from __future__ import annotations

import hmac
import ipaddress

HEALTH_PATH = "/v1/health"


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def needs_token(host: str) -> bool:
    return not is_loopback(host)


def bearer_ok(header: bytes | None, token: str) -> bool:
    """Constant-time comparison of an `Authorization: Bearer ...` header with the token."""
    if header is None:
        return False
    scheme, _, given = header.partition(b" ")
    if scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(given.strip(), token.encode())


def exempt(path: str) -> bool:
    """Paths open without a token: only the health check (for load balancers, probes)."""
    return path == HEALTH_PATH
