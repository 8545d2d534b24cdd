"""The published JSON Schemas and the pydantic models agree.

* every schema is a valid draft 2020-12 schema, documented, and its examples validate;
* the models use the same enums and patterns as the schemas;
* the contract: on every policy / override / templates YAML file under tests/corpus/ and
  policies/, jsonschema (with format checking) and the models give the same verdict;
* each file of tests/corpus/schema/ carries `# expect: <code> <line>:<col>` and the schema
  reports that problem at that YAML node (mapping rules in tests/corpus/schema/README.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from jsonschema import Draft202012Validator, ValidationError
from pydantic import ValidationError as ModelError

from loyaltyrules import model

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
CORPUS = ROOT / "tests" / "corpus"
POLICIES = ROOT / "policies"
SCHEMA_FILES = sorted(SCHEMAS.glob("*.schema.json"))
DOCUMENT_KINDS = ("policy", "override", "templates", "metrics")
PARSERS: dict[str, Callable[[object], object]] = {
    "policy": model.parse_policy,
    "override": model.parse_override,
    "templates": model.parse_templates,
    "metrics": model.parse_metrics,
}


# ---------------------------------------------------------------- YAML, 1.2-like


class CoreLoader(yaml.SafeLoader):
    """Only true/false are booleans, timestamps stay strings, numbers with a point are
    Decimal, integers are base 10 (no YAML 1.1 octal or sexagesimal)."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's own class table


def _resolver(tag: str, pattern: str, first: str) -> None:
    CoreLoader.add_implicit_resolver(tag, re.compile(pattern), list(first))


