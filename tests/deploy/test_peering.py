"""Two operators sharing a peering object: only the higher priority acts, so nothing happens twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from kubernetes import client

from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import wait_until
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import BAD_IMAGE, FIXED_IMAGE, GOOD_IMAGE, Cluster, hotfix_manifest
from testbed_support import REPO, kubectl


@pytest.fixture
def peering_object(testbed_state: TestBedState) -> None:
    kubectl(testbed_state, "apply", "-f", str(REPO / "deploy" / "peering.yaml"))
    kubectl(testbed_state, "wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev")
    kubectl(testbed_state, "apply", "-f", str(REPO / "deploy" / "peering-object.yaml"))


@pytest.fixture
def peered_operators(
    testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None, peering_object: None
) -> Iterator[tuple[OperatorProcess, OperatorProcess]]:
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


def _set_peer(api_client: client.ApiClient, identity: str, entry: dict[str, object] | None) -> None:
    client.CustomObjectsApi(api_client).patch_cluster_custom_object(
        "kopf.dev", "v1", "clusterkopfpeerings", "hotfix-operator", {"status": {identity: entry}}
    )


def _wait_start_up_lines(operator: OperatorProcess, count: int) -> None:
    """The start-up's lines come out once Kopf's logging is set up, after its steps (engine/boot.py)."""
    wait_until(
        lambda: operator.log_path.read_text().count("first steps at start-up for 1 Hotfixes") == count,
        timeout=10,
        what=f"start-up steps logged {count} times",
    )


def test_a_replica_alone_in_its_peering_steps_new_hotfixes_at_start_up_and_one_beside_a_live_peer_waits(
    testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None, peering_object: None,
    api_client: client.ApiClient, namespace: str,
) -> None:  # fmt: skip
    """The start-up steps under peering: only when no other replica is live in the peering object, whatever
    its priority (a lower one acts until it sees this one); otherwise Kopf's peering and listing decide. With
    its pod's name as its identity, a replica killed and started again is not its own peer."""
    cluster = Cluster(api_client, namespace)
    operator = OperatorProcess(
        testbed_state.kubeconfig, testbed_state.prometheus_url, testbed.work_dir / "peering-start-up.log",
        extra_args=("--peering", "hotfix-operator"), env={"POD_ID": "hotfix-operator-7d9c-x2x4q"},
    )  # fmt: skip
    for name in ("api", "web", "cart"):
        cluster.create_deployment(name)
    cluster.apply_hotfix(hotfix_manifest("api-fix", ["api"], FIXED_IMAGE, approval={"required": True}))
    operator.start()
    try:
        cluster.wait_phase("api-fix", "AwaitingApproval", timeout=30)
        _wait_start_up_lines(operator, 1)
        # SIGKILL leaves its keep-alive in the peering object for a minute: the same pod's next process
        # is the same replica, and steps at once.
        operator.kill()
        cluster.apply_hotfix(hotfix_manifest("web-fix", ["web"], FIXED_IMAGE, approval={"required": True}))
        operator.start()
        cluster.wait_phase("web-fix", "AwaitingApproval", timeout=30)
        _wait_start_up_lines(operator, 2)
        operator.stop()
        # A debug run of lower priority, live: Kopf lets this replica act, but the other one acts too until it
        # sees this one's keep-alive, so no step is taken before Kopf's own peering has been read.
        seen = datetime.now(UTC).isoformat()
        _set_peer(api_client, "debug-run@laptop", {"priority": -1, "lifetime": 60, "lastseen": seen})
        cluster.apply_hotfix(hotfix_manifest("cart-fix", ["cart"], FIXED_IMAGE, approval={"required": True}))
        operator.start()
        cluster.wait_phase("cart-fix", "AwaitingApproval", timeout=60)
        log = operator.log_path.read_text()
        assert "other replicas live in the peering hotfix-operator: debug-run@laptop" in log
        assert log.count("first steps at start-up for") == 2
    finally:
        operator.stop()
        _set_peer(api_client, "debug-run@laptop", None)
