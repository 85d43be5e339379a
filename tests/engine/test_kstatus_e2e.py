"""What Flux sees: kstatus itself (sigs.k8s.io/cli-utils, built by hack/build-kstatus.sh) on real Hotfix
objects, in every phase. Two are driven there by the operator; the others get the status the operator
writes for their phase (the same pure function), through the status subresource."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

from hotfix_operator.api.models import GROUP, PLURAL, VERSION
from hotfix_operator.api.status import HotfixStatus, Phase, set_condition
from hotfix_operator.rules.lifecycle import kstatus_conditions
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBedState
from operator_support import BAD_IMAGE, FIXED_IMAGE, Cluster, hotfix_manifest
from testbed_support import REPO, kubectl

EXPECTED = {
    "Pending": "InProgress",
    "AwaitingApproval": "InProgress",
    "RollingOut": "InProgress",
    "Monitoring": "InProgress",
    "ForwardFixPending": "InProgress",
    "RollingBack": "InProgress",
    "Stable": "Current",
    "Superseded": "Current",
    "RolledBack": "Failed",
    "Escalated": "Failed",
    "Failed": "Failed",
}


def kstatus(testbed_state: TestBedState, namespace: str) -> dict[str, tuple[str, str]]:
    binary = subprocess.run(
        [str(REPO / "hack" / "build-kstatus.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    listing = kubectl(testbed_state, "-n", namespace, "get", "hotfixes", "-o", "json")
    completed = subprocess.run([binary], input=listing, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    verdicts = {}
    for line in completed.stdout.splitlines():
        key, status, *message = line.split(" ")
        verdicts[key.split("/", 1)[1]] = (status, " ".join(message))
    return verdicts


def written_status(cluster: Cluster, name: str, phase: Phase) -> None:
    body = cluster.hotfix(name)
    now = datetime.now(UTC)
    conditions = set_condition([], "Succeeded", "False", "RollbackFailed", "undo refused", now, 1)
    for type_, status, reason, message in kstatus_conditions(phase, "RollbackFailed", "undo refused"):
        conditions = set_condition(conditions, type_, status, reason, message, now, 1)
    status = HotfixStatus(phase=phase, observed_generation=body["metadata"]["generation"], conditions=conditions)
    cluster.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, cluster.namespace, PLURAL, name, {"status": status.to_api()}
    )


def test_flux_sees_every_phase_as_documented(
    running_operator: OperatorProcess, cluster: Cluster, testbed_state: TestBedState
) -> None:
    cluster.create_deployment("good")
    cluster.create_deployment("bad")
    cluster.apply_hotfix(hotfix_manifest("live-stable", ["good"], FIXED_IMAGE))
    cluster.apply_hotfix(hotfix_manifest("live-rolled-back", ["bad"], BAD_IMAGE))
    assert cluster.wait_phase("live-stable", "Stable", "Escalated")["phase"] == "Stable"
    assert cluster.wait_phase("live-rolled-back", "RolledBack", "Escalated")["phase"] == "RolledBack"
    # Every phase, written while the operator is stopped so that it cannot move them on meanwhile.
    running_operator.stop()
    try:
        for phase in Phase:
            name = f"phase-{phase.value.lower()}"
            cluster.apply_hotfix(hotfix_manifest(name, ["good"], FIXED_IMAGE))
            written_status(cluster, name, phase)
        verdicts = kstatus(testbed_state, cluster.namespace)
    finally:
        running_operator.start()
    assert verdicts["live-stable"][0] == "Current", verdicts
    assert verdicts["live-rolled-back"][0] == "Failed", verdicts
    for phase in Phase:
        assert verdicts[f"phase-{phase.value.lower()}"][0] == EXPECTED[phase.value], (phase, verdicts)
    # A spec edit not yet observed is InProgress, whatever the phase said.
    cluster.patch_hotfix("live-stable", {"spec": {"incident": {"severity": "SEV2"}}})
    assert kstatus(testbed_state, cluster.namespace)["live-stable"][0] == "InProgress"
    print(json.dumps({name: status for name, (status, _) in verdicts.items()}, indent=1))
