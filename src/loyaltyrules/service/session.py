"""How a browser carries the service's token, and how the work page's forms are kept
to the page that showed them.

* **Session.** A browser cannot send `Authorization: Bearer`, so it posts the token
  once to `/login` and gets a session cookie: `HttpOnly` (no script reads it),
  `SameSite=Strict` (no other site's page sends it), `Secure` over HTTPS, valid for
  SESSION_HOURS. The cookie holds its issue time and a random nonce, signed with a
  key derived from the token (HMAC-SHA256): nothing is stored on the server, a
  restart keeps sessions, and changing the token ends them all.
* **CSRF.** Each form carries a field that is the HMAC of a random per-browser cookie
  (`lr_csrf`, HttpOnly, SameSite=Strict); a post is accepted only when the two match,
  and when its `Origin` (if sent) is this host and `Sec-Fetch-Site` (if sent) says
  same-origin. Another site can neither read the field nor send the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["CSRF_COOKIE", "SESSION_COOKIE", "SESSION_HOURS", "Keys", "cookie", "same_origin"]

SESSION_COOKIE = "lr_session"
CSRF_COOKIE = "lr_csrf"
SESSION_HOURS = 12


@dataclass(frozen=True)
class Keys:
    """The signing keys of one service: from the token, else random per process."""

    session: bytes
    csrf: bytes

    @classmethod
    def for_token(cls, token: str | None) -> Keys:
        seed = token.encode() if token else secrets.token_bytes(32)
        return cls(_derive(seed, b"loyaltyrules session"), _derive(seed, b"loyaltyrules csrf"))

    def new_session(self, now: float | None = None) -> str:
        body = f"{int(now if now is not None else time.time())}.{secrets.token_hex(16)}"
        return f"{body}.{_mac(self.session, body)}"

    def session_ok(self, value: str | None, now: float | None = None) -> bool:
        if not value or value.count(".") != 2:
            return False
        body, _, mac = value.rpartition(".")
        if not hmac.compare_digest(mac, _mac(self.session, body)):
            return False
        issued = body.split(".")[0]
        if not issued.isdigit():
            return False
        age = (now if now is not None else time.time()) - int(issued)
        return 0 <= age < SESSION_HOURS * 3600

    def form_field(self, csrf_cookie: str) -> str:
        return _mac(self.csrf, csrf_cookie)

    def form_ok(self, csrf_cookie: str | None, field: str | None) -> bool:
        if not csrf_cookie or not field:
            return False
        return hmac.compare_digest(field, self.form_field(csrf_cookie))


def _derive(seed: bytes, purpose: bytes) -> bytes:
    return hmac.new(seed, purpose, hashlib.sha256).digest()


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def new_csrf_cookie() -> str:
    return secrets.token_hex(16)


def cookie(name: str, value: str, *, secure: bool, max_age: int, path: str = "/") -> str:
    """A Set-Cookie value: HttpOnly and SameSite=Strict always, Secure over HTTPS."""
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly",
             "SameSite=Strict"]
    return "; ".join([*parts, "Secure"] if secure else parts)


def same_origin(headers: Mapping[str, str]) -> bool:
    """A form post from a page of this service: `Origin` (when sent) names this host,
    and `Sec-Fetch-Site` (when sent) is same-origin (or none: typed by the user)."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()
