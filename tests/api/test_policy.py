"""The HotfixPolicy model: selectors as Kubernetes reads them, errors that name the field."""

from __future__ import annotations

import pytest

from hotfix_operator.api.models import SpecError
from hotfix_operator.api.policy import parse_policy_spec

EXPRESSION = "spec.selector.matchExpressions[0]"


def test_defaults_guard_every_deployment_with_a_breaker_of_three_in_ten_minutes() -> None:
    policy = parse_policy_spec({})
    assert policy.guards("checkout", {}, {})
    assert policy.breaker.max_rollbacks == 3 and policy.breaker.window.total_seconds() == 600
    assert policy.incident.root_cause.value == "unknown"


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        ({"matchLabels": {"team": "shop"}}, {"team": "shop", "tier": "web"}, True),
        ({"matchLabels": {"team": "shop"}}, {"team": "ads"}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}, {"tier": "api"}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}, {}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["batch"]}]}, {}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["batch"]}]}, {"tier": "batch"}, False),
        ({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, {"canary": ""}, True),
        ({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}, {"canary": "x"}, False),
    ],
)
def test_selectors_match_as_kubernetes_does(selector: dict, labels: dict[str, str], selected: bool) -> None:
    assert parse_policy_spec({"selector": selector}).guards("checkout", labels, {}) is selected


def test_exclusions_by_name_and_by_annotation() -> None:
    policy = parse_policy_spec({"exclude": ["payments"]})
    assert not policy.guards("payments", {}, {})
    assert not policy.guards("checkout", {}, {"hotfix.dev/guard": "false"})
    assert policy.guards("checkout", {}, {"hotfix.dev/guard": "true"})


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"selector": {"matchExpressions": [{"key": "tier", "operator": "In"}]}}, f"{EXPRESSION}.values"),
        ({"selector": {"matchExpressions": [{"key": "t", "operator": "Exists", "values": ["a"]}]}},
         f"{EXPRESSION}.values"),
        ({"selector": {"matchExpressions": [{"key": "t", "operator": "Near"}]}}, f"{EXPRESSION}.operator"),
        ({"breaker": {"maxRollbacks": 0}}, "spec.breaker.maxRollbacks"),
        ({"breaker": {"window": "soon"}}, "spec.breaker.window"),
        ({"exclude": ["Not_A_Name"]}, "spec.exclude[0]"),
        ({"analysis": {"errorRate": {"max": 2}}}, "spec.analysis.errorRate.max"),
        ({"selectr": {}}, "spec.selectr"),
    ],
)  # fmt: skip
def test_bad_policies_are_refused_naming_the_field(spec: dict, field: str) -> None:
    with pytest.raises(SpecError) as refused:
        parse_policy_spec(spec)
    assert any(problem.startswith(field + ":") for problem in refused.value.problems), refused.value.problems
