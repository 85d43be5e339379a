"""Acting with the tenant's rights: API clients that impersonate a Hotfix's ServiceAccount.

A Hotfix that names ``spec.serviceAccountName`` has its Deployments read and changed, and its
notification Secrets read, as ``system:serviceaccount:<namespace>:<name>`` (the way Flux's controllers
act for a tenant), so creating a Hotfix never lets anyone change a Deployment or read a Secret they
could not reach through that ServiceAccount. One client per identity, kept for reuse.
"""

from __future__ import annotations

import base64
import json

from kubernetes import client

from hotfix_operator.kube.deployments import DeploymentClient

Identity = tuple[str, str | None]  # (namespace, ServiceAccount name or None: the operator itself)


def impersonated_user(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


class TenantClients:
    def __init__(self, operator_client: client.ApiClient) -> None:
        self.operator_client = operator_client
        self._api_clients: dict[tuple[str, str], client.ApiClient] = {}
        self._deployments: dict[Identity, DeploymentClient] = {}

    def api_client(self, namespace: str, service_account: str | None) -> client.ApiClient:
        if not service_account:
            return self.operator_client
        key = (namespace, service_account)
        if key not in self._api_clients:
            impersonating = client.ApiClient(configuration=self.operator_client.configuration)
            # The API server adds the ServiceAccount's groups itself when none are given.
            impersonating.set_default_header("Impersonate-User", impersonated_user(namespace, service_account))
            self._api_clients[key] = impersonating
        return self._api_clients[key]

    def deployments(self, namespace: str, service_account: str | None) -> DeploymentClient:
        key = (namespace, service_account or None)
        if key not in self._deployments:
            self._deployments[key] = DeploymentClient(self.api_client(namespace, service_account))
        return self._deployments[key]

    def read_secret_value(self, namespace: str, name: str, key: str, service_account: str | None) -> str:
        """One key of a Secret in the Hotfix's own namespace, read as the tenant."""
        core = client.CoreV1Api(self.api_client(namespace, service_account))
        secret = core.read_namespaced_secret(name, namespace, _preload_content=False)
        data = json.loads(secret.data).get("data") or {}
        if key not in data:
            raise KeyError(f"secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode().strip()
