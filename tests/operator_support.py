"""Run the operator as a real process against the test bed, and drive Hotfixes like a person would."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kubernetes import client

from hotfix_operator.api.models import GROUP, PLURAL, VERSION
from hotfix_operator.api.policy import POLICY_PLURAL
from hotfix_operator.testbed.processes import wait_until
from hotfix_operator.testbed.simulator import BEHAVIOUR_BY_IMAGE
from testbed_support import PrometheusQuery

GOOD_IMAGE = "registry.example/app:1.0"
BAD_IMAGE = "registry.example/app:1.1-hotfix-bad"
FIXED_IMAGE = "registry.example/app:1.2-hotfix-good"
# Serves nothing at all: after an undo to it there is no traffic to verify the recovery on.
QUIET_IMAGE = "registry.example/app:0.9-quiet"
BEHAVIOUR = {BAD_IMAGE: {"error-ratio": 0.05}, QUIET_IMAGE: {"rps": 0}}

# Every window shrunk to seconds so that a whole lifecycle runs in well under a minute.
FAST_ANALYSIS = {
    "interval": "1s",
    "errorRate": {"max": 0.01, "for": "4s"},
    "latencyP95": {"maxMs": 1200, "window": "2s", "consecutiveWindows": 3},
    "crashFreeSessions": {"min": 0.98, "over": "10s", "minSessions": 100},
}


def deployment_manifest(
    name: str,
    image: str = GOOD_IMAGE,
    replicas: int = 2,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    **template_spec: Any,
) -> dict[str, Any]:
    """A Deployment whose pods the simulator plays; ``annotations`` set their telemetry shape and behaviour."""
    import json

    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {
                    "labels": {"app": name},
                    "annotations": {BEHAVIOUR_BY_IMAGE: json.dumps(BEHAVIOUR), **(annotations or {})},
                },
                "spec": {"containers": [{"name": "app", "image": image}], **template_spec},
            },
        },
    }


def hotfix_manifest(name: str, deployments: list[str], image: str | None = BAD_IMAGE, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Hotfix",
        "metadata": {"name": name},
        "spec": {
            "incident": {"id": f"INC-{name}", "severity": "SEV1"},
            "targets": [
                {"deployment": deployment} | ({"images": {"app": image}} if image else {}) for deployment in deployments
            ],
            "analysis": copy.deepcopy(FAST_ANALYSIS),
            "stability": {"checkpoints": ["6s", "9s", "12s"]},
            "rollback": {"timeout": "20s", "verifyFor": "3s"},
        },
    }
    for key, value in spec.items():
        body["spec"][key] = value if not isinstance(value, dict) else {**body["spec"].get(key, {}), **value}
    return body


class Cluster:
    """What a test does with the cluster, in a person's words."""

    def __init__(self, api_client: client.ApiClient, namespace: str, prometheus: PrometheusQuery | None = None) -> None:
        # With a Prometheus, a new Deployment counts as running once its metrics are there, as a service
        # in production has telemetry long before an incident.
        self.prometheus = prometheus
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.namespace = namespace

    def create_deployment(self, name: str, **kwargs: Any) -> None:
        manifest = deployment_manifest(name, **kwargs)
        self.apps.create_namespaced_deployment(self.namespace, manifest)
        wait_until(lambda: self.rolled_out(name), timeout=60, what=f"deployment {name} to roll out")
        if self.prometheus is not None:
            self._wait_for_metrics(name, manifest["spec"]["replicas"])

    def _wait_for_metrics(self, name: str, replicas: int) -> None:
        """Every pod scraped at least three times: enough for the shortest rate() window of the tests."""
        assert self.prometheus is not None
        prometheus = self.prometheus
        # kube-state-metrics' series exist for every pod, whatever the application's telemetry shape.
        series = f'kube_pod_container_status_restarts_total{{namespace="{self.namespace}",pod=~"{name}-.*"}}'
        scraped = f"count(count_over_time({series}[4s]) >= 3)"
        wait_until(lambda: (prometheus.scalar(scraped) or 0) >= replicas, timeout=30, what=f"metrics of {name}")

    def rolled_out(self, name: str) -> bool:
        deployment = self.apps.read_namespaced_deployment(name, self.namespace)
        status = deployment.status
        return (
            (status.observed_generation or 0) >= deployment.metadata.generation
            and (status.updated_replicas or 0) == deployment.spec.replicas
            and (status.available_replicas or 0) == deployment.spec.replicas
            and (status.replicas or 0) == deployment.spec.replicas
        )

    def deployment(self, name: str) -> Any:
        return self.apps.read_namespaced_deployment(name, self.namespace)

    def image(self, name: str) -> str:
        return self.deployment(name).spec.template.spec.containers[0].image

    def revision(self, name: str) -> int:
        return int(self.deployment(name).metadata.annotations["deployment.kubernetes.io/revision"])

    def set_image(self, name: str, image: str) -> None:
        """What ``kubectl set image`` does: a strategic merge of the container's image."""
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
        self.apps.patch_namespaced_deployment(name, self.namespace, patch)

    def apply_policy(self, body: dict[str, Any]) -> None:
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, POLICY_PLURAL, body)

    def hotfix_names(self) -> list[str]:
        items = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL)["items"]
        return sorted(item["metadata"]["name"] for item in items)

    def apply_hotfix(self, body: dict[str, Any]) -> None:
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)

    def hotfix(self, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    def delete_hotfix(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    def patch_hotfix(self, name: str, patch: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name, patch)

    def annotate_hotfix(self, name: str, key: str, value: str) -> None:
        self.patch_hotfix(name, {"metadata": {"annotations": {key: value}}})

    def edit_and_wait_observed(self, name: str, timeout: float) -> None:
        """Edit a harmless spec field and wait until the operator's next step has observed it."""
        self.patch_hotfix(name, {"spec": {"incident": {"culprit": name}}})
        generation = self.hotfix(name)["metadata"]["generation"]
        wait_until(
            lambda: self.status(name).get("observedGeneration") == generation,
            timeout=timeout,
            what=f"hotfix {name}'s spec edit to be observed",
        )

    def status(self, name: str) -> dict[str, Any]:
        return self.hotfix(name).get("status") or {}

    def wait_phase(self, name: str, *phases: str, timeout: float = 90) -> dict[str, Any]:
        seen: list[str] = []

        def reached() -> bool:
            phase = self.status(name).get("phase")
            if not seen or seen[-1] != phase:
                seen.append(str(phase))
            return phase in phases

        try:
            wait_until(reached, timeout=timeout, what=f"hotfix {name} to reach {' or '.join(phases)}", interval=0.3)
        except TimeoutError as error:
            raise AssertionError(f"{error}; phases seen: {seen}; status: {self.status(name)}") from None
        return self.status(name)

    def event_reasons(self, name: str) -> list[str]:
        events = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}").items
        return [event.reason for event in sorted(events, key=lambda e: e.metadata.creation_timestamp)]

    def timeline_types(self, name: str) -> list[str]:
        return [entry["type"] for entry in self.status(name).get("timeline", [])]


def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    wait_until(check, timeout=timeout, what=what, interval=0.3)


def tenant_service_account(api_client: client.ApiClient, namespace: str, name: str, rules: list[Any]) -> None:
    """A ServiceAccount of the namespace with exactly these rights there."""
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name)))
    rbac.create_namespaced_role(namespace, client.V1Role(metadata=client.V1ObjectMeta(name=name), rules=rules))
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name=name),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=name),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name=name, namespace=namespace)],
        ),
    )


# What a team's deployer ServiceAccount has: its Deployments and the notification Secret.
DEPLOYER_RULES = [
    client.V1PolicyRule(api_groups=["apps"], resources=["deployments"], verbs=["get", "patch"]),
    client.V1PolicyRule(api_groups=["apps"], resources=["replicasets"], verbs=["list"]),
    client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["list"]),
    client.V1PolicyRule(api_groups=[""], resources=["secrets"], resource_names=["pager"], verbs=["get"]),
]
