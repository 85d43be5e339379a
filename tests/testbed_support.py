"""Helpers shared by the tests that run on the real test bed."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from kubernetes import client, utils

from hotfix_operator.testbed.cluster import kubectl_binary
from hotfix_operator.testbed.processes import wait_until
from hotfix_operator.testbed.stack import TestBedState

REPO = Path(__file__).resolve().parents[1]
CRD_PATH = REPO / "crds" / "hotfix.yaml"
POLICY_CRD_PATH = REPO / "crds" / "hotfixpolicy.yaml"


def kubectl(state: TestBedState, *args: str) -> str:
    """The real kubectl against the test bed; a failure raises with its stderr."""
    completed = subprocess.run(
        [kubectl_binary(), f"--kubeconfig={state.kubeconfig}", *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {completed.stderr.strip()}")
    return completed.stdout


class PrometheusQuery:
    """A minimal instant-query helper for tests that check what Prometheus scraped."""

    def __init__(self, url: str) -> None:
        self.url = url

    def scalar(self, expression: str) -> float | None:
        query = urllib.parse.urlencode({"query": expression})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=5) as response:
            result = json.loads(response.read())["data"]["result"]
        return float(result[0]["value"][1]) if result else None


# The prometheus-operator's PrometheusRule kind, for the tests that publish the window's alert rules.
PROMETHEUS_RULE_CRD_PATH = Path(__file__).resolve().parent / "fixtures" / "prometheusrule-crd.yaml"


def install_crd(api_client: client.ApiClient, path: Path | None = None) -> None:
    """Install a CRD (idempotently) and wait until the API server serves it; by default the project's own
    two, Hotfix and HotfixPolicy (the operator watches both)."""
    if path is None:
        for own in (CRD_PATH, POLICY_CRD_PATH):
            install_crd(api_client, own)
        return
    document = yaml.safe_load(path.read_text())
    try:
        utils.create_from_dict(api_client, document)
    except utils.FailToCreateError as error:
        if not all(e.status == 409 for e in error.api_exceptions):
            raise
    extensions = client.ApiextensionsV1Api(api_client)

    def established() -> bool:
        crd = extensions.read_custom_resource_definition(document["metadata"]["name"])
        return any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or []))

    wait_until(established, timeout=30, what=f"the CRD {document['metadata']['name']} to be established")
