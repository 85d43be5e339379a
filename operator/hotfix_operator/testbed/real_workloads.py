"""Workloads for the real node: Deployments of the test application and the Services that bring traffic.

Used by the real-pod tests and by ``make demo`` on a machine that can run the real node.
"""

from __future__ import annotations

from typing import Any

from hotfix_operator.testbed.app_images import app_image
from hotfix_operator.testbed.loadgen import LOAD_LABEL
from hotfix_operator.testbed.real_node import REAL_NODE_TAINT


def real_deployment(
    name: str, tag: str = "1.0", replicas: int = 2, labels: dict[str, str] | None = None, **container: Any
) -> dict[str, Any]:
    """The test application on the real node: scraped by Prometheus, probed for readiness by the kubelet."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": {"prometheus.io/scrape": "true"}},
                "spec": {
                    "nodeSelector": {"type": "real"},
                    "tolerations": [{**REAL_NODE_TAINT, "operator": "Equal"}],
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "app",
                            "image": app_image(tag),
                            "imagePullPolicy": "IfNotPresent",
                            # A crashed container's last log lines become its termination message.
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {
                                "httpGet": {"path": "/readyz", "port": 8080},
                                "periodSeconds": 1,
                                "failureThreshold": 1,
                            },
                            **container,
                        }
                    ],
                },
            },
        },
    }


def load_service(name: str) -> dict[str, Any]:
    """A Service for the Deployment: the load generator sends to its Ready endpoints."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {LOAD_LABEL: "true"}},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }
