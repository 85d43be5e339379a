"""The lean diff base gives Kopf exactly the essence its own storage builds, without copying the status."""

from __future__ import annotations

import copy
import json
from typing import Any

import kopf

from hotfix_operator.engine.diffbase import LeanAnnotationsDiffBaseStorage

PREFIX, KEY = "hotfix.dev", "last-handled-configuration"


def hotfix_body() -> dict[str, Any]:
    spec = {"targets": [{"deployment": "checkout", "images": {"app": "registry.example/app:2"}}]}
    return {
        "apiVersion": "hotfix.dev/v1alpha1",
        "kind": "Hotfix",
        "metadata": {
            "name": "checkout-fix",
            "namespace": "shop",
            "uid": "0b0e",
            "resourceVersion": "812",
            "generation": 2,
            "labels": {"team": "payments"},
            "annotations": {
                "hotfix.dev/approved-by": "alice",
                f"{PREFIX}/{KEY}": json.dumps({"spec": spec}),
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
            "finalizers": ["hotfix.dev/finalizer"],
            "managedFields": [{"manager": "hotfix-operator", "fieldsV1": {"f:status": {"f:phase": {}}}}],
        },
        "spec": spec,
        "status": {"phase": "Monitoring", "conditions": [{"type": "Healthy", "status": "True"}] * 7},
    }


def replica_set_body() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "checkout-5d9c", "ownerReferences": [{"kind": "Deployment", "name": "checkout"}]},
        "spec": {"replicas": 2},
        "status": {"readyReplicas": 2},
    }


def test_the_essence_is_kopfs_own() -> None:
    lean = LeanAnnotationsDiffBaseStorage(prefix=PREFIX, key=KEY)
    kopfs = kopf.AnnotationsDiffBaseStorage(prefix=PREFIX, key=KEY)
    for raw in (hotfix_body(), replica_set_body(), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}):
        body = kopf.Body(raw)
        assert lean.build(body=body) == kopfs.build(body=body), raw["kind"]
        assert lean.build(body=body, extra_fields=set()) == kopfs.build(body=body), raw["kind"]
        # A handler following a field of the status of its own gets it, as from Kopf's storage.
        followed = ["status.phase"]
        assert lean.build(body=body, extra_fields=followed) == kopfs.build(body=body, extra_fields=followed)


def test_the_essence_is_a_copy_and_leaves_the_object_alone() -> None:
    raw = hotfix_body()
    untouched = copy.deepcopy(raw)
    essence = LeanAnnotationsDiffBaseStorage(prefix=PREFIX, key=KEY).build(body=kopf.Body(raw))
    essence["spec"]["targets"][0]["deployment"] = "changed"
    assert raw == untouched
    assert "status" not in essence
    assert "managedFields" not in essence.get("metadata", {})
