"""The Hotfix adapter against the real API server: the start-up listing of Hotfixes no operator has handled."""

from __future__ import annotations

import pytest
from kubernetes import client

from hotfix_operator.api.models import GROUP, PLURAL, VERSION
from hotfix_operator.kube.api import KubeApi
from hotfix_operator.kube.hotfixes import HotfixClient
from operator_support import hotfix_manifest

pytestmark = pytest.mark.real


def create(api_client: client.ApiClient, namespace: str, name: str, phase: str | None) -> None:
    custom = client.CustomObjectsApi(api_client)
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, hotfix_manifest(name, ["api"]))
    if phase is not None:
        custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, name, {"status": {"phase": phase}}
        )


def test_only_hotfixes_without_a_phase_are_listed_by_the_api_server(
    api_client: client.ApiClient, kube_api: KubeApi, namespace: str, hotfix_crd: None
) -> None:
    """The CRD's selectable field: the API server answers with the new ones only, however many others there are."""
    create(api_client, namespace, "new-fix", None)
    create(api_client, namespace, "watched-fix", "Monitoring")
    create(api_client, namespace, "done-fix", "Stable")
    hotfixes = HotfixClient(kube_api)
    listed = hotfixes.list_unhandled([namespace])
    assert listed is not None
    assert [item["metadata"]["name"] for item in listed] == ["new-fix"]
    cluster_wide = hotfixes.list_unhandled()
    assert cluster_wide is not None
    assert "new-fix" in {item["metadata"]["name"] for item in cluster_wide}
    assert not {"watched-fix", "done-fix"} & {item["metadata"]["name"] for item in cluster_wide}
    # The phase is also kubectl's to select on.
    monitoring = client.CustomObjectsApi(api_client).list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, field_selector="status.phase=Monitoring"
    )
    assert [item["metadata"]["name"] for item in monitoring["items"]] == ["watched-fix"]


def test_namespace_patterns_are_not_listed(kube_api: KubeApi, hotfix_crd: None) -> None:
    """Kopf takes patterns for --namespace; the API server lists names only: no start-up listing then."""
    assert HotfixClient(kube_api).list_unhandled(["team-*"]) is None
    assert HotfixClient(kube_api).list_unhandled(["shop", "!kube-system"]) is None
