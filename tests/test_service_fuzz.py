"""Schema-driven fuzzing of the service against its own OpenAPI document (schemathesis).

In process (ASGI transport), the real Engine on a fresh state file. Every generated
request, valid or not, must get a response the document allows: no 5xx, a documented
status, the documented content type, a body that matches the documented schema.
A second app runs with a token: sent without it, every request but health gets 401.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from loyaltyrules.service.app import create_app
from loyaltyrules.service.settings import ServiceSettings

from _paths import PACK

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CONFORMANCE = [schemathesis.checks.not_a_server_error, status_code_conformance,
               content_type_conformance, response_schema_conformance,
               response_headers_conformance]


_FOLDER = Path(tempfile.mkdtemp(prefix="loyaltyrules-fuzz-"))
atexit.register(shutil.rmtree, _FOLDER, True)
APP = create_app(ServiceSettings(policies=(PACK,), state=_FOLDER / "state.sqlite",
                                 reload_interval=0))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_response_follows_the_document(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CONFORMANCE)



GUARDED = create_app(ServiceSettings(policies=(PACK,), state=_FOLDER / "guarded.sqlite",
                                     token="fuzz-token", reload_interval=0))
guarded = schemathesis.openapi.from_asgi("/openapi.json", GUARDED,
                                         headers={"Authorization": "Bearer fuzz-token"})


@guarded.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_without_the_token_only_health_answers(case: schemathesis.Case) -> None:
    response = case.call_and_validate(checks=CONFORMANCE, headers={"Authorization": ""})
    assert response.status_code in ((200, 405) if case.path == "/v1/health" else (401, 405))
