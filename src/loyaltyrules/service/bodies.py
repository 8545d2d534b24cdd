"""Request bodies: JSON read within the size limit, then checked against the OpenAPI document.

Numbers with a point become exact decimals (never binary floats); NaN, Infinity and
duplicate keys are refused. Validation messages name the field and the rule broken,
never the value sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from starlette.requests import Request

from .openapi import document
from .problems import Problem

JSON_TYPES = ("application/json",)
MAX_FIELD_ERRORS = 50


async def read_json(request: Request) -> Any:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise Problem("unsupported-media-type", "send the body as application/json")
    raw = await request.body()  # the Guard middleware stops it at the size limit
    try:  # as json.loads(raw, ...) does, without building a decoder per request
        return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except _Refused as err:
        raise Problem("malformed-json", str(err)) from None
    except (ValueError, RecursionError) as err:
        where = f" at line {err.lineno} column {err.colno}" \
            if isinstance(err, json.JSONDecodeError) else ""
        raise Problem("malformed-json", f"the body is not valid UTF-8 JSON{where}") from None


class _Refused(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Refused("an object has the same key twice")
    return result


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constant,
                            object_pairs_hook=_no_duplicates)


def _root(component: str) -> dict[str, Any]:
    """One schema of the OpenAPI document, with its references resolvable."""
    return {"$ref": f"#/components/schemas/{component}", "components": document()["components"]}


@cache
def _validator(component: str) -> Draft202012Validator:
    return Draft202012Validator(_root(component))


@cache
def _fast(component: str) -> Callable[[Any], bool]:
    """jsonschema-rs's yes/no check when installed (about 150 times faster), else none."""
    try:
        import jsonschema_rs
    except ImportError:
        return lambda _data: False
    validator = jsonschema_rs.validator_for(_root(component))
    return lambda data: bool(validator.is_valid(data))


def check(data: Any, component: str) -> None:
    """Raise a 422 problem listing every field of `data` that breaks the document's schema.

    Valid bodies pass the fast check; anything else gets the full, field-by-field
    errors of `jsonschema`, which has the last word."""
    if _fast(component)(data):
        return
    errors = sorted(_validator(component).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        fields = [f for e in errors for f in field_errors(e)][:MAX_FIELD_ERRORS]
        raise Problem("invalid-request", f"{len(fields)} problems in the request body",
                      errors=fields)


def pointer(path: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """One entry per field: a `required` error names each missing field."""
    value = error.validator_value
    kind = str(error.validator)
    if kind == "required" and isinstance(error.instance, dict) and isinstance(value, list):
        return [{"pointer": pointer([*error.absolute_path, name]), "code": "required",
                 "message": "is required"} for name in value if name not in error.instance]
    messages = {
        "type": f"must be of type {_types(value)}",
        "pattern": "does not have the expected format",
        "minLength": "must not be empty" if value == 1 else "is too short",
        "maxLength": "is too long",
        "enum": "is not one of the allowed values",
        "const": "is not the allowed value",
        "additionalProperties": "has fields that are not allowed",
        "minimum": f"must be at least {value}",
        "maxItems": f"has more than {value} items",
        "minItems": f"has fewer than {value} items",
    }
    return [{"pointer": pointer(error.absolute_path), "code": kind,
             "message": messages.get(kind, f"breaks the schema rule '{kind}'")}]


def _types(value: Any) -> str:
    return " or ".join(value) if isinstance(value, list) else str(value)
