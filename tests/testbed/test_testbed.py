"""The test bed proves its loop: a bad rollout raises the error rate Prometheus scrapes; an undo lowers it."""

from __future__ import annotations

import time
from collections.abc import Callable

from kubernetes import client

from hotfix_operator.testbed.simulator import ERROR_RATIO
from hotfix_operator.testbed.stack import TestBedState
from testbed_support import PrometheusQuery, kubectl


def deployment(name: str, error_ratio: float, replicas: int = 3) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels, annotations={ERROR_RATIO: str(error_ratio)}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="registry.example/app:1")]),
            ),
        ),
    )


def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout}s: {what}")


def test_fake_nodes_run_deployments(api_client: client.ApiClient, namespace: str, testbed_state: TestBedState) -> None:
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, deployment("web", 0.001))
    kubectl(testbed_state, "-n", namespace, "rollout", "status", "deployment/web", "--timeout=60s")
    pods = client.CoreV1Api(api_client).list_namespaced_pod(namespace).items
    assert len(pods) == 3
    assert all(pod.spec.node_name.startswith("kwok-node-") for pod in pods)


def test_bad_rollout_raises_error_rate_and_undo_lowers_it(
    api_client: client.ApiClient, namespace: str, testbed_state: TestBedState, prometheus: PrometheusQuery
) -> None:
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("checkout", 0.001))
    kubectl(testbed_state, "-n", namespace, "rollout", "status", "deployment/checkout", "--timeout=60s")
    selector = f'namespace="{namespace}",deployment="checkout"'
    errors = f'sum(rate(http_requests_total{{{selector},code=~"5.."}}[5s]))'
    error_ratio = f"{errors} / sum(rate(http_requests_total{{{selector}}}[5s]))"

    def ratio_between(low: float, high: float) -> Callable[[], bool]:
        def check() -> bool:
            value = prometheus.scalar(error_ratio)
            return value is not None and low <= value <= high

        return check

    eventually(ratio_between(0.0, 0.005), 30, "a healthy error rate before the hotfix")
    apps.patch_namespaced_deployment(
        "checkout", namespace, {"spec": {"template": {"metadata": {"annotations": {ERROR_RATIO: "0.05"}}}}}
    )
    kubectl(testbed_state, "-n", namespace, "rollout", "status", "deployment/checkout", "--timeout=60s")
    eventually(ratio_between(0.04, 0.06), 30, "the bad rollout's 5% error rate in Prometheus")
    kubectl(testbed_state, "-n", namespace, "rollout", "undo", "deployment/checkout")
    kubectl(testbed_state, "-n", namespace, "rollout", "status", "deployment/checkout", "--timeout=60s")
    eventually(ratio_between(0.0, 0.005), 30, "the error rate back down after the undo")


def test_declared_p95_latency_reaches_prometheus(
    api_client: client.ApiClient, namespace: str, testbed_state: TestBedState, prometheus: PrometheusQuery
) -> None:
    slow = deployment("search", 0.001)
    slow.spec.template.metadata.annotations["simulator.hotfix.dev/p95-ms"] = "1800"
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, slow)
    kubectl(testbed_state, "-n", namespace, "rollout", "status", "deployment/search", "--timeout=60s")
    p95 = (
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
        f'{{namespace="{namespace}",deployment="search"}}[5s])))'
    )

    def slow_enough() -> bool:
        value = prometheus.scalar(p95)
        return value is not None and 1.5 <= value <= 2.0

    eventually(slow_enough, 30, "a p95 in the 1.5s-2s bucket for a declared 1800 ms")
