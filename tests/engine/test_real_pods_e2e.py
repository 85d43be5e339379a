"""The operator on real pods: a kubelet running the test application through containerd and runc, scraped
by a Prometheus that finds the pods through the API server, traffic sent to Ready endpoints only."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from hotfix_operator.api.models import GROUP, VERSION
from hotfix_operator.testbed.app_images import NEVER_IMPORTED, app_image
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.real_node import RealNode
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import Cluster, eventually
from real_pods import REAL_ANALYSIS, create_served, real_hotfix
from testbed_support import PrometheusQuery


@pytest.fixture(scope="module")
def real_node(testbed: TestBed) -> Iterator[RealNode]:
    node = testbed.start_real_node()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def real_operator(
    testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None, real_node: RealNode
) -> Iterator[OperatorProcess]:
    """An operator reading the real node's Prometheus."""
    process = OperatorProcess(testbed_state.kubeconfig, real_node.prometheus_url, testbed.work_dir / "real-pods.log")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def pods(api_client: client.ApiClient, namespace: str, real_node: RealNode) -> Cluster:
    return Cluster(api_client, namespace, PrometheusQuery(real_node.prometheus_url))


def serve(pods: Cluster, api_client: client.ApiClient, name: str, tag: str = "1.0", **kwargs: Any) -> None:
    """A Deployment of real pods with its Service, rolled out and answering traffic that Prometheus scraped."""
    create_served(api_client, pods.namespace, name, tag, **kwargs)
    eventually(lambda: pods.rolled_out(name), timeout=60, what=f"{name} to roll out on the real node")
    assert pods.prometheus is not None
    prometheus = pods.prometheus
    served = f'sum(increase(http_requests_total{{namespace="{pods.namespace}",pod=~"{name}-.*"}}[5s]))'
    eventually(lambda: (prometheus.scalar(served) or 0) > 20, timeout=30, what=f"traffic to {name} in Prometheus")


def test_a_good_hotfix_on_real_pods_becomes_stable(
    real_operator: OperatorProcess, pods: Cluster, api_client: client.ApiClient
) -> None:
    serve(pods, api_client, "web")
    pods.apply_hotfix(real_hotfix("web-fix", "web", "1.2-good"))
    status = pods.wait_phase("web-fix", "Stable", "RolledBack", "Escalated", "Failed", timeout=120)
    assert status["phase"] == "Stable", status
    assert pods.image("web") == app_image("1.2-good")
    # The analysis read the real pods' own metrics (code label, no deployment label) and the real restarts.
    summary = status["lastAnalysis"]["summary"]
    assert "error rate" in summary and "pods without a restart" in summary, summary


def test_a_bad_hotfix_on_real_pods_is_rolled_back(
    real_operator: OperatorProcess, pods: Cluster, api_client: client.ApiClient
) -> None:
    serve(pods, api_client, "cart")
    pods.apply_hotfix(real_hotfix("cart-fix", "cart", "1.1-errors"))
    status = pods.wait_phase("cart-fix", "RolledBack", "Escalated", "Failed", "Stable", timeout=120)
    assert status["phase"] == "RolledBack", status
    assert status["decision"]["rule"] == "root-cause-unknown"
    assert pods.image("cart") == app_image("1.0")
    deployment = pods.deployment("cart")
    assert deployment.status.available_replicas == deployment.spec.replicas


def rollbacks(status: dict[str, Any]) -> int:
    return sum(1 for entry in status["timeline"] if entry["type"] == "RollbackPatched")


