"""Policies end to end: every new revision of a selected Deployment is guarded, with no loops and no storms.

Real control plane, real Prometheus, the simulator; the changes are made as a person or a pipeline makes
them (a patch of the Deployment's image, ``kubectl set image``), never through a Hotfix.
"""

from __future__ import annotations

import copy
import io
import time
from datetime import datetime
from typing import Any

from hotfix_operator.api.models import API_VERSION
from hotfix_operator.cli import kubectl_plugin
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBedState
from operator_support import BAD_IMAGE, FAST_ANALYSIS, FIXED_IMAGE, GOOD_IMAGE, Cluster, eventually, hotfix_manifest
from testbed_support import kubectl

GUARDED = {"guard": "yes"}
SECOND_GOOD_IMAGE = "registry.example/app:1.3"
ENDED = ("RolledBack", "Escalated", "Failed", "Stable", "Superseded")


def policy_manifest(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "HotfixPolicy",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": GUARDED},
            "analysis": copy.deepcopy(FAST_ANALYSIS),
            "stability": {"checkpoints": ["6s", "9s", "12s"]},
            "rollback": {"timeout": "20s", "verifyFor": "3s"},
            **spec,
        },
    }


def plugin(state: TestBedState, namespace: str, *args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = kubectl_plugin.main(["--kubeconfig", state.kubeconfig, "-n", namespace, *args], stdout=out, stderr=err)
    return code, out.getvalue() + err.getvalue()


def wait_for_guard(cluster: Cluster, name: str, timeout: float = 30) -> None:
    eventually(lambda: name in cluster.hotfix_names(), timeout=timeout, what=f"guard {name} to be created")


def test_a_bad_change_is_rolled_back_and_a_deployment_outside_the_selector_is_never_touched(
    running_operator: OperatorProcess, cluster: Cluster, testbed_state: TestBedState
) -> None:
    cluster.apply_policy(policy_manifest("guard-shop"))
    cluster.create_deployment("checkout", labels=GUARDED)
    cluster.create_deployment("ledger", labels={"guard": "no"})
    # A first revision has nothing to roll back to: no guard.
    assert cluster.hotfix_names() == []
    kubectl(testbed_state, "-n", cluster.namespace, "set", "image", "deployment/checkout", f"app={BAD_IMAGE}")
    cluster.set_image("ledger", BAD_IMAGE)
    wait_for_guard(cluster, "checkout-rev2")
    status = cluster.wait_phase("checkout-rev2", *ENDED)
    assert status["phase"] == "RolledBack", status
    assert status["decision"]["rule"] == "root-cause-unknown"
    [target] = status["targets"]
    assert (target["baselineRevision"], target["hotfixRevision"]) == (1, 2)
    assert cluster.image("checkout") == GOOD_IMAGE and cluster.revision("checkout") == 3
    guard = cluster.hotfix("checkout-rev2")
    assert guard["metadata"]["labels"] == {"hotfix.dev/policy": "guard-shop"}
    assert guard["metadata"]["ownerReferences"][0]["kind"] == "HotfixPolicy"
    assert guard["spec"]["targets"] == [{"deployment": "checkout", "fromRevision": 1}]
    # The undo (revision 3) started no guard of its own.
    time.sleep(3)
    assert cluster.hotfix_names() == ["checkout-rev2"]
    # Outside the selector: still on the bad image, never guarded, never undone.
    assert cluster.image("ledger") == BAD_IMAGE and cluster.revision("ledger") == 2
    code, table = plugin(testbed_state, cluster.namespace, "policies")
    assert code == 0, table
    assert "guard-shop" in table and "guard=yes" in table and "0/3 in 10m" not in table and "1/3 in 10m" in table


def test_a_good_change_becomes_stable(running_operator: OperatorProcess, cluster: Cluster) -> None:
    cluster.apply_policy(policy_manifest("guard-shop"))
    cluster.create_deployment("search", labels=GUARDED)
    cluster.set_image("search", FIXED_IMAGE)
    wait_for_guard(cluster, "search-rev2")
    status = cluster.wait_phase("search-rev2", *ENDED)
    assert status["phase"] == "Stable", status
    assert cluster.image("search") == FIXED_IMAGE and cluster.revision("search") == 2


def test_two_quick_changes_leave_one_guard(running_operator: OperatorProcess, cluster: Cluster) -> None:
    cluster.apply_policy(policy_manifest("guard-shop"))
    cluster.create_deployment("cart", labels=GUARDED)
    cluster.set_image("cart", FIXED_IMAGE)
    wait_for_guard(cluster, "cart-rev2")
    cluster.set_image("cart", SECOND_GOOD_IMAGE)
    wait_for_guard(cluster, "cart-rev3")
    older = cluster.wait_phase("cart-rev2", *ENDED)
    assert older["phase"] == "Superseded", older
    succeeded = {c["type"]: c for c in older["conditions"]}["Succeeded"]
    assert succeeded["reason"] == "Superseded" and "cart-rev3" in succeeded["message"]
    newer = cluster.wait_phase("cart-rev3", *ENDED)
    assert newer["phase"] == "Stable", newer
    # The newer guard's rollback target is the revision before its change.
    assert newer["targets"][0]["baselineRevision"] == 2
    assert cluster.hotfix_names() == ["cart-rev2", "cart-rev3"]


def test_the_breaker_turns_a_third_rollback_into_an_escalation(
    running_operator: OperatorProcess, cluster: Cluster, testbed_state: TestBedState
) -> None:
    cluster.apply_policy(policy_manifest("guard-shop", breaker={"maxRollbacks": 2, "window": "10m"}))
    services = ("alpha", "bravo", "charlie")
    for service in services:
        cluster.create_deployment(service, labels=GUARDED)
    for service in services:
        cluster.set_image(service, BAD_IMAGE)
    guards = [f"{service}-rev2" for service in services]
    for guard in guards:
        wait_for_guard(cluster, guard)
    outcomes = {guard: cluster.wait_phase(guard, *ENDED) for guard in guards}
    phases = sorted(status["phase"] for status in outcomes.values())
    assert phases == ["Escalated", "RolledBack", "RolledBack"], outcomes
    [(escalated, status)] = [(guard, s) for guard, s in outcomes.items() if s["phase"] == "Escalated"]
    assert status["decision"]["rule"] == "rollback-breaker-open"
    assert "policy " + cluster.namespace + "/guard-shop breaker is open" in status["decision"]["reason"]
    # The escalated one was never undone; the two others were.
    service = escalated.removesuffix("-rev2")
    assert cluster.image(service) == BAD_IMAGE and cluster.revision(service) == 2
    assert sorted(cluster.image(s) for s in services) == sorted([BAD_IMAGE, GOOD_IMAGE, GOOD_IMAGE])
    code, table = plugin(testbed_state, cluster.namespace, "policies")
    assert code == 0 and "2/2 in 10m (open)" in table, table


def test_a_pipeline_re_applying_the_rolled_back_template_is_escalated_not_fought(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    cluster.apply_policy(policy_manifest("guard-shop"))
    cluster.create_deployment("basket", labels=GUARDED)
    cluster.set_image("basket", BAD_IMAGE)
    wait_for_guard(cluster, "basket-rev2")
    assert cluster.wait_phase("basket-rev2", *ENDED)["phase"] == "RolledBack"
    # A GitOps sync puts the bad template back: its old ReplicaSet comes back as revision 4.
    cluster.set_image("basket", BAD_IMAGE)
    status = cluster.wait_phase("basket-rev2", "Escalated", "Superseded", timeout=30)
    assert status["phase"] == "Escalated", status
    assert {c["type"]: c for c in status["conditions"]}["Succeeded"]["reason"] == "TemplateReapplied"
    assert cluster.revision("basket") == 4 and cluster.image("basket") == BAD_IMAGE
    assert cluster.hotfix_names() == ["basket-rev2"]


def test_a_forward_fix_after_a_rollback_gets_its_own_guard(running_operator: OperatorProcess, cluster: Cluster) -> None:
    cluster.apply_policy(policy_manifest("guard-shop"))
    cluster.create_deployment("wallet", labels=GUARDED)
    cluster.set_image("wallet", BAD_IMAGE)
    wait_for_guard(cluster, "wallet-rev2")
    assert cluster.wait_phase("wallet-rev2", *ENDED)["phase"] == "RolledBack"
    cluster.set_image("wallet", FIXED_IMAGE)
    wait_for_guard(cluster, "wallet-rev4")
    assert cluster.wait_phase("wallet-rev2", "Superseded", "Escalated", timeout=30)["phase"] == "Superseded"
    status = cluster.wait_phase("wallet-rev4", *ENDED)
    assert status["phase"] == "Stable", status
    # Its rollback target was the rolled-back-to revision (3), the one before the fix.
    assert status["targets"][0]["baselineRevision"] == 3


def test_the_rolled_back_template_applied_again_after_the_guards_window_is_guarded_again(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    cluster.apply_policy(policy_manifest("guard-shop"))
    cluster.create_deployment("search", labels=GUARDED)
    cluster.set_image("search", BAD_IMAGE)
    eventually(lambda: "search-rev2" in cluster.hotfix_names(), timeout=30, what="the guard of revision 2")
    first = cluster.wait_phase("search-rev2", *ENDED)
    assert first["phase"] == "RolledBack", first
    # The guard watches for its template coming back for its last checkpoint (12s) after the undo; past it,
    # the same bad image applied again (a GitOps sync, a person's `kubectl set image`) is judged again.
    undone_at = first["rollbackCompletedAt"]
    eventually(lambda: time.time() > _timestamp(undone_at) + 13, timeout=30, what="the guard's window to end")
    cluster.set_image("search", BAD_IMAGE)
    eventually(lambda: "search-rev4" in cluster.hotfix_names(), timeout=30, what="a guard of the template again")
    second = cluster.wait_phase("search-rev4", *ENDED)
    assert second["phase"] == "RolledBack", second
    assert cluster.image("search") == GOOD_IMAGE
    assert "Guarding" in [event.reason for event in cluster.core.list_namespaced_event(cluster.namespace).items]


def test_a_persons_rolled_back_template_applied_again_after_its_window_is_said_on_that_hotfix(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    # No policy here: the Hotfix a person wrote is the only one that knows the template is bad.
    cluster.create_deployment("ledger")
    cluster.apply_hotfix(hotfix_manifest("ledger-fix", ["ledger"], BAD_IMAGE, stability={"checkpoints": ["3s"]}))
    status = cluster.wait_phase("ledger-fix", "RolledBack", "Escalated")
    assert status["phase"] == "RolledBack", status
    eventually(lambda: time.time() > _timestamp(status["rollbackCompletedAt"]) + 4, timeout=30,
               what="the Hotfix's window to end")  # fmt: skip
    cluster.set_image("ledger", BAD_IMAGE)
    eventually(lambda: "TemplateReapplied" in cluster.event_reasons("ledger-fix"), timeout=30,
               what="a Warning Event on the Hotfix that rolled the template back")  # fmt: skip
    # A good change afterwards is nobody's business: one Event, for the bad template only.
    cluster.set_image("ledger", FIXED_IMAGE)
    time.sleep(3)
    assert cluster.event_reasons("ledger-fix").count("TemplateReapplied") == 1


def _timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
