"""At steady Monitoring the status is not rewritten for each analysis: a write is an etcd write and a watch
event for every client. What a person needs (a spec change observed, a decision) is written at once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import wait_until
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import FIXED_IMAGE, Cluster, hotfix_manifest


@pytest.fixture
def default_operator(testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None) -> Iterator[OperatorProcess]:
    """The operator with its default detail period (60 s)."""
    process = OperatorProcess(testbed_state.kubeconfig, testbed_state.prometheus_url, testbed.work_dir / "writes.log")
    process.start()
    yield process
    process.stop()


def test_steady_monitoring_writes_nothing_until_something_changes(
    default_operator: OperatorProcess, cluster: Cluster
) -> None:
    cluster.create_deployment("books")
    cluster.apply_hotfix(hotfix_manifest("books-fix", ["books"], FIXED_IMAGE, stability={"checkpoints": ["1h"]}))
    cluster.wait_phase("books-fix", "Monitoring")
    wait_until(
        lambda: (cluster.status("books-fix").get("decision") or {}).get("rule") == "healthy",
        timeout=30,
        what="the first healthy decision",
    )
    version = cluster.hotfix("books-fix")["metadata"]["resourceVersion"]
    # Ten analyses at a 1 s interval, all healthy: no write.
    time.sleep(10)
    assert cluster.hotfix("books-fix")["metadata"]["resourceVersion"] == version
    cluster.edit_and_wait_observed("books-fix", timeout=5)


def test_a_hotfix_carries_little_bookkeeping_beside_its_spec_and_status(
    default_operator: OperatorProcess, cluster: Cluster
) -> None:
    """Every Hotfix is held whole in the operator's memory and sent whole at each list (a restart, a relist):
    the status' managedFields entry is one line (an atomic status), and Kopf keeps no diff base on it."""
    cluster.create_deployment("maps")
    cluster.apply_hotfix(hotfix_manifest("maps-fix", ["maps"], FIXED_IMAGE, stability={"checkpoints": ["1h"]}))
    cluster.wait_phase("maps-fix", "Monitoring")
    metadata = cluster.hotfix("maps-fix")["metadata"]
    status_entries = [entry for entry in metadata["managedFields"] if entry.get("subresource") == "status"]
    assert [entry["fieldsV1"] for entry in status_entries] == [{"f:status": {}}]
    assert not [key for key in metadata.get("annotations") or {} if key.startswith("hotfix.dev/")]
