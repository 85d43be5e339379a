"""An operator killed with SIGKILL in each phase resumes without repeating a rollout or an undo."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hotfix_operator.analysis.scheduler import next_boundary
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import wait_until
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import BAD_IMAGE, FIXED_IMAGE, GOOD_IMAGE, Cluster, hotfix_manifest


def _log_lines(operator: OperatorProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in operator.log_path.read_text().splitlines() if line.startswith("{")]


NEXT_PHASE = {"RollingOut": "Monitoring", "Monitoring": "RollingBack", "RollingBack": "RolledBack"}


@pytest.fixture
def restartable_operator(testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None) -> Iterator[OperatorProcess]:
    process = OperatorProcess(testbed_state.kubeconfig, testbed_state.prometheus_url, testbed.work_dir / "restart.log")
    process.start()
    yield process
    process.stop()


@pytest.mark.parametrize(
    "kill_in", [("RollingOut",), ("Monitoring",), ("RollingBack",), ("RollingOut", "Monitoring", "RollingBack")]
)
def test_killed_in_any_phase_resumes_without_repeating(
    restartable_operator: OperatorProcess, cluster: Cluster, kill_in: tuple[str, ...]
) -> None:
    cluster.create_deployment("api")
    hotfix = hotfix_manifest("api-fix", ["api"], BAD_IMAGE)
    # Slow the rollback down so that the kill lands inside RollingBack, not after it.
    hotfix["spec"]["rollback"] = {"timeout": "60s", "verifyFor": "6s"}
    cluster.apply_hotfix(hotfix)
    for phase in kill_in:
        # A phase can pass between two polls; the next one is still a kill mid-flight.
        cluster.wait_phase("api-fix", phase, NEXT_PHASE[phase], timeout=90)
        restartable_operator.kill()
        restartable_operator.start()
    status = cluster.wait_phase("api-fix", "RolledBack", "Escalated", timeout=120)
    assert status["phase"] == "RolledBack", status
    assert cluster.image("api") == GOOD_IMAGE
    deployment = cluster.deployment("api")
    # One rollout and one undo, whatever was killed: generation 1 + 1 + 1, revision 3.
    assert deployment.metadata.generation == 3
    assert cluster.revision("api") == 3
    timeline = cluster.status("api-fix")["timeline"]
    assert [entry["type"] for entry in timeline].count("RolloutStarted") == 1
    # Exactly one entry: the undo itself, or its discovery after a kill between the patch and the status write.
    patched = [entry["message"] for entry in timeline if entry["type"] == "RollbackPatched"]
    assert len(patched) == 1, timeline
    assert "skipped: it already runs" not in patched[0]


def _phase_gauge(operator: OperatorProcess, phase: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(operator.metrics())
        for sample in family.samples
        if sample.name == "hotfix_operator_hotfixes" and sample.labels.get("phase") == phase
    )


def test_a_finished_hotfix_is_counted_after_a_restart_and_forgotten_once_deleted(
    restartable_operator: OperatorProcess, cluster: Cluster
) -> None:
    """No step is left for a finished Hotfix: the operator's initial listing is where a new process meets it."""
    cluster.create_deployment("cart")
    hotfix = hotfix_manifest("cart-fix", ["cart"], GOOD_IMAGE)
    hotfix["spec"]["analysis"]["prometheus"] = "not-configured"
    cluster.apply_hotfix(hotfix)
    assert cluster.wait_phase("cart-fix", "Failed")["conditions"]
    restartable_operator.kill()
    restartable_operator.start()
    wait_until(lambda: _phase_gauge(restartable_operator, "Failed") == 1, timeout=30, what="the Failed Hotfix counted")
    cluster.delete_hotfix("cart-fix")
    wait_until(lambda: _phase_gauge(restartable_operator, "Failed") == 0, timeout=30, what="the deleted one forgotten")


def _analysed_at(cluster: Cluster, name: str) -> float | None:
    at = (cluster.status(name).get("lastAnalysis") or {}).get("at")
    return datetime.fromisoformat(at).timestamp() if at else None


