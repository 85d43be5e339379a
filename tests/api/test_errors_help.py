"""Validation errors that help: the field, what kind of value it takes, and the nearest known name."""

from __future__ import annotations

from typing import Any

import pytest

from hotfix_operator.api.models import SpecError, parse_manifest, parse_spec
from hotfix_operator.api.policy import parse_policy_spec

BASE: dict[str, Any] = {"incident": {"id": "INC-1", "severity": "SEV1"}, "targets": [{"deployment": "web"}]}


def problems(spec: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as refused:
        parse_spec(spec)
    return refused.value.problems


def test_an_unknown_field_names_the_nearest_known_one() -> None:
    assert problems({**BASE, "targets": [{"deployment": "web", "imgaes": {"app": "a:1"}}]}) == [
        "spec.targets[0].imgaes: unknown field; did you mean `images`?"
    ]
    assert problems({**BASE, "anaylsis": {}}) == ["spec.anaylsis: unknown field; did you mean `analysis`?"]
    assert problems({**BASE, "analysis": {"errorRate": {"maximum": 0.1}}}) == [
        "spec.analysis.errorRate.maximum: unknown field; did you mean `max`?"
    ]
    # Nothing near: no guess.
    assert problems({**BASE, "zzz": 1}) == ["spec.zzz: unknown field"]


def test_a_ratio_says_it_is_a_ratio() -> None:
    [problem] = problems({**BASE, "analysis": {"errorRate": {"max": 5}}})
    assert problem.startswith("spec.analysis.errorRate.max:") and "a ratio between 0 and 1: 0.01 is 1%" in problem
    [problem] = problems({**BASE, "analysis": {"latencyP95": {"maxMs": 1.5}}})
    assert "milliseconds, a whole number" in problem


def test_the_same_help_for_whole_manifests_and_policies() -> None:
    with pytest.raises(SpecError) as refused:
        parse_manifest({"apiVersion": "hotfix.dev/v1alpha1", "kind": "Hotfix", "metdata": {"name": "x"}, "spec": BASE})
    assert "metdata: unknown field; did you mean `metadata`?" in refused.value.problems
    with pytest.raises(SpecError) as refused:
        parse_policy_spec({"selektor": {"matchLabels": {"a": "b"}}})
    assert "spec.selektor: unknown field; did you mean `selector`?" in refused.value.problems
