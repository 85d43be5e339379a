"""The postmortem draft and the plugin's table, from a Hotfix as the operator leaves it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hotfix_operator.cli.kubectl_plugin import status_detail, status_table
from hotfix_operator.report.postmortem import postmortem_markdown


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


def test_postmortem_has_every_section_with_the_facts() -> None:
    report = postmortem_markdown(rolled_back_hotfix())
    for heading in ("## Summary", "## Timeline", "## Alert triggers", "## Remediation actions", "## Follow-ups"):
        assert heading in report
    assert "**Severity:** SEV1" in report
    assert "**Start:** 2026-11-22 10:00:00 UTC" in report
    assert "**End:** 2026-11-22 10:07:30 UTC" in report
    assert "**Duration:** 7m30s" in report
    assert "auth-api (revision 4 -> 5)" in report
    assert "errorRate = 0.05 (threshold 0.01)" in report
    assert "RollbackPatched: auth-api: undo to revision 4" in report
    assert "x \\| y" in report  # table cells escape pipes
    assert "root cause of the regression" in report


def test_postmortem_of_a_hotfix_in_flight() -> None:
    hotfix = rolled_back_hotfix()
    hotfix["status"] = {"phase": "Monitoring", "timeline": []}
    report = postmortem_markdown(hotfix)
    assert "**Duration:** ongoing" in report
    assert "No threshold was breached." in report


def test_status_table_and_detail() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    table = status_table([rolled_back_hotfix()], now).splitlines()
    assert table[0].split() == ["NAME", "PHASE", "SEVERITY", "INCIDENT", "DECISION", "ANALYSIS", "AGE"]
    assert table[1].split() == ["auth-fix", "RolledBack", "SEV1", "INC-7", "root-cause-unknown", "breached", "2h"]
    detail = status_detail(rolled_back_hotfix(), now)
    assert "Decision: rollback (root-cause-unknown)" in detail
    assert "RollbackPatched" in detail


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


def test_the_change_to_revert_and_the_held_owner_are_in_the_report_and_the_status() -> None:
    hotfix = held_by_flux(rolled_back_hotfix())
    markdown = postmortem_markdown(hotfix)
    assert "## Git" in markdown
    assert "- `auth-api` spec.template.spec.containers[app].image: auth:1.1 -> auth:1.0" in markdown
    assert "Kustomization flux-system/apps (auth-api): held since" in markdown
    assert "`kubectl hotfix resume auth-fix`" in markdown
    assert "- [ ] Revert the rolled-back change in Git: auth-api: spec.template" in markdown
    detail = status_detail(hotfix, datetime(2026, 11, 22, 10, 10, tzinfo=UTC))
    assert "auth-api  spec.template.spec.containers[app].image: auth:1.1 -> auth:1.0" in detail
    assert "kubectl hotfix resume auth-fix" in detail
    resumed = status_detail(held_by_flux(rolled_back_hotfix(), resumed=True), datetime(2026, 11, 22, 12, tzinfo=UTC))
    assert "given back at 2026-11-22T11:00:00Z (git)" in resumed


def test_no_git_section_without_a_change_to_revert() -> None:
    assert "## Git" not in postmortem_markdown(rolled_back_hotfix())
