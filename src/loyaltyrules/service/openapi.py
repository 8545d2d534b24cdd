"""The service's OpenAPI 3.1 document, assembled from the published JSON Schemas.

Request and response bodies reuse `schemas/purchases.schema.json` (the receipt) and
`schemas/action.schema.json` (the action record) as they are, so the document, the
request validation and the nightly output all follow one definition.
`schemas/openapi.json` is this document written out (`python -m
loyaltyrules.service.openapi > schemas/openapi.json`); a test keeps them equal.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from .. import __version__
from ..resources import load_schema
from .problems import KINDS, MEDIA_TYPE

_JSON = "application/json"


def _published(name: str) -> dict[str, Any]:
    schema = copy.deepcopy(load_schema(name))
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(status: int) -> dict[str, Any]:
    titles = sorted({t for s, t in KINDS.values() if s == status})
    return {"description": " / ".join(titles),
            "content": {MEDIA_TYPE: {"schema": _ref("Problem")}}}


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref(schema)}}}


def _responses(ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    return {"200": ok, **{str(s): _problem(s) for s in sorted({*errors, 401, 500})}}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {_JSON: {"schema": _ref(schema)}}}


_PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "The engine's code for a rejected event."},
        "errors": {
            "type": "array",
            "description": "One entry per field that breaks the request schema.",
            "items": {
                "type": "object",
                "properties": {
                    "pointer": {"type": "string", "description": "JSON Pointer into the body."},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
                "required": ["pointer", "code", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}

_ACTIONS = {
    "type": "object",
    "properties": {"actions": {"type": "array", "items": _ref("Action")}},
    "required": ["actions"],
    "additionalProperties": False,
}

_DECISION = {
    "type": "object",
    "description": "What the contact rules did with one action the event fired "
                   "(docs/contact-rules.md).",
    "properties": {
        "status": {"enum": ["emitted", "deferred", "merged", "expired"],
                   "description": "emitted: in `actions`, hand it out now; deferred: decided "
                                  "again on `deferred_to`; merged: joined the task "
                                  "`merged_into`; expired: never goes out."},
        "reason": {"type": ["string", "null"],
                   "description": "Why it was deferred or expired: no-consent:<channel>, "
                                  "cap:<channel>, store-closed or stale; else null."},
        "deferred_to": {"type": ["string", "null"], "format": "date",
                        "description": "For deferred: the date it comes due again."},
        "merged_into": {"type": ["string", "null"],
                        "description": "For merged: the id of the day's surviving task it "
                                       "joined (handed out earlier or in `actions`)."},
        "action": _ref("Action"),
    },
    "required": ["status", "reason", "deferred_to", "merged_into", "action"],
    "additionalProperties": False,
}

_ANSWER = {
    "type": "object",
    "description": "The actions to hand out now, and one decision per action the event "
                   "fired, in the same order.",
    "properties": {"actions": {"type": "array", "items": _ref("Action")},
                   "decisions": {"type": "array", "items": _ref("Decision")}},
    "required": ["actions", "decisions"],
    "additionalProperties": False,
}

MAX_OUTCOMES = 1000

_OUTCOMES_REQUEST = {
    "type": "object",
    "properties": {"outcomes": {"type": "array", "items": _ref("Outcome"), "minItems": 1,
                                "maxItems": MAX_OUTCOMES}},
    "required": ["outcomes"],
    "additionalProperties": False,
}

_OUTCOMES_RESULT = {
    "type": "object",
    "description": "Counts of the import, and one entry per rejected value (the row is "
                   "then not recorded).",
    "properties": {
        **{name: {"type": "integer", "minimum": 0} for name in (
            "rows_read", "new", "replaced", "unchanged", "superseded", "rows_rejected")},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer", "minimum": 0,
                              "description": "Position of the row in `outcomes`."},
                    "field": {"type": ["string", "null"]},
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                },
                "required": ["index", "field", "reason", "message"],
            },
        },
    },
    "required": ["rows_read", "new", "replaced", "unchanged", "superseded", "rows_rejected",
                 "rejected"],
}

_HEALTH = {
    "type": "object",
    "properties": {
        "status": {
            "enum": ["ok", "degraded"],
            "description": "`degraded`: the last policy reload failed; the service answers "
                           "with the last good set (GET /v1/bundle for the diagnostics).",
        },
        "bundle": {"type": "string", "description": "Content hash of the active policy set."},
        "reload_failed_at": {"type": "string",
                             "description": "When the failed reload was tried (UTC); "
                                            "only when degraded."},
    },
    "required": ["status", "bundle"],
}

_BUNDLE = {
    "type": "object",
    "properties": {
        "bundle": {"type": "string", "description": "Content hash of the active policy set."},
        "loaded_at": {"type": "string", "description": "When it became active (UTC)."},
        "policies": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "string"},
                               "version": {"type": "integer", "minimum": 1}},
                "required": ["id", "version"],
            },
        },
        "reload_error": {
            "description": "The last reload that failed since the active set was loaded.",
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {
                        "at": {"type": "string"},
                        "message": {"type": "string"},
                        "diagnostics": {"type": "integer", "minimum": 0},
                        "codes": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["at", "message", "diagnostics", "codes"],
                },
            ],
        },
    },
    "required": ["bundle", "loaded_at", "policies", "reload_error"],
}


@cache
def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Receipt": _published("purchases"),
        "Customer": _published("customers"),
        "Complaint": _published("complaints"),
        "Event": _published("events"),
        "Action": _published("action"),
        "ActionList": _ACTIONS,
        "Decision": _DECISION,
        "EventAnswer": _ANSWER,
        "Outcome": _published("outcomes"),
        "OutcomesRequest": _OUTCOMES_REQUEST,
        "OutcomesResult": _OUTCOMES_RESULT,
        "Health": _HEALTH,
        "Bundle": _BUNDLE,
        "Problem": _PROBLEM,
    }
    paths: dict[str, Any] = {
        "/v1/purchases": {"post": {
            "operationId": "postPurchase",
            "summary": "Evaluate one receipt, apply the contact rules, and return the "
                       "actions to hand out now with what happened to each action it fired.",
            "requestBody": _body("Receipt"),
            "responses": _responses(_ok("The actions to hand out now (none is an empty list) "
                                        "and every decision.", "EventAnswer"),
                                    400, 413, 415, 422),
        }},
        "/v1/customers": {"post": {
            "operationId": "postCustomer",
            "summary": "Register or update a customer record (contact details are reduced "
                       "to has_* flags and not kept).",
            "requestBody": _body("Customer"),
            "responses": _responses(_ok("The actions it fired (none in the default pack).",
                                        "EventAnswer"), 400, 413, 415, 422),
        }},
        "/v1/complaints": {"post": {
            "operationId": "postComplaint",
            "summary": "Evaluate one complaint (complaint policies) with escalations of "
                       "follow-ups whose due time has passed, apply the contact rules, and "
                       "return the actions to hand out now with every decision.",
            "requestBody": _body("Complaint"),
            "responses": _responses(_ok("The actions to hand out now (none is an empty list) "
                                        "and every decision.", "EventAnswer"),
                                    400, 413, 415, 422),
        }},
        "/v1/events": {"post": {
            "operationId": "postEvent",
            "summary": "Evaluate one host event (an e-mail, an inquiry, a visit, an RSVP) "
                       "with escalations of follow-ups whose due time has passed, apply the "
                       "contact rules, and return the actions to hand out now with every "
                       "decision.",
            "requestBody": _body("Event"),
            "responses": _responses(_ok("The actions to hand out now (none is an empty list) "
                                        "and every decision.", "EventAnswer"),
                                    400, 413, 415, 422),
        }},
        "/v1/customers/{customer_id}/actions": {"get": {
            "operationId": "listOpenActions",
            "summary": "The customer's open actions.",
            "parameters": [{"name": "customer_id", "in": "path", "required": True,
                            "schema": {"type": "string", "minLength": 1}}],
            "responses": _responses(_ok("Open actions, oldest first.", "ActionList"), 404),
        }},
        "/v1/outcomes": {"post": {
            "operationId": "postOutcomes",
            "summary": "Record what the host did about actions (done, unreachable, ...).",
            "requestBody": _body("OutcomesRequest"),
            "responses": _responses(_ok("Import counts and rejected rows.", "OutcomesResult"),
                                    400, 413, 415, 422, 503),
        }},
        "/v1/health": {"get": {
            "operationId": "health",
            "summary": "Liveness, and whether the last policy reload failed; open without "
                       "a token.",
            "security": [],
            "responses": {"200": _ok("Up, with the active bundle.", "Health"),
                          "500": _problem(500)},
        }},
        "/v1/bundle": {"get": {
            "operationId": "bundle",
            "summary": "The active policy bundle, and the last failed reload if any.",
            "responses": _responses(_ok("The active policy set.", "Bundle")),
        }},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "loyaltyrules",
            "version": __version__,
            "description": "The local HTTP/JSON service of loyaltyrules: actions for a "
                           "point of sale. See docs/service.md.",
        },
        "servers": [{"url": "http://127.0.0.1:8787"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "Required when the service is bound to a non-loopback "
                               "address or started with a token.",
            }},
        },
    }


def text() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(text(), end="")
