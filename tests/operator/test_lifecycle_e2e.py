"""The operator end to end: real control plane, real Prometheus, the simulator, windows in seconds."""

from __future__ import annotations

from operator_support import BAD_IMAGE, GOOD_IMAGE, Cluster, OperatorProcess, hotfix_manifest


def test_bad_hotfix_is_rolled_back_automatically(running_operator: OperatorProcess, cluster: Cluster) -> None:
    cluster.create_deployment("auth-api")
    cluster.apply_hotfix(hotfix_manifest("auth-fix", ["auth-api"], BAD_IMAGE))
    status = cluster.wait_phase("auth-fix", "RolledBack", "Escalated", "Failed")
    assert status["phase"] == "RolledBack", status
    assert status["decision"]["rule"] == "root-cause-unknown"
    assert status["decision"]["action"] == "rollback"
    assert cluster.image("auth-api") == GOOD_IMAGE
    # 1: the original, 2: the hotfix, 3: the undo (the controller renumbers the restored ReplicaSet).
    assert cluster.revision("auth-api") == 3
    [target] = status["targets"]
    assert (target["baselineRevision"], target["hotfixRevision"]) == (1, 2)
    reasons = cluster.event_reasons("auth-fix")
    for reason in ("BaselineRecorded", "RolloutStarted", "RolledOut", "Decision", "RollbackPatched", "RolledBack"):
        assert reason in reasons, reasons
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Succeeded"]["reason"] == "RolledBack"
    assert conditions["Healthy"]["status"] == "True"
