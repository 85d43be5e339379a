"""The pydantic models and the CRD's schema accept and refuse the same manifests, naming the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hotfix_corpus import INVALID, VALID, Case
from hotfix_operator.api.durations import DURATION_PATTERN, parse_duration
from hotfix_operator.api.models import HotfixSpec, SpecError, parse_manifest, parse_spec

CRD_PATH = Path(__file__).resolve().parents[2] / "crds" / "hotfix.yaml"


def _strict_json_schema(node: Any) -> Any:
    """The CRD's OpenAPI schema as JSON schema, with unknown fields refused as kubectl's strict mode does."""
    if isinstance(node, list):
        return [_strict_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: _strict_json_schema(value)
        for key, value in node.items()
        if not key.startswith("x-kubernetes-") and key not in ("description", "default")
    }
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        converted["additionalProperties"] = False
    if "properties" in converted:
        converted["properties"] = {name: _strict_json_schema(sub) for name, sub in node["properties"].items()}
    return converted


@pytest.fixture(scope="module")
def crd_validator() -> jsonschema.Draft4Validator:
    crd = yaml.safe_load(CRD_PATH.read_text())
    schema = _strict_json_schema(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def test_corpus_has_many_distinct_mistakes() -> None:
    assert len(INVALID) >= 25
    assert len({case.id for case in INVALID + VALID}) == len(INVALID) + len(VALID)


@pytest.mark.parametrize("case", VALID, ids=lambda case: case.id)
def test_valid_manifest_is_accepted_by_models_and_schema(case: Case, crd_validator: jsonschema.Draft4Validator) -> None:
    manifest = case.manifest()
    parse_manifest(manifest)
    crd_validator.validate(manifest)


@pytest.mark.parametrize("case", INVALID, ids=lambda case: case.id)
def test_invalid_manifest_is_refused_naming_the_field(case: Case, crd_validator: jsonschema.Draft4Validator) -> None:
    manifest = case.manifest()
    with pytest.raises(SpecError) as refused:
        parse_manifest(manifest)
    assert any(problem.startswith(f"{case.field}:") for problem in refused.value.problems), refused.value.problems
    if not case.server_only:
        assert not crd_validator.is_valid(manifest), "the CRD schema admits what the models refuse"


def test_defaults_match_the_specification() -> None:
    spec = parse_spec({"incident": {"id": "INC-1", "severity": "SEV2"}, "targets": [{"deployment": "auth-api"}]})
    assert spec.analysis.error_rate.max == 0.01
    assert spec.analysis.error_rate.for_ == timedelta(minutes=5)
    assert spec.analysis.latency_p95.max_ms == 1200
    assert spec.analysis.latency_p95.consecutive_windows == 3
    assert spec.analysis.crash_free_sessions.min == 0.98
    assert spec.analysis.crash_free_sessions.over == timedelta(minutes=30)
    assert spec.stability.checkpoints == [timedelta(hours=1), timedelta(hours=4), timedelta(hours=24)]
    assert spec.rollback.timeout == timedelta(seconds=120)
    assert spec.targets[0].observe_only
    assert spec.affected_services() == ["auth-api"]


def test_crd_defaults_match_model_defaults() -> None:
    """Every default the CRD fills in is the default the model assumes, so omitting a field means one thing."""
    crd = yaml.safe_load(CRD_PATH.read_text())
    spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    model = HotfixSpec.model_validate(
        {"incident": {"id": "INC-1", "severity": "SEV2"}, "targets": [{"deployment": "a"}]}
    ).to_api()

    def walk(schema: dict[str, Any], value: Any, path: str) -> None:
        if "default" in schema and schema["default"] != {}:
            expected = schema["default"]
            if schema.get("pattern") == DURATION_PATTERN:
                expected, value = parse_duration(expected), parse_duration(value)
            assert value == expected, f"{path}: CRD default {schema['default']!r}, model {value!r}"
        for name, sub in schema.get("properties", {}).items():
            if isinstance(value, dict) and name in value:
                walk(sub, value[name], f"{path}.{name}")

    walk(spec_schema, model, "spec")


def test_round_trip_keeps_wire_names_and_durations() -> None:
    spec = parse_spec(next(case for case in VALID if case.id == "everything").manifest()["spec"])
    wire = spec.to_api()
    assert wire["analysis"]["errorRate"]["for"] == "2m"
    assert wire["stability"]["checkpoints"] == ["30s", "1m30s", "2m"]
    assert parse_spec(wire) == spec


def test_checkpoints_are_ordered_so_the_last_closes_the_window() -> None:
    spec = parse_spec(next(case for case in VALID if case.id == "unsorted-checkpoints").manifest()["spec"])
    assert spec.stability.window == timedelta(hours=4)


def test_crd_uses_the_parsers_duration_pattern() -> None:
    crd = yaml.safe_load(CRD_PATH.read_text())
    analysis = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["analysis"]
    assert analysis["properties"]["interval"]["pattern"] == DURATION_PATTERN


def test_crd_status_schema_keeps_every_status_field() -> None:
    """The API server prunes undeclared status fields; a field the model writes must be in the CRD."""
    from hotfix_operator.api.status import HotfixStatus

    crd = yaml.safe_load(CRD_PATH.read_text())
    declared = set(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"])
    written = {field.alias or name for name, field in HotfixStatus.model_fields.items()}
    assert written <= declared, written - declared
