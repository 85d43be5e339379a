"""The Kubernetes adapter for Hotfix objects themselves: read, write status, annotate, list siblings."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hotfix_operator.api.models import GROUP, PLURAL, VERSION
from hotfix_operator.kube.unavailable import as_unavailable


class HotfixGone(Exception):
    """The Hotfix was deleted while it was being handled."""


class HotfixClient:
    def __init__(self, api_client: client.ApiClient) -> None:
        self.custom = client.CustomObjectsApi(api_client)

    def write_status(self, body: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """Replace the whole status (lists and nested fields included), returning the updated object."""
        metadata = body["metadata"]
        try:
            return self.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, metadata["namespace"], PLURAL, metadata["name"],
                [{"op": "add", "path": "/status", "value": status}],
                _content_type="application/json-patch+json",
            )  # fmt: skip
        except ApiException as error:
            if error.status == 404:
                raise HotfixGone(f"hotfix {metadata['namespace']}/{metadata['name']} is gone") from None
            raise (
                as_unavailable(error, f"writing the status of hotfix {metadata['namespace']}/{metadata['name']}")
                or error
            ) from None

    def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Create a Hotfix; None when one of that name exists already (a repeat creates nothing)."""
        try:
            return self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
        except ApiException as error:
            if error.status == 409:
                return None
            raise as_unavailable(error, f"creating hotfix {namespace}/{body['metadata']['name']}") or error from None

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise as_unavailable(error, f"reading hotfix {namespace}/{name}") or error from None

    def annotate(self, namespace: str, name: str, annotations: dict[str, str | None]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, {"metadata": {"annotations": annotations}}
        )

    def list_all(self) -> list[dict[str, Any]]:
        return self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL).get("items", [])
