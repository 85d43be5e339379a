"""The HotfixPolicy CRD: generated from the Hotfix CRD, served by the real API server, agreeing with the model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hotfix_operator.api.models import GROUP, VERSION, SpecError
from hotfix_operator.api.policy import POLICY_PLURAL, parse_policy_spec
from testbed_support import REPO

VALID = [
    {},
    {"selector": {"matchLabels": {"team": "shop"}}, "breaker": {"maxRollbacks": 2, "window": "5m"}},
    {"selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}, "exclude": ["db"]},
    {"incident": {"severity": "SEV2"}, "safety": {"migrations": "irreversible"}, "rollback": {"mode": "manual"}},
]
INVALID = [
    (
        {"selector": {"matchExpressions": [{"key": "tier", "operator": "In"}]}},
        "spec.selector.matchExpressions[0].values",
    ),
    ({"breaker": {"maxRollbacks": 0}}, "spec.breaker.maxRollbacks"),
    ({"breaker": {"window": "soon"}}, "spec.breaker.window"),
    ({"exclude": ["Not_A_Name"]}, "spec.exclude[0]"),
    ({"analysis": {"errorRate": {"max": 2}}}, "spec.analysis.errorRate.max"),
    ({"incident": {"severity": "SEV9"}}, "spec.incident.severity"),
]


def create(api_client: client.ApiClient, namespace: str, spec: dict, name: str = "guard") -> dict:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "HotfixPolicy", "metadata": {"name": name}, "spec": spec}
    return client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        GROUP, VERSION, namespace, POLICY_PLURAL, body, dry_run="All", field_validation="Strict"
    )


def test_the_crd_file_is_what_the_generator_writes() -> None:
    checked = subprocess.run([sys.executable, str(REPO / "hack" / "policy_crd.py"), "--check"], capture_output=True,
                             text=True, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("spec", VALID, ids=range(len(VALID)))
def test_valid_policies_are_accepted_by_both_with_the_same_defaults(
    api_client: client.ApiClient, namespace: str, hotfix_crd: None, spec: dict
) -> None:
    created = create(api_client, namespace, spec)
    model = parse_policy_spec(spec)
    assert created["spec"]["breaker"]["maxRollbacks"] == model.breaker.max_rollbacks
    assert created["spec"]["incident"]["rootCause"] == model.incident.root_cause.value
    assert created["spec"]["analysis"]["interval"] == "30s"


@pytest.mark.parametrize(("spec", "field"), INVALID, ids=[field for _, field in INVALID])
def test_invalid_policies_are_refused_by_both_naming_the_field(
    api_client: client.ApiClient, namespace: str, hotfix_crd: None, spec: dict, field: str
) -> None:
    with pytest.raises(ApiException) as refused:
        create(api_client, namespace, spec)
    assert refused.value.status in (400, 422)
    assert field in json.loads(refused.value.body)["message"]
    with pytest.raises(SpecError) as model_refused:
        parse_policy_spec(spec)
    assert any(problem.startswith(field) for problem in model_refused.value.problems)


def test_a_policy_name_must_fit_a_label_value(api_client: client.ApiClient, namespace: str, hotfix_crd: None) -> None:
    with pytest.raises(ApiException) as refused:
        create(api_client, namespace, {}, name="p" * 64)
    assert "at most 63 characters" in json.loads(refused.value.body)["message"]
