"""kubectl's undo and status algorithms as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from hotfix_operator.kube.rollouts import (
    REVISION_ANNOTATION,
    DeploymentPaused,
    NoRevisionHistory,
    RevisionNotFound,
    RolloutFailed,
    RolloutInProgress,
    UnknownContainer,
    check_can_record,
    current_revision,
    find_revision,
    image_patch,
    images_applied,
    label_selector,
    revision_history,
    rollout_status,
    templates_equal,
    undo_patch,
)

UID = "uid-1"


def template(image: str, pod_hash: str | None = None) -> dict[str, Any]:
    labels = {"app": "web"} | ({"pod-template-hash": pod_hash} if pod_hash else {})
    return {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": image}]}}


def deployment(image: str = "app:3", **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "namespace": "prod",
            "uid": UID,
            "resourceVersion": "42",
            "generation": 3,
            "annotations": {
                REVISION_ANNOTATION: "3",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "team": "payments",
            },
        },
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template(image), **extra},
        "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
    }


def replica_set(revision: str, image: str, owner: str = UID, created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"web-{image.replace(':', '-').replace('.', '')}",
            "creationTimestamp": created,
            "annotations": {REVISION_ANNOTATION: revision, "kubernetes.io/change-cause": f"deploy {image}"},
            "ownerReferences": [{"controller": True, "uid": owner, "kind": "Deployment"}],
        },
        "spec": {"template": template(image, pod_hash=f"h{revision}")},
    }


HISTORY = [replica_set("1", "app:1"), replica_set("2", "app:2"), replica_set("3", "app:3")]


def test_history_keeps_only_owned_and_parsable_revisions() -> None:
    others = [replica_set("9", "app:9", owner="other"), replica_set("x", "app:x")]
    assert [r.number for r in revision_history(deployment(), HISTORY + others)] == [1, 2, 3]


def test_current_revision_is_the_one_matching_the_template_ignoring_hash() -> None:
    assert current_revision(deployment("app:2"), HISTORY).number == 2


def test_current_revision_before_the_controller_caught_up() -> None:
    with pytest.raises(RolloutInProgress):
        current_revision(deployment("app:new"), HISTORY)


def test_templates_equal_ignores_only_the_hash() -> None:
    assert templates_equal(template("a", "h1"), template("a", "h2"))
    assert not templates_equal(template("a"), template("b"))


@pytest.mark.parametrize(("number", "expected"), [(0, 2), (1, 1), (3, 3)])
def test_find_revision(number: int, expected: int) -> None:
    assert find_revision(deployment(), HISTORY, number).number == expected


def test_find_revision_by_recorded_replica_set_survives_renumbering() -> None:
    renumbered = [replica_set("4", "app:1"), *HISTORY[1:]]
    assert find_revision(deployment(), renumbered, 1, "web-app-1").number == 4


def test_find_revision_errors() -> None:
    with pytest.raises(RevisionNotFound, match="kept: 1, 2, 3"):
        find_revision(deployment(), HISTORY, 7)
    with pytest.raises(NoRevisionHistory):
        find_revision(deployment(), HISTORY[:1], 0)
    with pytest.raises(RevisionNotFound):
        find_revision(deployment(), HISTORY, -1)


def test_undo_patch_follows_kubectl_annotation_rules_and_guards_the_version() -> None:
    patch = undo_patch(deployment(), find_revision(deployment(), HISTORY, 1))
    assert patch[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "42"}
    assert patch[1]["value"] == template("app:1")  # no pod-template-hash
    annotations = patch[2]["value"]
    # kept from the Deployment: the skip-listed keys; copied from the ReplicaSet: everything else.
    assert annotations[REVISION_ANNOTATION] == "3"
    assert annotations["kubectl.kubernetes.io/last-applied-configuration"] == "{}"
    assert annotations["kubernetes.io/change-cause"] == "deploy app:1"
    # a Deployment annotation neither skip-listed nor on the ReplicaSet is dropped, as kubectl does.
    assert "team" not in annotations


def test_check_can_record() -> None:
    check_can_record(deployment())
    with pytest.raises(DeploymentPaused):
        check_can_record(deployment(paused=True))
    with pytest.raises(NoRevisionHistory):
        check_can_record(deployment(revisionHistoryLimit=0))


def test_image_patch_and_unknown_container() -> None:
    patch = image_patch(deployment(), {"app": "app:hotfix"})
    assert patch == [
        {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "app"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "app:hotfix"},
    ]
    with pytest.raises(UnknownContainer, match=r"no container named sidecar \(it has: app\)"):
        image_patch(deployment(), {"app": "x", "sidecar": "y"})
    assert images_applied(deployment("app:3"), {"app": "app:3"})
    assert not images_applied(deployment("app:3"), {"app": "app:4"})


def test_label_selector_with_expressions() -> None:
    dep = deployment()
    dep["spec"]["selector"] = {
        "matchLabels": {"app": "web", "tier": "api"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "staging"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "team", "operator": "Exists"},
            {"key": "zone", "operator": "NotIn", "values": ["b"]},
        ],
    }
    assert label_selector(dep) == "app=web,tier=api,env in (prod,staging),!canary,team,zone notin (b)"


def _with_status(**status: Any) -> dict[str, Any]:
    dep = deployment()
    dep["status"] = {"observedGeneration": 3, **status}
    return dep


@pytest.mark.parametrize(
    ("status", "done", "message"),
    [
        ({"observedGeneration": 2}, False, "spec update to be observed"),
        ({"updatedReplicas": 1, "replicas": 2}, False, "1 out of 2 new replicas"),
        ({"updatedReplicas": 2, "replicas": 3}, False, "1 old replicas are pending termination"),
        ({"updatedReplicas": 2, "replicas": 2, "availableReplicas": 1}, False, "1 of 2 updated replicas are available"),
        ({"updatedReplicas": 2, "replicas": 2, "availableReplicas": 2}, True, "successfully rolled out"),
    ],
)
def test_rollout_status(status: dict[str, Any], done: bool, message: str) -> None:
    result = rollout_status(_with_status(**status))
    assert result.done is done
    assert message in result.message


def test_rollout_status_past_the_progress_deadline_fails() -> None:
    dep = _with_status(
        conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "slow"}]
    )
    with pytest.raises(RolloutFailed, match="exceeded its progress deadline"):
        rollout_status(dep)
