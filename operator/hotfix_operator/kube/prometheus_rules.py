"""PrometheusRule objects (``monitoring.coreos.com/v1``) for a Hotfix's window, owned by the Hotfix.

The prometheus-operator turns them into Prometheus rules; kube-prometheus-stack selects them by label
(``release: <its release>`` by default), so the labels come from the operator's configuration. Owned
by the Hotfix, they are garbage-collected with it; the engine deletes them when the window ends.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

GROUP = "monitoring.coreos.com"
VERSION = "v1"
PLURAL = "prometheusrules"


class PrometheusRulesUnsupported(Exception):
    """The cluster has no PrometheusRule CRD (no prometheus-operator)."""


class PrometheusRuleClient:
    def __init__(self, api_client: client.ApiClient) -> None:
        self.custom = client.CustomObjectsApi(api_client)

    def apply(self, owner: dict[str, Any], name: str, labels: dict[str, str], groups: list[dict[str, Any]]) -> None:
        """Create or update the rule object in the owner's namespace."""
        metadata = owner["metadata"]
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "PrometheusRule",
            "metadata": {
                "name": name,
                "namespace": metadata["namespace"],
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": owner["apiVersion"],
                        "kind": owner["kind"],
                        "name": metadata["name"],
                        "uid": metadata["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {"groups": groups},
        }
        try:
            self.custom.create_namespaced_custom_object(GROUP, VERSION, metadata["namespace"], PLURAL, body)
        except ApiException as error:
            if error.status == 404:
                raise PrometheusRulesUnsupported(_message(error)) from None
            if error.status != 409:
                raise
            patch = {"metadata": {"labels": labels}, "spec": body["spec"]}
            self.custom.patch_namespaced_custom_object(GROUP, VERSION, metadata["namespace"], PLURAL, name, patch)

    def delete(self, namespace: str, name: str) -> None:
        try:
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as error:
            if error.status != 404:
                raise


def _message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except ValueError:
        return str(error.reason)
