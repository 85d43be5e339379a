"""PrometheusRule objects (``monitoring.coreos.com/v1``) for a Hotfix's window, owned by the Hotfix.

The prometheus-operator turns them into Prometheus rules; kube-prometheus-stack selects them by label
(``release: <its release>`` by default), so the labels come from the operator's configuration. Owned
by the Hotfix, they are garbage-collected with it; the engine deletes them when the window ends.
"""

from __future__ import annotations

from typing import Any

from hotfix_operator.kube.api import ApiError, KubeApi

GROUP = "monitoring.coreos.com"
VERSION = "v1"
PLURAL = "prometheusrules"


class PrometheusRulesUnsupported(Exception):
    """The cluster has no PrometheusRule CRD (no prometheus-operator)."""


def rules_path(namespace: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"


class PrometheusRuleClient:
    def __init__(self, api: KubeApi) -> None:
        self.api = api

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
            self.api.create(rules_path(metadata["namespace"]), body)
        except ApiError as error:
            if error.status == 404:
                raise PrometheusRulesUnsupported(error.message) from None
            if error.status != 409:
                raise
            patch = {"metadata": {"labels": labels}, "spec": body["spec"]}
            self.api.patch(f"{rules_path(metadata['namespace'])}/{name}", patch)

    def delete(self, namespace: str, name: str) -> None:
        try:
            self.api.delete(f"{rules_path(namespace)}/{name}")
        except ApiError as error:
            if error.status != 404:
                raise
