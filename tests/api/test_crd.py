"""The real API server accepts the CRD and agrees with the models on every manifest of the corpus."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hotfix_corpus import INVALID, VALID, Case
from hotfix_operator.api.models import GROUP, PLURAL, VERSION


def dry_run_create(api_client: client.ApiClient, namespace: str, case: Case) -> dict:
    return client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, case.manifest(), dry_run="All", field_validation="Strict"
    )


@pytest.mark.parametrize("case", VALID, ids=lambda case: case.id)
def test_api_server_accepts_valid_manifests(
    api_client: client.ApiClient, namespace: str, hotfix_crd: None, case: Case
) -> None:
    created = dry_run_create(api_client, namespace, case)
    # Defaults are filled in by the server, the same ones the models assume.
    assert created["spec"]["analysis"]["errorRate"]["max"] == case.manifest()["spec"].get("analysis", {}).get(
        "errorRate", {}
    ).get("max", 0.01)


@pytest.mark.parametrize("case", INVALID, ids=lambda case: case.id)
def test_api_server_refuses_invalid_manifests_naming_the_field(
    api_client: client.ApiClient, namespace: str, hotfix_crd: None, case: Case
) -> None:
    with pytest.raises(ApiException) as refused:
        dry_run_create(api_client, namespace, case)
    assert refused.value.status in (400, 422)
    message = json.loads(refused.value.body)["message"]
    assert case.field in message, message


def test_printer_columns_show_phase_severity_incident_decision_age(
    api_client: client.ApiClient, hotfix_crd: None
) -> None:
    crd = client.ApiextensionsV1Api(api_client).read_custom_resource_definition("hotfixes.hotfix.dev")
    columns = [column.name for column in crd.spec.versions[0].additional_printer_columns if not column.priority]
    assert columns == ["Phase", "Severity", "Incident", "Decision", "Age"]
