"""Helpers of the real-pod suite: Deployments of the test application on the real node, and their Services."""

from __future__ import annotations

import copy
from typing import Any

from kubernetes import client

from hotfix_operator.testbed.app_images import app_image
from hotfix_operator.testbed.real_node import REAL_NODE_TAINT
from operator_support import FAST_ANALYSIS, hotfix_manifest

# Real pods start in a second or two and are scraped every second: the analysis reads what they export.
REAL_ANALYSIS = copy.deepcopy(FAST_ANALYSIS) | {"telemetry": "kube-prometheus"}
REAL_ANALYSIS["crashFreeSessions"] = {"source": "restarts", "min": 0.98, "over": "10s", "minSessions": 0}


def real_deployment(name: str, tag: str = "1.0", replicas: int = 2, **container: Any) -> dict[str, Any]:
    """The test application on the real node: scraped by Prometheus, probed for readiness by the kubelet."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
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
        "metadata": {"name": name, "labels": {"hotfix.dev/load": "true"}},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }


def real_hotfix(name: str, deployment: str, tag: str | None, **spec: Any) -> dict[str, Any]:
    """A Hotfix rolling out ``tag``; None: observe mode, watching a change someone else applies."""
    body = hotfix_manifest(name, [deployment], app_image(tag) if tag else None, **spec)
    body["spec"]["analysis"] = copy.deepcopy(REAL_ANALYSIS) | spec.get("analysis", {})
    return body


def create_served(api_client: client.ApiClient, namespace: str, name: str, tag: str = "1.0", **kwargs: Any) -> None:
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, real_deployment(name, tag, **kwargs))
    client.CoreV1Api(api_client).create_namespaced_service(namespace, load_service(name))