_resolver("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
_resolver("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", "-+0123456789")
_resolver(
    "tag:yaml.org,2002:float",
    r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$",
    "-+.0123456789",
)
_resolver("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])
CoreLoader.add_constructor(
    "tag:yaml.org,2002:bool", lambda ld, node: ld.construct_scalar(node).lower() == "true"
)
CoreLoader.add_constructor(
    "tag:yaml.org,2002:int", lambda ld, node: int(ld.construct_scalar(node), 10)
)
CoreLoader.add_constructor(
    "tag:yaml.org,2002:float", lambda ld, node: Decimal(ld.construct_scalar(node))
)


def load_data(text: str) -> Any:
    """Plain data the way `validate` sees it: the project's loader when present."""
    try:
        from loyaltyrules.yamlsource import load_yaml_text
    except ImportError:
        return yaml.load(text, Loader=CoreLoader)
    return load_yaml_text(text).data


def load_or_skip(path: Path) -> Any:
    try:
        return load_data(path.read_text(encoding="utf-8"))
    except Exception as exc:  # a YAML-level error (DiagnosticError, YAMLError), not a schema one
        pytest.skip(f"{path.name}: not loadable YAML ({type(exc).__name__})")


def kind_of(data: Any) -> str | None:
    kind = data.get("kind", "policy") if isinstance(data, dict) else "policy"
    return kind if kind in DOCUMENT_KINDS else None


# ---------------------------------------------------------------- schemas


def schema(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return result


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)


_SUBSCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_ONE = ("items", "additionalProperties", "propertyNames", "if", "then", "else", "not")


def subschemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema with its JSON pointer, walking keywords, not property names."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key in _SUBSCHEMA_MAPS:
        for name, sub in node.get(key, {}).items():
            yield from subschemas(sub, f"{where}/{key}/{name}")
    for key in _SUBSCHEMA_LISTS:
        for index, sub in enumerate(node.get(key, [])):
            yield from subschemas(sub, f"{where}/{key}/{index}")
    for key in _SUBSCHEMA_ONE:
        yield from subschemas(node.get(key), f"{where}/{key}")


def test_schema_files_exist() -> None:
    names = {path.name.removesuffix(".schema.json") for path in SCHEMA_FILES}
    assert {"policy", "override", "templates", "action", "customers", "purchases"} <= names
    assert not (SCHEMAS / "placeholder.json").exists()


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_is_valid_and_documented(path: Path) -> None:
    doc = json.loads(path.read_text())
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"] == f"https://loyaltyrules.dev/schemas/{path.name}"
    assert doc["title"] and doc["description"] and doc["examples"]
    for where, sub in subschemas(doc):
        for name, prop in sub.get("properties", {}).items():
            if prop is not False and "/if" not in where and "/then" not in where:
                assert prop.get("description"), f"{path.name} {where}/properties/{name}"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_examples_validate(path: Path) -> None:
    root = validator(path.name.removesuffix(".schema.json"))
    for where, sub in subschemas(root.schema):
        for example in sub.get("examples", []):
            errors = list(root.evolve(schema=sub).iter_errors(example))
            assert not errors, f"{path.name} {where}: {example!r}: {errors[0].message}"


def _enum(name: str, pointer: str) -> list[Any]:
    node: Any = schema(name)
    for part in pointer.split("/"):
        node = node[part]
    return list(node["enum"])


@pytest.mark.parametrize(
    ("literal", "name", "pointer"),
    [
        (model.ActionType, "policy", "$defs/actionType"),
        (
            model.ActionType,
            "templates",
            "properties/templates/additionalProperties/properties/channel",
        ),
        (model.ActionType, "action", "properties/type"),
        (model.Role, "policy", "$defs/role"),
        (model.Role, "action", "properties/assignee/properties/role"),
        (model.ParamType, "policy", "$defs/paramSpec/properties/type"),
        (model.Aggregate, "metrics", "$defs/metric/properties/aggregate"),
        (model.ReceiptField, "metrics", "$defs/field"),
        (model.Tone, "templates", "properties/templates/additionalProperties/properties/tone"),
    ],
)
def test_model_enums_match_schema(literal: Any, name: str, pointer: str) -> None:
    assert list(get_args(literal)) == _enum(name, pointer)


def test_trigger_kinds_match() -> None:
    defs = schema("policy")["$defs"]
    kinds = [
        defs[ref["$ref"].split("/")[-1]]["properties"]["kind"]["const"]
        for ref in defs["trigger"]["oneOf"]
    ]
    assert kinds == defs["trigger"]["properties"]["kind"]["enum"]
    # An action's reason names the event: a tier ladder fires upgrades and downgrades,
    # and the action lifecycle adds escalations and routed feedback.
    events = [k for k in kinds if k != "tier_ladder"] + [
        "upgrade", "downgrade", "escalation", "routing"]
    assert sorted(events) == sorted(_enum("action", "properties/reason/properties/trigger"))


def test_model_patterns_match_schema() -> None:
    defs = schema("policy")["$defs"]
    assert defs["policyId"]["pattern"] == model.ID_PATTERN
    assert defs["name"]["pattern"] == model.NAME_PATTERN
    assert defs["duration"]["pattern"] == model.DURATION_PATTERN
    assert defs["windowOffset"]["pattern"] == model.WINDOW_PATTERN
    assert defs["date"]["pattern"] == model.DATE_PATTERN
    assert defs["monthDay"]["pattern"] == model.MONTH_DAY_PATTERN
    assert defs["dayOfMonth"]["pattern"] == model.DAY_OF_MONTH_PATTERN
    assert defs["hours"]["pattern"] == model.HOURS_PATTERN
    assert defs["scheduleTrigger"]["properties"]["on"]["pattern"] == model.ON_PATTERN
    text = schema("templates")["properties"]["templates"]["additionalProperties"]["properties"]
    assert text["text"]["propertyNames"]["pattern"] == model.LOCALE_PATTERN
    for trigger in ("crossingTrigger", "tierLadderTrigger"):
        assert defs[trigger]["properties"]["metric"]["pattern"] == model.METRIC_PATH_PATTERN
    metrics = schema("metrics")
    assert metrics["$defs"]["window"]["pattern"] == model.METRIC_WINDOW_PATTERN
    assert metrics["$defs"]["name"]["pattern"] == model.NAME_PATTERN
    assert metrics["properties"]["history"]["pattern"] == model.HISTORY_PATTERN


# ---------------------------------------------------------------- the contract


def yaml_files() -> list[Path]:
    found = [p for base in (CORPUS, POLICIES) if base.is_dir() for p in base.rglob("*.y*ml")]
    return sorted(p for p in found if p.suffix in (".yaml", ".yml"))


def verdicts(kind: str, data: Any) -> tuple[bool, bool]:
    schema_ok = validator(kind).is_valid(data)
    try:
        PARSERS[kind](data)
    except ModelError:
        return schema_ok, False
    return schema_ok, True


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_schema_and_model_agree(path: Path) -> None:
    data = load_or_skip(path)
    kind = kind_of(data)
    if kind is None:
        pytest.skip(f"{path.name}: not a policy, override or templates file")
    schema_ok, model_ok = verdicts(kind, data)
    errors = [e.message for e in validator(kind).iter_errors(data)]
    assert schema_ok == model_ok, f"schema says {schema_ok}, model says {model_ok}: {errors}"
    if path.parent == CORPUS / "valid":
        assert schema_ok, errors
    if path.parent == CORPUS / "schema":
        assert not schema_ok


def test_corpus_is_big_enough() -> None:
    assert len(list((CORPUS / "schema").glob("*.yaml"))) >= 20
    assert len(list((CORPUS / "valid").glob("*.yaml"))) >= 5


def test_model_keeps_dates_as_text_with_date_properties() -> None:
    data = load_data((CORPUS / "valid" / "big-purchase-call.yaml").read_text(encoding="utf-8"))
    policy = model.parse_policy(data)
    assert policy.effective.from_ == "2020-01-01"
    assert policy.effective.start is not None and policy.effective.start.isoformat() == "2020-01-01"
    assert policy.effective.end is None
    assert model.duration_days(policy.actions[0].window.due_by) == 7
    assert model.param_reference("params.due_days") == "due_days"
    assert model.param_reference("7d") is None


# ---------------------------------------------------------------- expected locations


def expectation(path: Path) -> tuple[str, int, int]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    found = re.fullmatch(r"# expect: (schema\.[a-z-]+) (\d+):(\d+)", first)
    assert found, f"{path.name}: first line must be '# expect: <code> <line>:<col>'"
    return found[1], int(found[2]), int(found[3])


def node_at(root: yaml.Node, path: list[Any], key: bool = False) -> yaml.Node:
    node = root
    for index, part in enumerate(path):
        last = index == len(path) - 1
        if isinstance(node, yaml.SequenceNode):
            node = node.value[part]
            continue
        assert isinstance(node, yaml.MappingNode)
        pair = next(p for p in node.value if p[0].value == str(part))
        node = pair[0] if key and last else pair[1]
    return node


_CODES = {
    "required": "schema.required",
    "type": "schema.type",
    "enum": "schema.enum",
    "const": "schema.enum",
    "pattern": "schema.pattern",
    "minimum": "schema.range",
    "maximum": "schema.range",
    "exclusiveMinimum": "schema.range",
    "exclusiveMaximum": "schema.range",
    "minItems": "schema.min-items",
    "format": "schema.format",
    "oneOf": "schema.one-of",
    "additionalProperties": "schema.unknown-field",
    None: "schema.unknown-field",  # a `false` subschema: the key is not allowed here
}


def leaf_errors(errors: list[ValidationError]) -> Iterator[ValidationError]:
    """oneOf over `kind`: the errors of the branch whose kind matches (none matching:
    the enum error on `kind` already says it); any other oneOf is itself the error."""
    for error in errors:
        if error.validator != "oneOf" or not error.context:
            yield error
            continue
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        kind_miss = {
            b
            for b, errs in branches.items()
            if any(e.validator == "const" and list(e.relative_path) == ["kind"] for e in errs)
        }
        if not kind_miss:
            yield error
            continue
        for branch, errs in branches.items():
            if branch not in kind_miss:
                yield from leaf_errors(errs)


def sites(error: ValidationError, root: yaml.Node) -> Iterator[tuple[str, int, int]]:
    code = _CODES.get(error.validator, f"schema.{error.validator}")  # type: ignore[call-overload]
    path = list(error.absolute_path)
    nodes: list[yaml.Node]
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))  # type: ignore[union-attr]
        nodes = [node_at(root, [*path, k], key=True) for k in error.instance if k not in allowed]
    elif error.validator is None:
        nodes = [node_at(root, path, key=True)]
    elif "propertyNames" in error.schema_path:
        nodes = [node_at(root, [*path, error.instance], key=True)]
    else:
        nodes = [node_at(root, path)]
    for node in nodes:
        yield code, node.start_mark.line + 1, node.start_mark.column + 1


SCHEMA_CORPUS = sorted((CORPUS / "schema").glob("*.yaml"))


@pytest.mark.parametrize("path", SCHEMA_CORPUS, ids=lambda p: p.name)
def test_schema_corpus_expectation(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data = yaml.load(text, Loader=CoreLoader)
    root = yaml.compose(text, Loader=CoreLoader)
    kind = kind_of(data)
    assert kind is not None and root is not None
    errors = list(validator(kind).iter_errors(data))
    found = {site for error in leaf_errors(errors) for site in sites(error, root)}
    assert expectation(path) in found, sorted(found)
