"""Errors as RFC 9457 problem details (`application/problem+json`).

Every error response of the service is one of these: a stable `type` URI per kind
of problem, a short `title`, the HTTP `status`, a `detail` for this occurrence and,
for validation problems, `errors`: one entry per offending field. Details name
fields and codes, never the values sent (they may hold personal data).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://loyaltyrules.dev/problems/"

# kind -> (status, title)
KINDS: dict[str, tuple[int, str]] = {
    "malformed-json": (400, "Malformed JSON"),
    "malformed-request": (400, "Malformed HTTP request"),
    "unauthorized": (401, "Missing or wrong bearer token"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "too-large": (413, "Request body too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "invalid-request": (422, "Invalid request"),
    "invalid-event": (422, "Event rejected"),
    "unavailable": (503, "Service unavailable"),
    "internal": (500, "Internal error"),
}


class Problem(Exception):
    """Raised by handlers; rendered by `problem_response`."""

    def __init__(self, kind: str, detail: str,
                 errors: Sequence[Mapping[str, Any]] | None = None,
                 headers: Mapping[str, str] | None = None, code: str | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        self.code = code

    @property
    def status(self) -> int:
        return KINDS[self.kind][0]

    def body(self) -> dict[str, Any]:
        status, title = KINDS[self.kind]
        body: dict[str, Any] = {"type": TYPE_BASE + self.kind, "title": title,
                                "status": status, "detail": self.detail}
        if self.code is not None:
            body["code"] = self.code
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def problem_response(problem: Problem) -> Response:
    content = json.dumps(problem.body(), ensure_ascii=False, separators=(",", ":"))
    return Response(content, status_code=problem.status, media_type=MEDIA_TYPE,
                    headers=problem.headers)


def problem_bytes(problem: Problem) -> bytes:
    """The body alone, for the ASGI middleware that answers before any routing."""
    return json.dumps(problem.body(), separators=(",", ":")).encode()
