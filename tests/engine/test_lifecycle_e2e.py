"""The operator end to end: real control plane, real Prometheus, the simulator, windows in seconds."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from hotfix_operator.cli import kubectl_plugin
from hotfix_operator.cli import main as cli
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.prometheus import LocalPrometheus
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import (
    BAD_IMAGE,
    FIXED_IMAGE,
    GOOD_IMAGE,
    QUIET_IMAGE,
    Cluster,
    eventually,
    hotfix_manifest,
)


def plugin(state: TestBedState, namespace: str, *args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = kubectl_plugin.main(["--kubeconfig", state.kubeconfig, "-n", namespace, *args], stdout=out, stderr=err)
    return code, out.getvalue() + err.getvalue()


def test_bad_hotfix_is_rolled_back_automatically(
    running_operator: OperatorProcess, cluster: Cluster, testbed_state: TestBedState
) -> None:
    cluster.create_deployment("auth-api")
    cluster.apply_hotfix(hotfix_manifest("auth-fix", ["auth-api"], BAD_IMAGE))
    status = cluster.wait_phase("auth-fix", "RolledBack", "Escalated", "Failed")
    assert status["phase"] == "RolledBack", status
    assert status["decision"]["rule"] == "root-cause-unknown"
    assert status["decision"]["action"] == "rollback"
    assert cluster.image("auth-api") == GOOD_IMAGE
    # 1: the original, 2: the hotfix, 3: the undo (the controller renumbers the restored ReplicaSet).
    assert cluster.revision("auth-api") == 3
    [target] = status["targets"]
    assert (target["baselineRevision"], target["hotfixRevision"]) == (1, 2)
    reasons = cluster.event_reasons("auth-fix")
    for reason in ("BaselineRecorded", "RolloutStarted", "RolledOut", "Decision", "RollbackPatched", "RolledBack"):
        assert reason in reasons, reasons
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Succeeded"]["reason"] == "RolledBack"
    assert conditions["Healthy"]["status"] == "True"
    # Recovery was proven on data from after the undo, and the status says which.
    assert status["verification"]["result"] == "healthy", status["verification"]
    assert status["verification"]["since"] == status["rollbackCompletedAt"].replace("Z", "+00:00")
    assert "verified on data since the undo" in conditions["Healthy"]["message"]
    # The kubectl plugin and the report, on this real Hotfix.
    code, table = plugin(testbed_state, cluster.namespace, "status")
    assert code == 0 and "auth-fix" in table and "RolledBack" in table and "root-cause-unknown" in table
    # One Hotfix as a tree, with the cluster's own ReplicaSets and pods, and the next step; JSON for scripts.
    code, tree = plugin(testbed_state, cluster.namespace, "status", "auth-fix")
    assert code == 0, tree
    assert "deployment/auth-api  revisions 1 -> 2 -> 3 (restored); now at 3" in tree, tree
    assert "[baseline]" in tree and "[hotfix]" in tree and "✔ auth-api-" in tree, tree
    assert tree.splitlines()[-1].startswith("Next: find the root cause"), tree
    code, as_json = plugin(testbed_state, cluster.namespace, "status", "auth-fix", "-o", "json")
    assert code == 0 and json.loads(as_json)["status"]["phase"] == "RolledBack"
    code, report = plugin(testbed_state, cluster.namespace, "report", "auth-fix")
    assert code == 0
    assert f"`{cluster.namespace}/auth-fix` on auth-api: **RolledBack**" in report
    assert "error rate above 1.00%" in report  # the alert trigger, with its values
    assert "| RollbackPatched | auth-api: undo to revision 1" in report
    code, message = plugin(testbed_state, cluster.namespace, "report", "no-such-hotfix")
    assert code == 1 and "not found" in message
    out = io.StringIO()
    assert (
        cli.main(["report", "--kubeconfig", testbed_state.kubeconfig, "-n", cluster.namespace, "auth-fix"], stdout=out)
        == 0
    )
    assert out.getvalue() == report


def test_good_hotfix_becomes_stable_without_touching_the_deployment_again(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    cluster.create_deployment("search")
    cluster.apply_hotfix(hotfix_manifest("search-fix", ["search"], FIXED_IMAGE))
    cluster.wait_phase("search-fix", "Monitoring")
    generation = cluster.deployment("search").metadata.generation
    # Tuning a threshold mid-flight is a spec change, but not a forward fix: nothing rolls out again.
    cluster.patch_hotfix("search-fix", {"spec": {"analysis": {"errorRate": {"max": 0.02}}}})
    status = cluster.wait_phase("search-fix", "Stable", "Escalated", "RolledBack", "Failed")
    assert "ForwardFixRollout" not in cluster.timeline_types("search-fix")
    assert status["phase"] == "Stable", status
    assert [checkpoint["after"] for checkpoint in status["checkpoints"]] == ["6s", "9s", "12s"]
    assert all(checkpoint["result"] == "passed" for checkpoint in status["checkpoints"])
    assert cluster.deployment("search").metadata.generation == generation
    assert cluster.image("search") == FIXED_IMAGE
    assert {c["type"]: c["status"] for c in status["conditions"]}["Succeeded"] == "True"
    assert "Stable" in cluster.event_reasons("search-fix")


def test_irreversible_migrations_hold_for_a_forward_fix_then_escalate(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    cluster.create_deployment("ledger")
    # The incident started just under an hour ago: the hold turns into an escalation a few seconds in.
    started = (datetime.now(UTC) - timedelta(minutes=59, seconds=45)).strftime("%Y-%m-%dT%H:%M:%SZ")
    hotfix = hotfix_manifest("ledger-fix", ["ledger"], BAD_IMAGE, safety={"migrations": "irreversible"})
    hotfix["spec"]["incident"]["startedAt"] = started
    cluster.apply_hotfix(hotfix)
    status = cluster.wait_phase("ledger-fix", "ForwardFixPending", "Escalated")
    assert status["phase"] == "ForwardFixPending", status
    assert status["decision"]["rule"] == "migrations-applied"
    status = cluster.wait_phase("ledger-fix", "Escalated", timeout=60)
    assert status["decision"]["rule"] == "migrations-applied"
    assert status["decision"]["action"] == "escalate"
    # Never rolled back: the hotfix image is still running.
    assert cluster.image("ledger") == BAD_IMAGE
    assert cluster.revision("ledger") == 2
    assert "Escalated" in cluster.event_reasons("ledger-fix")


def test_fast_forward_fix_holds_then_rolls_back_when_the_eta_passes(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    cluster.create_deployment("cart")
    hotfix = hotfix_manifest("cart-fix", ["cart"], BAD_IMAGE)
    hotfix["spec"]["incident"] |= {"rootCause": "known", "forwardFixEta": "12s"}
    cluster.apply_hotfix(hotfix)
    status = cluster.wait_phase("cart-fix", "ForwardFixPending", "RollingBack", "RolledBack")
    assert status["phase"] == "ForwardFixPending", status
    assert status["decision"]["rule"] == "fast-forward-fix"
    status = cluster.wait_phase("cart-fix", "RolledBack", "Escalated", timeout=90)
    assert status["phase"] == "RolledBack", status
    assert status["decision"]["rule"] == "default-rollback"
    assert cluster.image("cart") == GOOD_IMAGE


def test_forward_fix_images_roll_out_and_monitoring_goes_on(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    cluster.create_deployment("pay")
    hotfix = hotfix_manifest("pay-fix", ["pay"], BAD_IMAGE)
    hotfix["spec"]["incident"] |= {"rootCause": "known", "forwardFixEta": "10m"}
    cluster.apply_hotfix(hotfix)
    cluster.wait_phase("pay-fix", "ForwardFixPending")
    cluster.patch_hotfix("pay-fix", {"spec": {"targets": [{"deployment": "pay", "images": {"app": FIXED_IMAGE}}]}})
    status = cluster.wait_phase("pay-fix", "Stable", "Escalated", "RolledBack", timeout=120)
    assert status["phase"] == "Stable", status
    assert cluster.image("pay") == FIXED_IMAGE
    assert "ForwardFixRollout" in cluster.timeline_types("pay-fix")
    # Baseline revision 1 is still the rollback target; the forward fix is revision 3.
    [target] = status["targets"]
    assert (target["baselineRevision"], target["hotfixRevision"]) == (1, 3)


def test_multi_service_incident_without_culprit_rolls_back_every_recent_deploy(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    cluster.create_deployment("auth")
    cluster.create_deployment("checkout")
    incident = {"id": "INC-multi", "severity": "SEV1", "affectedServices": ["auth", "checkout"]}
    healthy = hotfix_manifest("checkout-fix", ["checkout"], FIXED_IMAGE)
    healthy["spec"]["incident"] = incident
    healthy["spec"]["stability"] = {"checkpoints": ["10m"]}
    cluster.apply_hotfix(healthy)
    cluster.wait_phase("checkout-fix", "Monitoring")
    bad = hotfix_manifest("auth-fix", ["auth"], BAD_IMAGE)
    bad["spec"]["incident"] = incident
    cluster.apply_hotfix(bad)
    status = cluster.wait_phase("auth-fix", "RolledBack", "Escalated")
    assert status["decision"]["rule"] == "multi-service-unclear"
    assert status["decision"]["action"] == "rollback-all"
    sibling = cluster.wait_phase("checkout-fix", "RolledBack", "Escalated")
    assert sibling["phase"] == "RolledBack", sibling
    assert sibling["decision"]["rule"] == "multi-service-unclear"
    assert "auth-fix" in sibling["decision"]["reason"]
    assert cluster.image("auth") == GOOD_IMAGE
    assert cluster.image("checkout") == GOOD_IMAGE
    assert "RollbackRequested" in cluster.timeline_types("auth-fix")


def test_rollback_that_cannot_complete_escalates_after_one_undo(
    running_operator: OperatorProcess, cluster: Cluster, api_client: client.ApiClient
) -> None:
    core = client.CoreV1Api(api_client)
    label = f"hotfix-test-{cluster.namespace}"
    node = "kwok-node-0"
    core.patch_node(node, {"metadata": {"labels": {label: "yes"}}})
    try:
        cluster.create_deployment("stuck", replicas=1, nodeSelector={label: "yes"})
        hotfix = hotfix_manifest("stuck-fix", ["stuck"], BAD_IMAGE)
        hotfix["spec"]["rollback"] = {"timeout": "4s", "verifyFor": "3s"}
        cluster.apply_hotfix(hotfix)
        cluster.wait_phase("stuck-fix", "Monitoring")
        # From now on no node fits the template: the undo's new pods can never be scheduled.
        core.patch_node(node, {"metadata": {"labels": {label: None}}})
        status = cluster.wait_phase("stuck-fix", "Escalated", "RolledBack", timeout=90)
    finally:
        core.patch_node(node, {"metadata": {"labels": {label: None}}})
    assert status["phase"] == "Escalated", status
    assert {c["type"]: c["reason"] for c in status["conditions"]}["Succeeded"] == "RollbackTimedOut"
    assert cluster.timeline_types("stuck-fix").count("RollbackPatched") == 1
    # Generations: 1 created, 2 hotfix, 3 the single undo.
    assert cluster.deployment("stuck").metadata.generation == 3


def test_manual_mode_waits_for_a_person(
    running_operator: OperatorProcess, cluster: Cluster, testbed_state: TestBedState
) -> None:
    cluster.create_deployment("orders")
    cluster.apply_hotfix(hotfix_manifest("orders-fix", ["orders"], BAD_IMAGE, rollback={"mode": "manual"}))

    def recommended() -> bool:
        decision = cluster.status("orders-fix").get("decision") or {}
        return bool(decision.get("pendingConfirmation"))

    eventually(recommended, 60, "a rollback recommendation waiting for confirmation")
    status = cluster.status("orders-fix")
    assert status["phase"] == "Monitoring"
    assert cluster.image("orders") == BAD_IMAGE
    assert plugin(testbed_state, cluster.namespace, "rollback", "orders-fix", "--by", "alice")[0] == 0
    status = cluster.wait_phase("orders-fix", "RolledBack", "Escalated")
    assert status["phase"] == "RolledBack", status
    assert status["decision"]["rule"] == "manual-request"
    assert "alice" in status["decision"]["reason"]
    assert cluster.image("orders") == GOOD_IMAGE


def test_dry_run_records_and_changes_nothing(running_operator: OperatorProcess, cluster: Cluster) -> None:
    cluster.create_deployment("inventory")
    cluster.apply_hotfix(hotfix_manifest("inventory-fix", ["inventory"], BAD_IMAGE, rollback={"mode": "dryRun"}))

    def recorded() -> bool:
        decision = cluster.status("inventory-fix").get("decision") or {}
        return bool(decision.get("dryRun"))

    eventually(recorded, 60, "a dry-run rollback decision")
    generation = cluster.deployment("inventory").metadata.generation
    time.sleep(3)
    assert cluster.status("inventory-fix")["phase"] == "Monitoring"
    assert cluster.status("inventory-fix")["decision"]["rule"] == "root-cause-unknown"
    assert cluster.deployment("inventory").metadata.generation == generation
    assert cluster.image("inventory") == BAD_IMAGE


def test_approval_gate(running_operator: OperatorProcess, cluster: Cluster, testbed_state: TestBedState) -> None:
    cluster.create_deployment("billing")
    cluster.apply_hotfix(hotfix_manifest("billing-fix", ["billing"], FIXED_IMAGE, approval={"required": True}))
    cluster.wait_phase("billing-fix", "AwaitingApproval")
    time.sleep(2)
    assert cluster.image("billing") == GOOD_IMAGE
    # Someone ships another release while the hotfix waits: that becomes the rollback target.
    cluster.apps.patch_namespaced_deployment(
        "billing", cluster.namespace, {"metadata": {"annotations": {"team": "billing"}},
                                       "spec": {"template": {"metadata": {"labels": {"release": "r2"}}}}},
    )  # fmt: skip
    eventually(lambda: cluster.rolled_out("billing") and cluster.revision("billing") == 2, 60, "release r2")
    assert plugin(testbed_state, cluster.namespace, "approve", "billing-fix", "--by", "bob")[0] == 0
    cluster.wait_phase("billing-fix", "Monitoring", "Stable")
    assert cluster.image("billing") == FIXED_IMAGE
    conditions = {c["type"]: c for c in cluster.status("billing-fix")["conditions"]}
    assert conditions["Approved"]["message"] == "approved by bob"
    assert cluster.status("billing-fix")["targets"][0]["baselineRevision"] == 2


def test_unactionable_hotfix_fails_clearly_and_others_keep_working(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    cluster.apply_hotfix(hotfix_manifest("ghost-fix", ["does-not-exist"], FIXED_IMAGE))
    cluster.create_deployment("real")
    bad_container = hotfix_manifest("bad-container", ["real"], FIXED_IMAGE)
    bad_container["spec"]["targets"][0]["images"] = {"sidecar": FIXED_IMAGE}
    cluster.apply_hotfix(bad_container)
    status = cluster.wait_phase("ghost-fix", "Failed")
    succeeded = {c["type"]: c for c in status["conditions"]}["Succeeded"]
    assert succeeded["reason"] == "TargetNotActionable"
    assert "does-not-exist" in succeeded["message"] and "not found" in succeeded["message"]
    status = cluster.wait_phase("bad-container", "Failed")
    assert "no container named sidecar" in {c["type"]: c for c in status["conditions"]}["Succeeded"]["message"]
    assert cluster.image("real") == GOOD_IMAGE
    # The operator is still serving: a good hotfix in the same namespace goes through.
    cluster.apply_hotfix(hotfix_manifest("after-failures", ["real"], FIXED_IMAGE))
    cluster.wait_phase("after-failures", "Monitoring", "Stable")


def test_prometheus_outage_holds_then_monitoring_goes_on(
    running_operator: OperatorProcess, cluster: Cluster, testbed_state: TestBedState, tmp_path: Path
) -> None:
    own_prometheus = LocalPrometheus(tmp_path / "prometheus", [testbed_state.simulator_url.removeprefix("http://")])
    # The operator knows this Prometheus as its endpoint "secondary"; the Hotfix names it, never its URL.
    own_prometheus.port = int(running_operator.endpoints["secondary"].rsplit(":", 1)[1])
    own_prometheus.start()
    try:
        cluster.create_deployment("catalog")
        hotfix = hotfix_manifest("catalog-fix", ["catalog"], FIXED_IMAGE, stability={"checkpoints": ["10m"]})
        hotfix["spec"]["analysis"]["prometheus"] = "secondary"
        cluster.apply_hotfix(hotfix)
        eventually(lambda: (cluster.status("catalog-fix").get("decision") or {}).get("rule") == "healthy", 60,
                   "a healthy analysis")  # fmt: skip
        own_prometheus.stop()
        eventually(lambda: cluster.status("catalog-fix")["decision"]["rule"] == "telemetry-missing", 30,
                   "the telemetry-missing hold")  # fmt: skip
        status = cluster.status("catalog-fix")
        assert status["phase"] == "Monitoring"
        assert "unreachable" in status["lastAnalysis"]["summary"]
        assert cluster.image("catalog") == FIXED_IMAGE
        own_prometheus.start()
        eventually(lambda: cluster.status("catalog-fix")["decision"]["rule"] == "healthy", 60,
                   "monitoring to go on once Prometheus is back")  # fmt: skip
        assert cluster.status("catalog-fix")["phase"] == "Monitoring"
        assert cluster.image("catalog") == FIXED_IMAGE
    finally:
        own_prometheus.stop()


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def test_notifications_reach_slack_and_webhook_without_leaking_urls(
    running_operator: OperatorProcess, cluster: Cluster, testbed: TestBed
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        cluster.core.create_namespaced_secret(
            cluster.namespace,
            client.V1Secret(metadata=client.V1ObjectMeta(name="war-room"),
                            string_data={"url": f"{base}/slack/secret-token-xyz", "hook": f"{base}/hook"}),
        )  # fmt: skip
        cluster.create_deployment("mail")
        notify = {
            "slack": {"webhookSecretRef": {"name": "war-room", "key": "url"}, "channel": "#hotfix-war-room"},
            "webhook": {"urlSecretRef": {"name": "war-room", "key": "hook"}},
        }
        cluster.apply_hotfix(hotfix_manifest("mail-fix", ["mail"], BAD_IMAGE, notify=notify))
        cluster.wait_phase("mail-fix", "RolledBack", "Escalated")
        eventually(lambda: any(r["body"].get("event") == "RolledBack" for r in _Receiver.received), 20,
                   "the RolledBack notification")  # fmt: skip
    finally:
        server.shutdown()
    slack = [r["body"] for r in _Receiver.received if r["path"].startswith("/slack")]
    hook = [r["body"] for r in _Receiver.received if r["path"] == "/hook"]
    assert any("rollback" in message["text"] and message["channel"] == "#hotfix-war-room" for message in slack)
    assert {"Decision", "RolledBack"} <= {message["event"] for message in hook}
    assert all(message["incident"] == "INC-mail-fix" for message in hook)
    assert "secret-token-xyz" not in (testbed.work_dir / "operator.log").read_text()


def test_abort_hands_off_to_people(
    running_operator: OperatorProcess, cluster: Cluster, testbed_state: TestBedState
) -> None:
    cluster.create_deployment("reco")
    cluster.apply_hotfix(hotfix_manifest("reco-fix", ["reco"], FIXED_IMAGE, stability={"checkpoints": ["10m"]}))
    cluster.wait_phase("reco-fix", "Monitoring")
    assert plugin(testbed_state, cluster.namespace, "abort", "reco-fix", "--by", "carol")[0] == 0
    status = cluster.wait_phase("reco-fix", "Escalated")
    assert {c["type"]: c for c in status["conditions"]}["Succeeded"]["reason"] == "Aborted"
    assert "carol" in status["timeline"][-1]["message"]


def test_operator_metrics_count_decisions_and_rollbacks(running_operator: OperatorProcess) -> None:
    # Runs after this module's rollback tests (the file's order): its operator has rolled back several by now.
    metrics = running_operator.metrics()
    assert 'hotfix_operator_decisions_total{action="rollback",rule="root-cause-unknown"}' in metrics
    assert "hotfix_operator_rollbacks_total" in metrics
    assert 'hotfix_operator_hotfixes{phase="RolledBack"}' in metrics
    assert "hotfix_operator_analysis_query_seconds_count" in metrics
    # Hotfixes that left the analysed phases (rolled back, escalated) minutes ago do not count as late.
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name in ("hotfix_operator_analysed_hotfixes", "hotfix_operator_analysis_lag_seconds")
    }
    assert values["hotfix_operator_analysis_lag_seconds"] < 30, values


def test_hotfix_applied_with_its_deployment_waits_for_the_first_replicaset(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    """A pipeline applies both at once: the Deployment has no ReplicaSet yet, which is not an error."""
    from operator_support import deployment_manifest

    cluster.apps.create_namespaced_deployment(cluster.namespace, deployment_manifest("fresh"))
    cluster.apply_hotfix(hotfix_manifest("fresh-fix", ["fresh"], FIXED_IMAGE, stability={"checkpoints": ["10m"]}))
    status = cluster.wait_phase("fresh-fix", "Monitoring", "Failed")
    assert status["phase"] == "Monitoring", status
    assert status["targets"][0]["baselineRevision"] == 1


def test_rollback_without_data_to_verify_escalates_as_unverified(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    """After the undo nothing serves traffic: the recovery cannot be proven, so it is not called one."""
    cluster.create_deployment("ledger", image=QUIET_IMAGE)
    cluster.apply_hotfix(hotfix_manifest("ledger-fix", ["ledger"], BAD_IMAGE))
    status = cluster.wait_phase("ledger-fix", "RolledBack", "Escalated", "Failed", timeout=120)
    assert status["phase"] == "Escalated", status
    succeeded = next(c for c in status["conditions"] if c["type"] == "Succeeded")
    assert succeeded["reason"] == "RollbackUnverified", succeeded
    assert "recovery could not be verified" in succeeded["message"]
    # The pods that served are gone with the undo: no series, or series without requests.
    assert status["verification"]["result"] in ("inconclusive", "no-traffic"), status["verification"]
    assert cluster.image("ledger") == QUIET_IMAGE
