"""What kubectl hotfix status prints: the table, and one Hotfix as a tree with the next step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hotfix_operator.cli.status_view import TargetFacts, next_step, status_detail, status_table
from hotfix_samples import held_by_flux, rolled_back_hotfix

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BERLIN = timezone(timedelta(hours=1), "CET")


def replica_set(name: str, revision: int, image: str, replicas: int, ready: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"pod-template-hash": name.rsplit("-", 1)[-1]},
                     "annotations": {"deployment.kubernetes.io/revision": str(revision)}},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
        "status": {"readyReplicas": ready},
    }  # fmt: skip


def pod(name: str, template_hash: str, ready: bool, restarts: int = 0, waiting: str | None = None) -> dict[str, Any]:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "metadata": {"name": name, "labels": {"pod-template-hash": template_hash}},
        "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": ready,
                                                              "restartCount": restarts, "state": state}]},
    }  # fmt: skip


def facts() -> dict[str, TargetFacts]:
    return {
        "auth-api": TargetFacts(
            deployment={"metadata": {"annotations": {"deployment.kubernetes.io/revision": "6"}}},
            replica_sets=[
                replica_set("auth-api-a1", 6, "registry.example/auth:1.0", 2, 2),
                replica_set("auth-api-b2", 5, "registry.example/auth:1.1", 0, 0),
                replica_set("auth-api-c3", 2, "registry.example/auth:0.9", 0, 0),
            ],
            pods=[pod("auth-api-a1-x", "a1", True), pod("auth-api-a1-y", "a1", False, 3, "CrashLoopBackOff")],
        )
    }


def test_the_table_has_targets_images_and_says_the_analysis_is_of_the_restored_version() -> None:
    hotfix = held_by_flux(rolled_back_hotfix())
    hotfix["spec"]["targets"][0]["images"] = {"app": "registry.example/auth:1.1"}
    table = status_table([hotfix], NOW).splitlines()
    assert table[0].split() == ["NAME", "PHASE", "SEVERITY", "INCIDENT", "TARGETS", "DECISION", "ANALYSIS", "AGE"]
    assert table[1].split() == ["auth-fix", "RolledBack", "SEV1", "INC-7", "auth-api=auth:1.1", "root-cause-unknown",
                                "breached", "2h"]  # fmt: skip
    # An analysis made after the undo is about the restored version, and says so.
    hotfix["status"]["lastAnalysis"] |= {"at": "2026-11-22T10:07:00Z", "result": "healthy"}
    assert "healthy (restored)" in status_table([hotfix], NOW)
    wide = status_table([hotfix], NOW, all_namespaces=True).splitlines()
    assert wide[0].startswith("NAMESPACE") and wide[1].startswith("prod")


def test_a_guard_without_images_shows_what_changed() -> None:
    hotfix = held_by_flux(rolled_back_hotfix())
    assert "auth-api=auth:1.1" in status_table([hotfix], NOW)


def test_the_tree_shows_revisions_replica_sets_pods_thresholds_and_the_next_step() -> None:
    hotfix = held_by_flux(rolled_back_hotfix())
    hotfix["status"]["targets"][0] |= {"hotfixReplicaSet": "auth-api-b2", "baselineReplicaSet": "auth-api-c3",
                                       "undoneToRevision": 6}  # fmt: skip
    tree = status_detail(hotfix, facts(), NOW, BERLIN)
    lines = tree.splitlines()
    assert "deployment/auth-api  revisions 4 -> 5 -> 6 (restored); now at 6" in tree
    assert "changed spec.template.spec.containers[app].image: auth:1.1 -> auth:1.0" in tree
    rs_lines = [line.strip() for line in lines if "ReplicaSet " in line]
    assert rs_lines[0].startswith("├── ReplicaSet auth-api-a1  revision 6  auth:1.0  2/2 ready")
    assert rs_lines[1].startswith("├── ReplicaSet auth-api-b2  revision 5 [hotfix]  auth:1.1  0/0 ready")
    assert rs_lines[2].startswith("└── ReplicaSet auth-api-c3  revision 2 [baseline]")
    assert "    │   ├── ✔ auth-api-a1-x  Running, ready, restarts 0" in lines
    assert any("✖ auth-api-a1-y  CrashLoopBackOff, not ready, restarts 3" in line for line in lines)
    assert "✖ prod/auth-api  error rate: error rate above 1.00%" in tree
    # Times in the reader's zone, to the second; the tools' kstatus conditions left out.
    assert "Decision: rollback (root-cause-unknown) at 2026-11-22 11:06:00 CET" in tree
    assert next(line.split()[:4] for line in lines if "RollbackPatched" in line) == [
        "2026-11-22",
        "11:06:01",
        "CET",
        "RollbackPatched",
    ]
    assert "Stalled" not in tree and "Succeeded" in tree
    assert "Change to revert in Git (rolled back -> restored):" in tree
    assert "Kustomization flux-system/apps (auth-api): held since 2026-11-22 11:06:01 CET" in tree
    assert (
        lines[-1]
        == "Next: Git still holds the rolled-back version: revert it (see above), then kubectl hotfix resume auth-fix"
    )


def test_a_target_that_cannot_be_read_is_shown_without_its_pods() -> None:
    tree = status_detail(rolled_back_hotfix(), {}, NOW, UTC)
    assert "deployment/auth-api  revisions 4 -> 5; now at ?" in tree


def test_next_step_for_each_situation() -> None:
    def hotfix(phase: str, **status: Any) -> dict[str, Any]:
        return {"metadata": {"name": "h"}, "status": {"phase": phase, **status}}

    assert next_step(hotfix("AwaitingApproval"), UTC) == "waiting for approval: kubectl hotfix approve h"
    assert "to roll back now: kubectl hotfix rollback h" in next_step(hotfix("Monitoring"), UTC)
    pending = hotfix("Monitoring", decision={"pendingConfirmation": True})
    assert next_step(pending, UTC).startswith("a rollback waits for you: kubectl hotfix rollback h")
    escalated = hotfix("Escalated", conditions=[{"type": "Succeeded", "reason": "RollbackFailed", "message": "m"}])
    assert next_step(escalated, UTC) == "a person must act (RollbackFailed: m); the timeline: kubectl hotfix report h"
    assert next_step(hotfix("Stable"), UTC) == "nothing: merge the hotfix back to the main line"
    resumed = held_by_flux(rolled_back_hotfix(), resumed=True)
    assert next_step(resumed, UTC).startswith("find the root cause")


def test_ctrl_c_ends_a_watch_quietly(monkeypatch: Any) -> None:
    import io

    from hotfix_operator.cli import kubectl_plugin

    def interrupted(*_: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(kubectl_plugin, "client_and_namespace", lambda *_: (object(), "shop"))
    monkeypatch.setattr(kubectl_plugin.Plugin, "list", lambda self: [])
    monkeypatch.setattr(kubectl_plugin, "follow", interrupted)
    out, err = io.StringIO(), io.StringIO()
    assert kubectl_plugin.main(["status", "-w"], stdout=out, stderr=err) == 130
    assert out.getvalue() == "No Hotfixes in namespace shop. Every namespace: kubectl hotfix status -A\n"
    assert err.getvalue() == ""
