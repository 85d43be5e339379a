"""Helpers of the real-pod suite: its Hotfixes, and Deployments of the test application served on the real node."""

from __future__ import annotations

import copy
from typing import Any

from kubernetes import client

from hotfix_operator.testbed.app_images import app_image
from hotfix_operator.testbed.real_workloads import load_service, real_deployment
from operator_support import FAST_ANALYSIS, hotfix_manifest

# Real pods start in a second or two and are scraped every second: the analysis reads what they export.
REAL_ANALYSIS = copy.deepcopy(FAST_ANALYSIS) | {"telemetry": "kube-prometheus"}
REAL_ANALYSIS["crashFreeSessions"] = {"source": "restarts", "min": 0.98, "over": "10s", "minSessions": 0}


def real_hotfix(name: str, deployment: str, tag: str | None, **spec: Any) -> dict[str, Any]:
    """A Hotfix rolling out ``tag``; None: observe mode, watching a change someone else applies."""
    body = hotfix_manifest(name, [deployment], app_image(tag) if tag else None, **spec)
    body["spec"]["analysis"] = copy.deepcopy(REAL_ANALYSIS) | spec.get("analysis", {})
    return body


def create_served(api_client: client.ApiClient, namespace: str, name: str, tag: str = "1.0", **kwargs: Any) -> None:
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, real_deployment(name, tag, **kwargs))
    client.CoreV1Api(api_client).create_namespaced_service(namespace, load_service(name))
