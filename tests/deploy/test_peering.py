"""Two operators sharing a peering object: only the higher priority acts, so nothing happens twice."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from kubernetes import client

from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import wait_until
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import BAD_IMAGE, GOOD_IMAGE, Cluster, hotfix_manifest
from testbed_support import REPO, kubectl


@pytest.fixture
def peered_operators(
    testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None
) -> Iterator[tuple[OperatorProcess, OperatorProcess]]:
    kubectl(testbed_state, "apply", "-f", str(REPO / "deploy" / "peering.yaml"))
    kubectl(testbed_state, "wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev")
    kubectl(testbed_state, "apply", "-f", str(REPO / "deploy" / "peering-object.yaml"))

    def replica(priority: int) -> OperatorProcess:
        return OperatorProcess(
            testbed_state.kubeconfig, testbed_state.prometheus_url, testbed.work_dir / f"peer-{priority}.log",
            extra_args=("--peering", "hotfix-operator", "--priority", str(priority)),
        )  # fmt: skip

    high, low = replica(200), replica(100)
    try:
        high.start()
        # A replica that joins a peering with a higher-priority peer in it starts paused.
        low.start()
        yield high, low
    finally:
        low.stop()
        high.stop()


def test_only_the_higher_priority_replica_acts(
    peered_operators: tuple[OperatorProcess, OperatorProcess], api_client: client.ApiClient, namespace: str
) -> None:
    high, low = peered_operators
    cluster = Cluster(api_client, namespace)
    cluster.create_deployment("api")
    cluster.apply_hotfix(hotfix_manifest("api-fix", ["api"], BAD_IMAGE))
    status = cluster.wait_phase("api-fix", "RolledBack", "Escalated")
    assert status["phase"] == "RolledBack", status
    assert cluster.image("api") == GOOD_IMAGE
    assert cluster.deployment("api").metadata.generation == 3  # one rollout, one undo
    time.sleep(2)
    assert "api-fix" in high.log_path.read_text()
    assert "api-fix" not in low.log_path.read_text()
    # Failover: once the active replica is gone (a clean stop leaves the peering), the other takes over.
    high.stop()
    cluster.create_deployment("web")
    cluster.apply_hotfix(hotfix_manifest("web-fix", ["web"], BAD_IMAGE))
    status = cluster.wait_phase("web-fix", "RolledBack", "Escalated")
    assert status["phase"] == "RolledBack", status
    wait_until(lambda: "web-fix" in low.log_path.read_text(), timeout=10, what="the standby to act")
