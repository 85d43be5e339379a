"""Acting with the tenant's rights: API clients that impersonate a Hotfix's ServiceAccount.

A Hotfix that names ``spec.serviceAccountName`` has its Deployments read and changed, and its
notification Secrets read, as ``system:serviceaccount:<namespace>:<name>`` (the way Flux's controllers
act for a tenant), so creating a Hotfix never lets anyone change a Deployment or read a Secret they
could not reach through that ServiceAccount. One client per identity, kept for reuse.
"""

from __future__ import annotations

import base64

from hotfix_operator.kube.api import KubeApi
from hotfix_operator.kube.deployments import DeploymentClient

Identity = tuple[str, str | None]  # (namespace, ServiceAccount name or None: the operator itself)


def impersonated_user(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


class TenantClients:
    def __init__(self, operator_api: KubeApi) -> None:
        self.operator_api = operator_api
        self._apis: dict[tuple[str, str], KubeApi] = {}
        self._deployments: dict[Identity, DeploymentClient] = {}

    def api(self, namespace: str, service_account: str | None) -> KubeApi:
        """The operator's own client, or one that impersonates the ServiceAccount on the same connections."""
        if not service_account:
            return self.operator_api
        key = (namespace, service_account)
        if key not in self._apis:
            self._apis[key] = self.operator_api.impersonating(impersonated_user(namespace, service_account))
        return self._apis[key]

    def deployments(self, namespace: str, service_account: str | None) -> DeploymentClient:
        key = (namespace, service_account or None)
        if key not in self._deployments:
            self._deployments[key] = DeploymentClient(self.api(namespace, service_account))
        return self._deployments[key]

    def read_secret_value(self, namespace: str, name: str, key: str, service_account: str | None) -> str:
        """One key of a Secret in the Hotfix's own namespace, read as the tenant."""
        secret = self.api(namespace, service_account).get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
        data = secret.get("data") or {}
        if key not in data:
            raise KeyError(f"secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode().strip()