def test_a_boundary_passed_while_no_operator_ran_is_analysed_at_the_restart(
    testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None, cluster: Cluster
) -> None:
    """Every Hotfix is analysed every interval, restarts included: the boundary that passed while the operator
    was down is analysed as soon as it is back, not skipped for the next one."""
    # Every analysis's detail written (a detail period as short as the interval), to read it from the status.
    restartable_operator = OperatorProcess(
        testbed_state.kubeconfig,
        testbed_state.prometheus_url,
        testbed.work_dir / "restart-boundary.log",
        env={"HOTFIX_STATUS_DETAIL_SECONDS": "10"},
    )
    restartable_operator.start()
    try:
        _analysed_after_restart(restartable_operator, cluster)
    finally:
        restartable_operator.stop()


def _analysed_after_restart(restartable_operator: OperatorProcess, cluster: Cluster) -> None:
    cluster.create_deployment("api")
    hotfix = hotfix_manifest("api-fix", ["api"], GOOD_IMAGE)
    hotfix["spec"]["analysis"]["interval"] = "10s"
    cluster.apply_hotfix(hotfix)
    cluster.wait_phase("api-fix", "Monitoring", timeout=90)
    wait_until(lambda: _analysed_at(cluster, "api-fix") is not None, timeout=30, what="a first analysis recorded")
    restartable_operator.kill()
    missed = next_boundary(time.time(), 10)
    time.sleep(missed + 1 - time.time())
    restartable_operator.start()
    wait_until(lambda: (_analysed_at(cluster, "api-fix") or 0) >= missed, timeout=30, what="an analysis after the kill")
    assert _analysed_at(cluster, "api-fix") == missed  # not the boundary after the start


def test_a_hotfix_applied_while_no_operator_ran_is_stepped_at_the_start_up_and_handed_to_its_daemon(
    restartable_operator: OperatorProcess, cluster: Cluster
) -> None:
    """The start-up step of a Hotfix no operator has handled (it comes before Kopf's listing of all others)
    happens once, its Events are posted (held until the daemon takes over), and the daemon goes on from it."""
    cluster.create_deployment("api")
    restartable_operator.kill()
    cluster.apply_hotfix(hotfix_manifest("api-fix", ["api"], FIXED_IMAGE, approval={"required": True}))
    # One that its first step ends: no daemon takes it over, its Event is still posted.
    unknown_endpoint = hotfix_manifest("cart-fix", ["api"], FIXED_IMAGE)
    unknown_endpoint["spec"]["analysis"]["prometheus"] = "not-configured"
    cluster.apply_hotfix(unknown_endpoint)
    # A younger one on the same Deployment: refused, though no watch has told the claims of api-fix yet.
    cluster.apply_hotfix(hotfix_manifest("dup-fix", ["api"], FIXED_IMAGE))
    restartable_operator.start()
    cluster.wait_phase("api-fix", "AwaitingApproval", timeout=30)
    assert cluster.status("cart-fix")["phase"] == "Failed"
    refused = cluster.wait_phase("dup-fix", "Failed", timeout=30)
    assert any(c["reason"] == "TargetInUse" for c in refused["conditions"]), refused
    # The step ran before Kopf's logging was set up (engine/boot.py): its lines come out once it is, as JSON lines
    # naming the Hotfix.
    wait_until(
        lambda: "first steps at start-up for 3 Hotfixes" in restartable_operator.log_path.read_text(),
        timeout=10,
        what="the start-up's lines",
    )
    stepped = [
        line["object"]["name"]
        for line in _log_lines(restartable_operator)
        if line["message"] == "phase - -> Pending" and line["object"]["namespace"] == cluster.namespace
    ]
    assert sorted(stepped) == ["api-fix", "cart-fix", "dup-fix"]
    wait_until(lambda: "BaselineRecorded" in cluster.event_reasons("api-fix"), timeout=30, what="its held Event")
    wait_until(lambda: "Failed" in cluster.event_reasons("cart-fix"), timeout=30, what="the ended one's Event")
    cluster.annotate_hotfix("api-fix", "hotfix.dev/approved-by", "alice")
    cluster.wait_phase("api-fix", "Monitoring", timeout=90)
    assert cluster.timeline_types("api-fix").count("BaselineRecorded") == 1
    assert cluster.event_reasons("api-fix").count("BaselineRecorded") == 1
    assert cluster.deployment("api").metadata.generation == 2  # one rollout
