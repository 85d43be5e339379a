"""What the cluster says now of a Hotfix's targets (Deployment, ReplicaSets, pods), read with the user's own
rights, for ``kubectl hotfix status NAME`` and the dashboard's Hotfix page."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hotfix_operator.cli.status_view import TargetFacts


def target_facts(api_client: client.ApiClient, hotfix: dict[str, Any]) -> dict[str, TargetFacts]:
    """Each recorded target's facts; a target that cannot be read (gone, forbidden) is shown without them."""
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    serialize = api_client.sanitize_for_serialization
    namespace = hotfix["metadata"]["namespace"]
    facts: dict[str, TargetFacts] = {}
    for recorded in (hotfix.get("status") or {}).get("targets") or []:
        name = recorded["deployment"]
        try:
            deployment = apps.read_namespaced_deployment(name, namespace)
            labels = deployment.spec.selector.match_labels or {}
            selector = ",".join(f"{key}={value}" for key, value in labels.items())
            replica_sets = apps.list_namespaced_replica_set(namespace, label_selector=selector).items
            pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        except ApiException:
            facts[name] = TargetFacts()
            continue
        facts[name] = TargetFacts(serialize(deployment), [serialize(rs) for rs in replica_sets],
                                  [serialize(pod) for pod in pods])  # fmt: skip
    return facts
