"""People and pipelines change things while the operator acts: each edit ends in a clear phase or condition,
with at most one rollout and one undo per change."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from hotfix_operator.api.models import GROUP, PLURAL, VERSION
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import wait_until
from operator_support import BAD_IMAGE, FIXED_IMAGE, GOOD_IMAGE, Cluster, hotfix_manifest
from trust_records import trial

pytestmark = pytest.mark.trust

LONG_WINDOW = {"checkpoints": ["10m"]}


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == type_), {})


def slow_deployment(cluster: Cluster, name: str, min_ready_seconds: int) -> None:
    cluster.create_deployment(name)
    cluster.apps.patch_namespaced_deployment(name, cluster.namespace, {"spec": {"minReadySeconds": min_ready_seconds}})


def test_spec_changed_during_rollback(running_operator: OperatorProcess, cluster: Cluster) -> None:
    with trial("edit", "spec changed during RollingBack") as t:
        slow_deployment(cluster, "pay", min_ready_seconds=8)
        cluster.apply_hotfix(
            hotfix_manifest("pay-fix", ["pay"], BAD_IMAGE, rollback={"timeout": "90s", "verifyFor": "3s"})
        )
        cluster.wait_phase("pay-fix", "RollingBack")
        cluster.patch_hotfix("pay-fix", {"spec": {"targets": [{"deployment": "pay", "images": {"app": FIXED_IMAGE}}]}})
        status = cluster.wait_phase("pay-fix", "RolledBack", "Escalated", timeout=120)
        assert status["phase"] == "RolledBack", status
        types = cluster.timeline_types("pay-fix")
        assert types.count("SpecChangeIgnored") == 1 and types.count("RollbackPatched") == 1, types
        assert (cluster.revision("pay"), cluster.image("pay")) == (3, GOOD_IMAGE)
        t.figures["double_actions"] = 0


def test_hotfix_deleted_during_rollback(running_operator: OperatorProcess, cluster: Cluster) -> None:
    with trial("edit", "Hotfix deleted during RollingBack") as t:
        slow_deployment(cluster, "cart", min_ready_seconds=8)
        cluster.apply_hotfix(hotfix_manifest("cart-fix", ["cart"], BAD_IMAGE, rollback={"timeout": "90s"}))
        cluster.wait_phase("cart-fix", "RollingBack")
        cluster.custom.delete_namespaced_custom_object(GROUP, VERSION, cluster.namespace, PLURAL, "cart-fix")

        def gone() -> bool:
            try:
                cluster.hotfix("cart-fix")
            except ApiException as error:
                return error.status == 404
            return False

        wait_until(gone, timeout=30, what="the Hotfix to be deleted")
        time.sleep(5)
        # The undo was sent once or not at all: never a second one, never half of one.
        assert cluster.revision("cart") in (2, 3)
        assert cluster.image("cart") == (GOOD_IMAGE if cluster.revision("cart") == 3 else BAD_IMAGE)
        # The operator serves the next Hotfix as usual.
        cluster.create_deployment("cart-next")
        cluster.apply_hotfix(hotfix_manifest("cart-next-fix", ["cart-next"], FIXED_IMAGE, stability=LONG_WINDOW))
        cluster.wait_phase("cart-next-fix", "Monitoring")
        t.figures["double_actions"] = 0


def test_target_deleted_during_monitoring_escalates(running_operator: OperatorProcess, cluster: Cluster) -> None:
    with trial("edit", "target Deployment deleted during Monitoring") as t:
        cluster.create_deployment("feed")
        cluster.apply_hotfix(hotfix_manifest("feed-fix", ["feed"], FIXED_IMAGE, stability=LONG_WINDOW))
        cluster.wait_phase("feed-fix", "Monitoring")
        cluster.apps.delete_namespaced_deployment("feed", cluster.namespace)
        status = cluster.wait_phase("feed-fix", "Escalated", timeout=60)
        succeeded = condition(status, "Succeeded")
        assert succeeded["reason"] == "TargetDeleted"
        assert succeeded["message"].startswith("deployment feed was deleted while being monitored")
        t.figures["double_actions"] = 0


def test_target_scaled_to_zero_during_monitoring_holds(running_operator: OperatorProcess, cluster: Cluster) -> None:
    with trial("edit", "target Deployment scaled to 0 during Monitoring") as t:
        cluster.create_deployment("news")
        cluster.apply_hotfix(hotfix_manifest("news-fix", ["news"], FIXED_IMAGE, stability=LONG_WINDOW))
        cluster.wait_phase("news-fix", "Monitoring")
        cluster.apps.patch_namespaced_deployment_scale("news", cluster.namespace, {"spec": {"replicas": 0}})
        wait_until(
            lambda: condition(cluster.status("news-fix"), "Healthy").get("reason") == "NoTraffic",
            timeout=60,
            what="the analysis to say there is no traffic",
        )
        time.sleep(3)
        status = cluster.status("news-fix")
        assert status["phase"] == "Monitoring", status
        assert cluster.revision("news") == 2
        t.figures["double_actions"] = 0


def test_deployment_paused_during_rollout_waits_for_the_resume(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    with trial("edit", "Deployment paused by a person during the rollout") as t:
        slow_deployment(cluster, "maps", min_ready_seconds=10)
        cluster.apply_hotfix(hotfix_manifest("maps-fix", ["maps"], FIXED_IMAGE, stability=LONG_WINDOW))
        wait_until(lambda: "RolloutStarted" in cluster.timeline_types("maps-fix"), timeout=30, what="the rollout")
        cluster.apps.patch_namespaced_deployment("maps", cluster.namespace, {"spec": {"paused": True}})
        wait_until(
            lambda: condition(cluster.status("maps-fix"), "RolledOut").get("reason") == "DeploymentPaused",
            timeout=30,
            what="the paused rollout to be reported",
        )
        held = cluster.status("maps-fix")
        assert held["phase"] == "RollingOut"
        assert "kubectl rollout resume deployment/maps" in condition(held, "RolledOut")["message"]
        assert cluster.deployment("maps").spec.paused is True  # the operator never lifts a person's pause
        cluster.apps.patch_namespaced_deployment("maps", cluster.namespace, {"spec": {"paused": False}})
        status = cluster.wait_phase("maps-fix", "Monitoring", timeout=90)
        types = cluster.timeline_types("maps-fix")
        assert types.count("RolloutStarted") == 1 and types.count("DeploymentPaused") == 1, types
        assert (cluster.revision("maps"), status["phase"]) == (2, "Monitoring")
        t.figures["double_actions"] = 0


def test_two_hotfixes_on_one_deployment(running_operator: OperatorProcess, cluster: Cluster) -> None:
    with trial("edit", "two Hotfixes naming the same Deployment") as t:
        cluster.create_deployment("auth")
        cluster.apply_hotfix(hotfix_manifest("auth-fix", ["auth"], FIXED_IMAGE, stability=LONG_WINDOW))
        cluster.apply_hotfix(hotfix_manifest("auth-fix-2", ["auth"], BAD_IMAGE, stability=LONG_WINDOW))
        second = cluster.wait_phase("auth-fix-2", "Failed", "RollingOut", "Monitoring")
        assert second["phase"] == "Failed", second
        succeeded = condition(second, "Succeeded")
        assert succeeded["reason"] == "TargetInUse"
        assert "already in the hands of Hotfix auth-fix" in succeeded["message"]
        first = cluster.wait_phase("auth-fix", "Monitoring")
        assert (cluster.revision("auth"), cluster.image("auth")) == (2, FIXED_IMAGE)
        assert first["phase"] == "Monitoring"
        t.figures["double_actions"] = 0
