"""The operator on the telemetry real clusters have: presets, backends without sessions, and gaps."""

from __future__ import annotations

from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.simulator import ERROR_RATIO, SESSIONS, TELEMETRY
from operator_support import BAD_IMAGE, FIXED_IMAGE, GOOD_IMAGE, Cluster, eventually, hotfix_manifest

# A backend scraped by a ServiceMonitor: no deployment label, no session metrics, and not one 5xx ever.
BACKEND = {TELEMETRY: "kube-prometheus", SESSIONS: "false", ERROR_RATIO: "0"}


def conditions(cluster: Cluster, name: str) -> dict[str, dict[str, str]]:
    return {condition["type"]: condition for condition in cluster.status(name).get("conditions", [])}


def test_backend_without_sessions_or_5xx_becomes_stable(running_operator: OperatorProcess, cluster: Cluster) -> None:
    cluster.create_deployment("orders", annotations=BACKEND)
    body = hotfix_manifest("orders-fix", ["orders"], FIXED_IMAGE)
    body["spec"]["analysis"]["telemetry"] = "kube-prometheus"
    cluster.apply_hotfix(body)
    status = cluster.wait_phase("orders-fix", "Stable", "Escalated", "RolledBack", "Failed", timeout=120)
    assert status["phase"] == "Stable", status
    ready = conditions(cluster, "orders-fix")["TelemetryReady"]
    assert ready["status"] == "True", ready
    # The threshold it could not judge is named, not silently passed.
    assert "crash-free sessions: not judged" in status["lastAnalysis"]["summary"]
    assert all(checkpoint["result"] == "passed" for checkpoint in status["checkpoints"])


def test_preset_shaped_bad_hotfix_is_rolled_back(running_operator: OperatorProcess, cluster: Cluster) -> None:
    cluster.create_deployment("cart", annotations={TELEMETRY: "istio"})
    body = hotfix_manifest("cart-fix", ["cart"], BAD_IMAGE)
    body["spec"]["analysis"]["telemetry"] = "istio"
    cluster.apply_hotfix(body)
    status = cluster.wait_phase("cart-fix", "RolledBack", "Escalated", "Failed", timeout=120)
    assert status["phase"] == "RolledBack", status
    assert status["decision"]["rule"] == "root-cause-unknown"
    assert cluster.image("cart") == GOOD_IMAGE


def test_missing_telemetry_is_diagnosed_within_one_interval(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    # Scraped-shape metrics, read with the default `labels` preset: the `deployment` label does not exist.
    cluster.create_deployment("search", annotations={TELEMETRY: "kube-prometheus"})
    body = hotfix_manifest("search-fix", ["search"], FIXED_IMAGE)
    body["spec"]["analysis"]["requireTelemetry"] = True
    cluster.apply_hotfix(body)

    def diagnosed() -> bool:
        return conditions(cluster, "search-fix").get("TelemetryReady", {}).get("status") == "False"

    # The analysis interval is 1 s; the first step runs the check before anything is rolled out.
    eventually(diagnosed, timeout=15, what="the TelemetryReady condition to say what is missing")
    message = conditions(cluster, "search-fix")["TelemetryReady"]["message"]
    assert "no label `deployment`" in message and "`telemetry: kube-prometheus` finds data for it" in message, message
    # One preset for the whole Hotfix: the one that finds every threshold, not one per threshold.
    assert "`telemetry: istio`" not in message, message
    assert "TelemetryMissing" in cluster.event_reasons("search-fix")
    # requireTelemetry holds the rollout: nothing was changed.
    assert cluster.status("search-fix")["phase"] == "Pending"
    assert cluster.image("search") == GOOD_IMAGE
    # Choosing the right preset releases it.
    cluster.patch_hotfix("search-fix", {"spec": {"analysis": {"telemetry": "kube-prometheus"}}})
    status = cluster.wait_phase("search-fix", "Monitoring", "Stable", "Escalated", "RolledBack", timeout=60)
    assert status["phase"] in ("Monitoring", "Stable"), status
    assert conditions(cluster, "search-fix")["TelemetryReady"]["status"] == "True"
