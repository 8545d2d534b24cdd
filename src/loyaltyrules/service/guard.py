"""ASGI middleware run before routing: bearer token and request size limit.

The store work page (`/stores/...`, `/logout`) also accepts the session cookie a
browser gets from `/login` (service/session.py); without either, a page request is
sent to the login form, any other gets 401. `/login` itself and `/v1/health` are open.

The size limit is enforced twice: a declared Content-Length over the limit is
refused before any byte is read, and a body without one (chunked) is counted as it
arrives and refused as soon as it passes the limit. Either way nothing is parsed.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import bearer_ok, exempt
from .problems import MEDIA_TYPE, Problem, problem_bytes
from .session import SESSION_COOKIE, Keys

BROWSER_PATHS = ("/stores/", "/logout")  # pages a signed-in browser may open
LOGIN_PATH = "/login"


class Guard:
    def __init__(self, app: ASGIApp, *, token: str | None, max_body: int) -> None:
        self.app = app
        self.token = token
        self.max_body = max_body
        self.keys = Keys.for_token(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if not self._allowed(scope["path"], headers):
            if scope["method"] == "GET" and scope["path"].startswith(BROWSER_PATHS):
                query = scope.get("query_string", b"").decode("latin-1")
                await _to_login(send, scope["path"] + (f"?{query}" if query else ""))
                return
            await _answer(send, Problem("unauthorized", "send Authorization: Bearer <token>",
                                        headers={"www-authenticate": "Bearer"}))
            return
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _answer(send, Problem("malformed-json", "invalid Content-Length header"))
                return
            if length > self.max_body:
                await _answer(send, _too_large(self.max_body))
                return
        await self.app(scope, self._counting(receive), send)

    def _allowed(self, path: str, headers: dict[bytes, bytes]) -> bool:
        if self.token is None or exempt(path) or path == LOGIN_PATH:
            return True
        if bearer_ok(headers.get(b"authorization"), self.token):
            return True
        if not path.startswith(BROWSER_PATHS):
            return False
        cookies = cookie_parser(headers.get(b"cookie", b"").decode("latin-1"))
        return self.keys.session_ok(cookies.get(SESSION_COOKIE))

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _too_large(self.max_body)
            return message

        return counted


def _too_large(limit: int) -> Problem:
    return Problem("too-large", f"the request body is limited to {limit} bytes")


async def _answer(send: Send, problem: Problem) -> None:
    body = problem_bytes(problem)
    headers = [(b"content-type", MEDIA_TYPE.encode()),
               (b"content-length", str(len(body)).encode()),
               *((k.encode(), v.encode()) for k, v in problem.headers.items())]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _to_login(send: Send, path: str) -> None:
    location = f"{LOGIN_PATH}?next={quote(path)}".encode()
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
