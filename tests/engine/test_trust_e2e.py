"""Creating a Hotfix gives no one more than they have: Prometheus endpoints by name only."""

from __future__ import annotations

from hotfix_operator.testbed.operator_process import OperatorProcess
from operator_support import FIXED_IMAGE, GOOD_IMAGE, Cluster, hotfix_manifest


def test_unknown_prometheus_endpoint_fails_naming_the_field(
    running_operator: OperatorProcess, cluster: Cluster
) -> None:
    cluster.create_deployment("wallet")
    body = hotfix_manifest("wallet-fix", ["wallet"], FIXED_IMAGE)
    body["spec"]["analysis"]["prometheus"] = "attacker"
    cluster.apply_hotfix(body)
    status = cluster.wait_phase("wallet-fix", "Failed", "Monitoring", "RolledBack", "Stable")
    assert status["phase"] == "Failed", status
    succeeded = next(c for c in status["conditions"] if c["type"] == "Succeeded")
    assert succeeded["reason"] == "UnknownPrometheus"
    assert succeeded["message"].startswith(
        'spec.analysis.prometheus: the operator has no Prometheus endpoint "attacker"'
    )
    assert "default, secondary" in succeeded["message"]
    # Nothing was rolled out, nothing was queried on the Hotfix's behalf.
    assert cluster.image("wallet") == GOOD_IMAGE
    assert not status.get("targets")
