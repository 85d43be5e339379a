"""The operator on real pods: a kubelet running the test application through containerd and runc, scraped
by a Prometheus that finds the pods through the API server, traffic sent to Ready endpoints only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from hotfix_operator.testbed.app_images import app_image
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.real_node import RealNode
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import Cluster, eventually
from real_pods import create_served, real_hotfix
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
