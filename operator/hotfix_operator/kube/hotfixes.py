"""The Kubernetes adapter for Hotfix objects themselves: read, write status, annotate, list siblings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from hotfix_operator.api.models import GROUP, PLURAL, VERSION
from hotfix_operator.kube.api import JSON_PATCH, ApiError, KubeApi
from hotfix_operator.kube.unavailable import as_unavailable

# A namespace's name (an RFC 1123 label), as opposed to the patterns Kopf also accepts for --namespace.
NAMESPACE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


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

    def list_namespace(self, namespace: str) -> list[dict[str, Any]]:
        return self.api.list_items(hotfixes_path(namespace))

    def list_unhandled(self, namespaces: Sequence[str] = ()) -> list[dict[str, Any]] | None:
        """The Hotfixes with no ``status.phase`` yet (no operator has handled them), cluster-wide or in the
        named namespaces, asked of the API server with a field selector (``selectableFields`` in the CRD), so
        the answer holds those only. None when it cannot be asked so: an API server or an installed CRD without
        the selectable field (before Kubernetes 1.31), or a namespace pattern rather than a name."""
        if not all(NAMESPACE_NAME.fullmatch(namespace) for namespace in namespaces):
            return None
        paths = [hotfixes_path(namespace) for namespace in namespaces] or [hotfixes_path()]
        try:
            return [item for path in paths for item in self.api.list_items(path, {"fieldSelector": "status.phase="})]
        except ApiError as error:
            if error.status == 400:
                return None  # "status.phase" is not a known field selector there
            raise as_unavailable(error, "listing the Hotfixes no operator has handled") or error from None
