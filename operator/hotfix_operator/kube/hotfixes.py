"""The Kubernetes adapter for Hotfix objects themselves: read, write status, annotate, list siblings."""

from __future__ import annotations

from typing import Any

from hotfix_operator.api.models import GROUP, PLURAL, VERSION
from hotfix_operator.kube.api import JSON_PATCH, ApiError, KubeApi
from hotfix_operator.kube.unavailable import as_unavailable


class HotfixGone(Exception):
    """The Hotfix was deleted while it was being handled."""


def hotfixes_path(namespace: str | None = None) -> str:
    if namespace is None:
        return f"/apis/{GROUP}/{VERSION}/{PLURAL}"
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"


class HotfixClient:
    def __init__(self, api: KubeApi) -> None:
        self.api = api

    def write_status(self, body: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """Replace the whole status (lists and nested fields included), returning the updated object."""
        metadata = body["metadata"]
        path = f"{hotfixes_path(metadata['namespace'])}/{metadata['name']}/status"
        try:
            updated: dict[str, Any] = self.api.patch(
                path, [{"op": "add", "path": "/status", "value": status}], JSON_PATCH
            )
        except ApiError as error:
            if error.status == 404:
                raise HotfixGone(f"hotfix {metadata['namespace']}/{metadata['name']} is gone") from None
            raise (
                as_unavailable(error, f"writing the status of hotfix {metadata['namespace']}/{metadata['name']}")
                or error
            ) from None
        return updated

    def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Create a Hotfix; None when one of that name exists already (a repeat creates nothing)."""
        try:
            created: dict[str, Any] = self.api.create(hotfixes_path(namespace), body)
        except ApiError as error:
            if error.status == 409:
                return None
            raise as_unavailable(error, f"creating hotfix {namespace}/{body['metadata']['name']}") or error from None
        return created

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.api.get(f"{hotfixes_path(namespace)}/{name}")
        except ApiError as error:
            if error.status == 404:
                return None
            raise as_unavailable(error, f"reading hotfix {namespace}/{name}") or error from None
        return found

    def annotate(self, namespace: str, name: str, annotations: dict[str, str | None]) -> None:
        self.api.patch(f"{hotfixes_path(namespace)}/{name}", {"metadata": {"annotations": annotations}})

    def list_all(self) -> list[dict[str, Any]]:
        return self.api.list_items(hotfixes_path())
