"""Stage 1 of validation: the published JSON Schema, with errors mapped to positions.

The schema is the contract HQ's editors see, so it runs first; its errors are
translated into diagnostics with stable codes and "did you mean" suggestions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from ..diagnostics import Diagnostic, did_you_mean
from ..resources import load_schema
from ..yamlsource import YamlDocument

_CODES = {
    "required": "schema.required",
    "additionalProperties": "schema.unknown-field",
    "unevaluatedProperties": "schema.unknown-field",
    "propertyNames": "schema.pattern",
    "type": "schema.type",
    "enum": "schema.enum",
    "const": "schema.enum",
    "pattern": "schema.pattern",
    "format": "schema.format",
    "minimum": "schema.range",
    "maximum": "schema.range",
    "exclusiveMinimum": "schema.range",
    "exclusiveMaximum": "schema.range",
    "minItems": "schema.min-items",
    "maxItems": "schema.range",
    "minLength": "schema.min-length",
    "maxLength": "schema.range",
    "minProperties": "schema.min-items",
    "oneOf": "schema.one-of",
    "anyOf": "schema.one-of",
    "not": "schema.not",
    "dependentRequired": "schema.required",
}


def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    schema = load_schema(schema_name)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def check_schema(doc: YamlDocument, schema_name: str) -> list[Diagnostic]:
    """Every schema violation of a document, as diagnostics."""
    validator = _validator(schema_name)
    errors = list(validator.iter_errors(doc.data))
    found: list[Diagnostic] = []
    for error in errors:
        if not _shadowed(error, errors):
            found.extend(_diagnose(doc, error))
    return found


def _shadowed(error: ValidationError, errors: list[ValidationError]) -> bool:
    """A "matches no form" error says less than a sibling error on the same value."""
    if error.validator not in ("oneOf", "anyOf") or _chosen_branch(error) is not None:
        return False
    here = _path(error)
    return any(other is not error and _path(other)[: len(here)] == here for other in errors)


def _diagnose(doc: YamlDocument, error: ValidationError) -> Iterator[Diagnostic]:
    if error.validator in ("oneOf", "anyOf") and error.context:
        branch = _chosen_branch(error)
        if branch is not None:
            for sub in branch:
                yield from _diagnose(doc, sub)
            return
    handler = _HANDLERS.get(str(error.validator), _generic)
    yield handler(doc, error)


def _chosen_branch(error: ValidationError) -> list[ValidationError] | None:
    """The errors of the one branch whose discriminator (`kind` etc.) matched, if any."""
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(sub.schema_path[0] if sub.schema_path else 0, []).append(sub)  # type: ignore[arg-type]
    matching = [errs for errs in branches.values() if not any(_is_discriminator(e) for e in errs)]
    return matching[0] if len(matching) == 1 else None


def _is_discriminator(error: ValidationError) -> bool:
    return error.validator in ("const", "enum") and len(error.relative_path) == 1 and (
        error.relative_path[0] in ("kind", "every")
    )


def _path(error: ValidationError) -> tuple[str | int, ...]:
    return tuple(error.absolute_path)


def _generic(doc: YamlDocument, error: ValidationError) -> Diagnostic:
    code = _CODES.get(str(error.validator), "schema.invalid")
    if "propertyNames" in error.absolute_schema_path:  # a bad key: point at the key
        where = doc.location((*_path(error), str(error.instance)), key=True)
        return Diagnostic(code, f"key {error.instance!r}: {error.message}", where)
    if error.validator == "false" or (error.validator is None and error.validator_value is False):
        return Diagnostic("schema.unknown-field", _message(error),
                          doc.location(_path(error), key=True))
    return Diagnostic(code, _message(error), doc.location(_path(error)))


def _message(error: ValidationError) -> str:
    where = "/".join(str(p) for p in _path(error)) or "the document"
    return f"{where}: {error.message}"


def _instance_keys(error: ValidationError) -> list[str]:
    instance: Any = error.instance
    return list(instance) if isinstance(instance, dict) else []


def _required(doc: YamlDocument, error: ValidationError) -> Diagnostic:
    present = _instance_keys(error)
    missing = [name for name in _as_list(error.validator_value) if name not in present]
    where = "/".join(str(p) for p in _path(error)) or "the document"
    return Diagnostic(
        "schema.required",
        f"{where}: missing required field {', '.join(repr(m) for m in missing)}",
        doc.location(_path(error)),
        f"add {missing[0]!r}" if missing else None,
    )


def _unknown_field(doc: YamlDocument, error: ValidationError) -> Diagnostic:
    schema: Any = error.schema
    allowed = list((schema.get("properties") or {}).keys()) if isinstance(schema, dict) else []
    extra = [k for k in _instance_keys(error) if k not in allowed]
    name = extra[0] if extra else "?"
    path = (*_path(error), name)
    hint = did_you_mean(name, allowed) or (
        f"allowed fields: {', '.join(allowed)}" if allowed else None
    )
    where = "/".join(str(p) for p in _path(error)) or "the document"
    return Diagnostic("schema.unknown-field", f"{where}: unknown field {name!r}",
                      doc.location(path, key=True), hint)


def _enum(doc: YamlDocument, error: ValidationError) -> Diagnostic:
    options = _as_list(error.validator_value)
    hint = None
    if isinstance(error.instance, str):
        hint = did_you_mean(error.instance, [str(o) for o in options])
    hint = hint or f"one of: {', '.join(str(o) for o in options)}"
    where = "/".join(str(p) for p in _path(error)) or "the document"
    return Diagnostic("schema.enum", f"{where}: {error.instance!r} is not allowed",
                      doc.location(_path(error)), hint)


def _one_of(doc: YamlDocument, error: ValidationError) -> Diagnostic:
    kinds: list[str] = []
    for sub in error.context or []:
        if _is_discriminator(sub):
            kinds.extend(str(v) for v in _as_list(sub.validator_value))
    value = error.instance.get("kind") if isinstance(error.instance, dict) else None
    hint = did_you_mean(str(value), kinds) if isinstance(value, str) else None
    if hint is None and kinds:
        hint = f"kind must be one of: {', '.join(sorted(set(kinds)))}"
    where = "/".join(str(p) for p in _path(error)) or "the document"
    return Diagnostic("schema.one-of", f"{where}: does not match any allowed form",
                      doc.location(_path(error)), hint)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


_HANDLERS: dict[str, Callable[[YamlDocument, ValidationError], Diagnostic]] = {
    "required": _required,
    "additionalProperties": _unknown_field,
    "enum": _enum,
    "const": _enum,
    "oneOf": _one_of,
    "anyOf": _one_of,
}