# Each way a hotfix's pods never start, with what the operator must name: (tag, container fields, spec, named).
NEVER_STARTS = {
    "an image tag that was never built": (NEVER_IMPORTED, {}, {}, "ImagePull"),
    "a process that crashes at start": ("1.4-crash", {}, {}, "missing key"),
    "a readiness probe that never passes": ("1.6-unready", {}, {"rollout": {"timeout": "15s"}}, "not Ready within 15s"),
    "a container killed for memory": ("1.7-leak", {"resources": {"limits": {"memory": "48Mi"}}}, {}, "OOMKilled"),
    "a pod that cannot be scheduled": ("1.2-good", {"resources": {"requests": {"memory": "4Ti"}}}, {},
                                       "Unschedulable: 0/"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(NEVER_STARTS))
def test_a_hotfix_that_never_starts_is_rolled_back_with_the_kubelets_reason(
    real_operator: OperatorProcess, pods: Cluster, api_client: client.ApiClient, case: str
) -> None:
    tag, container, spec, named = NEVER_STARTS[case]
    serve(pods, api_client, "auth")
    if container:
        # A change of more than the image: applied as a GitOps sync would, watched in observe mode.
        pods.apply_hotfix(real_hotfix("auth-fix", "auth", None, **spec))
        eventually(lambda: bool(pods.status("auth-fix").get("targets")), timeout=30, what="the baseline recorded")
        change = {"name": "app", "image": app_image(tag), **container}
        pods.apps.patch_namespaced_deployment("auth", pods.namespace, {"spec": {"template": {"spec": {
            "containers": [change]}}}})  # fmt: skip
    else:
        pods.apply_hotfix(real_hotfix("auth-fix", "auth", tag, **spec))
    status = pods.wait_phase("auth-fix", "RolledBack", "Escalated", "Failed", "Stable", timeout=150)
    assert status["phase"] == "RolledBack", status
    decision = status["decision"]
    assert decision["rule"] == "rollout-failed", decision
    assert named in decision["reason"] and "auth-" in decision["reason"], decision["reason"]
    assert pods.image("auth") == app_image("1.0")
    deployment = pods.deployment("auth")
    assert deployment.status.available_replicas == deployment.spec.replicas
    assert rollbacks(status) == 1
    rolled_out = {c["type"]: c for c in status["conditions"]}["RolledOut"]
    assert (rolled_out["status"], rolled_out["reason"]) == ("False", "RolloutFailed") and named in rolled_out["message"]


def test_a_hotfix_that_never_starts_on_applied_migrations_goes_to_a_person(
    real_operator: OperatorProcess, pods: Cluster, api_client: client.ApiClient
) -> None:
    serve(pods, api_client, "ledger")
    pods.apply_hotfix(real_hotfix("ledger-fix", "ledger", "1.4-crash", safety={"migrations": "irreversible"}))
    status = pods.wait_phase("ledger-fix", "Escalated", "RolledBack", "Failed", "Stable", timeout=120)
    assert status["phase"] == "Escalated", status
    assert status["decision"]["rule"] == "migrations-applied"
    assert "missing key" in status["decision"]["reason"]
    assert rollbacks(status) == 0
    assert pods.image("ledger") == app_image("1.4-crash")


def test_a_slow_but_healthy_start_is_not_rolled_back(
    real_operator: OperatorProcess, pods: Cluster, api_client: client.ApiClient
) -> None:
    serve(pods, api_client, "search")
    pods.apply_hotfix(real_hotfix("search-fix", "search", "1.8-slow-start"))
    status = pods.wait_phase("search-fix", "Monitoring", "Stable", "RolledBack", "Escalated", "Failed", timeout=150)
    assert status["phase"] in ("Monitoring", "Stable"), status
    assert pods.image("search") == app_image("1.8-slow-start")
    assert rollbacks(status) == 0


def test_a_guard_rolls_back_a_sync_of_a_tag_that_does_not_exist(
    real_operator: OperatorProcess, pods: Cluster, api_client: client.ApiClient
) -> None:
    policy = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "HotfixPolicy",
        "metadata": {"name": "guard-real"},
        "spec": {
            "selector": {"matchLabels": {"guard": "yes"}},
            "analysis": copy.deepcopy(REAL_ANALYSIS),
            "stability": {"checkpoints": ["6s", "9s", "12s"]},
            "rollback": {"timeout": "20s", "verifyFor": "3s"},
        },
    }
    pods.apply_policy(policy)
    serve(pods, api_client, "shop", labels={"guard": "yes"})
    # What a GitOps sync of a mistyped tag does: nobody wrote a Hotfix; the policy's guard watches it.
    pods.set_image("shop", app_image(NEVER_IMPORTED))
    eventually(lambda: "shop-rev2" in pods.hotfix_names(), timeout=30, what="the guard of revision 2")
    status = pods.wait_phase("shop-rev2", "RolledBack", "Escalated", "Failed", "Stable", timeout=120)
    assert status["phase"] == "RolledBack", status
    assert status["decision"]["rule"] == "rollout-failed" and "ImagePull" in status["decision"]["reason"]
    assert pods.image("shop") == app_image("1.0")
    assert rollbacks(status) == 1
