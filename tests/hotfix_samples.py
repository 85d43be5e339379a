"""Hotfix objects as the API server returns them, for the tests of what people read (report, status)."""

from __future__ import annotations

from typing import Any


def rolled_back_hotfix() -> dict[str, Any]:
    return {
        "metadata": {"name": "auth-fix", "namespace": "prod", "creationTimestamp": "2026-11-22T10:00:00Z"},
        "spec": {"incident": {"id": "INC-7", "severity": "SEV1"}, "targets": [{"deployment": "auth-api"}]},
        "status": {
            "phase": "RolledBack",
            "targets": [
                {"deployment": "auth-api", "baselineRevision": 4, "baselineReplicaSet": "a-1", "hotfixRevision": 5}
            ],
            "decision": {
                "action": "rollback",
                "rule": "root-cause-unknown",
                "reason": "a threshold is breached",
                "at": "2026-11-22T10:06:00Z",
            },
            "lastAnalysis": {
                "at": "2026-11-22T10:06:00Z",
                "result": "breached",
                "summary": "error rate above 1%",
                "metrics": {
                    "prod/auth-api": [
                        {
                            "metric": "errorRate",
                            "state": "breached",
                            "value": 0.05,
                            "threshold": 0.01,
                            "reason": "error rate above 1.00%",
                        }
                    ]
                },
            },
            "conditions": [
                {
                    "type": "Succeeded",
                    "status": "False",
                    "reason": "RolledBack",
                    "message": "m",
                    "lastTransitionTime": "2026-11-22T10:07:00Z",
                }
            ],
            "timeline": [
                {"at": "2026-11-22T10:00:01Z", "type": "BaselineRecorded", "message": "auth-api@4"},
                {"at": "2026-11-22T10:00:02Z", "type": "RolloutStarted", "message": "auth-api: set app=x | y"},
                {
                    "at": "2026-11-22T10:06:00Z",
                    "type": "Decision",
                    "rule": "root-cause-unknown",
                    "message": "rollback: a threshold is breached; error rate 5.00%",
                },
                {"at": "2026-11-22T10:06:01Z", "type": "RollbackPatched", "message": "auth-api: undo to revision 4"},
                {"at": "2026-11-22T10:07:30Z", "type": "RolledBack", "message": "recovered"},
            ],
        },
    }


def held_by_flux(hotfix: dict[str, Any], resumed: bool = False) -> dict[str, Any]:
    status = hotfix["status"]
    status["rollbackCompletedAt"] = "2026-11-22T10:06:30Z"
    status["targets"][0]["revert"] = [
        {"field": "spec.template.spec.containers[app].image", "bad": "auth:1.1", "restored": "auth:1.0", "judged": True}
    ]
    hold = {"kind": "Kustomization", "namespace": "flux-system", "name": "apps", "deployments": ["auth-api"],
            "previous": False, "heldAt": "2026-11-22T10:06:01Z"}  # fmt: skip
    if resumed:
        hold |= {"resumedAt": "2026-11-22T11:00:00Z", "resumedBy": "git"}
    status["gitops"] = [hold]
    return hotfix
