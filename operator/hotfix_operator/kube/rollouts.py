"""kubectl's rollout algorithms over raw Deployment and ReplicaSet JSON, as pure functions.

``kubectl rollout undo`` and ``kubectl rollout status`` compute everything client-side (there is no
rollback API in apps/v1); this module does the same, so an undo by the operator and one by a person
leave the Deployment in the same state. Raw JSON, not typed models, so no field the client library
does not know is dropped on the way back.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
POD_TEMPLATE_HASH = "pod-template-hash"
# Annotations kubectl keeps from the Deployment on undo instead of copying them from the ReplicaSet.
UNDO_SKIPPED_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION_ANNOTATION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


class DeploymentError(Exception):
    """A Deployment cannot be acted on as asked; the message says what a person can do."""


class DeploymentNotFound(DeploymentError):
    pass


class DeploymentPaused(DeploymentError):
    pass


class NoRevisionHistory(DeploymentError):
    pass


class RevisionNotFound(DeploymentError):
    pass


class UnknownContainer(DeploymentError):
    pass


class RolloutInProgress(DeploymentError):
    pass


class ConcurrentModification(DeploymentError):
    pass


class RolloutFailed(DeploymentError):
    pass


class RolloutTimeout(DeploymentError):
    pass


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return _metadata(obj).get("annotations") or {}


def describe(deployment: dict[str, Any]) -> str:
    return f'deployment "{_metadata(deployment).get("namespace")}/{_metadata(deployment).get("name")}"'


def revision_of(obj: dict[str, Any]) -> int | None:
    """The revision annotation as kubectl reads it: missing is 0, unparsable is None (skipped)."""
    raw = _annotations(obj).get(REVISION_ANNOTATION, "0")
    try:
        return int(raw)
    except ValueError:
        return None


def label_selector(deployment: dict[str, Any]) -> str:
    """``spec.selector`` as a label-selector string for a list call."""
    selector = (deployment.get("spec") or {}).get("selector") or {}
    terms = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif operator == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif operator == "Exists":
            terms.append(key)
        elif operator == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)


def owned_by(replica_set: dict[str, Any], deployment: dict[str, Any]) -> bool:
    uid = _metadata(deployment).get("uid")
    return any(
        reference.get("controller") and reference.get("uid") == uid
        for reference in _metadata(replica_set).get("ownerReferences") or []
    )


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(template or {})
    labels = (template.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(POD_TEMPLATE_HASH, None)
    return template


def templates_equal(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Pod templates equal but for the ``pod-template-hash`` label (kubectl's ``EqualIgnoreHash``)."""
    return _without_hash(first) == _without_hash(second)


@dataclass(frozen=True)
class Revision:
    number: int
    replica_set: dict[str, Any]

    @property
    def template(self) -> dict[str, Any]:
        return (self.replica_set.get("spec") or {}).get("template") or {}

    @property
    def name(self) -> str:
        return str(_metadata(self.replica_set).get("name"))

    @property
    def change_cause(self) -> str | None:
        return _annotations(self.replica_set).get(CHANGE_CAUSE_ANNOTATION)


def revision_history(deployment: dict[str, Any], replica_sets: list[dict[str, Any]]) -> list[Revision]:
    """The Deployment's revisions, oldest first, from the ReplicaSets it controls."""
    revisions = []
    for replica_set in replica_sets:
        if not owned_by(replica_set, deployment):
            continue
        number = revision_of(replica_set)
        if number is not None:
            revisions.append(Revision(number, replica_set))
    return sorted(revisions, key=lambda revision: revision.number)


def current_revision(deployment: dict[str, Any], replica_sets: list[dict[str, Any]]) -> Revision:
    """The revision whose template the Deployment runs now: the rollback target before a hotfix.

    kubectl picks the oldest matching ReplicaSet by creation time; so do we.
    """
    template = (deployment.get("spec") or {}).get("template") or {}
    matching = [
        revision
        for revision in revision_history(deployment, replica_sets)
        if templates_equal(revision.template, template)
    ]
    if not matching:
        raise RolloutInProgress(
            f"{describe(deployment)} has no ReplicaSet for its current template yet; "
            "wait for the deployment controller, then retry"
        )
    matching.sort(key=lambda revision: (_metadata(revision.replica_set).get("creationTimestamp", ""), revision.name))
    return matching[0]


def check_can_record(deployment: dict[str, Any]) -> None:
    """Refuse Deployments whose revision cannot be returned to later."""
    spec = deployment.get("spec") or {}
    if spec.get("paused"):
        raise DeploymentPaused(
            f"{describe(deployment)} is paused: resume it first (kubectl rollout resume), "
            "or a rollout would never start"
        )
    if spec.get("revisionHistoryLimit") == 0:
        raise NoRevisionHistory(
            f"{describe(deployment)} has revisionHistoryLimit: 0, so no earlier revision is kept to roll back to; "
            "set it to at least 1"
        )


def find_revision(
    deployment: dict[str, Any], replica_sets: list[dict[str, Any]], number: int, replica_set: str | None = None
) -> Revision:
    """The revision to undo to; 0 means the one before the current (kubectl's default).

    An undo renumbers the target: the controller gives its ReplicaSet the next revision. A recorded
    rollback target is therefore found by its ReplicaSet's name first (stable: it carries the
    template hash), and by number only when no name was recorded.
    """
    if number < 0:
        raise RevisionNotFound(f"unable to find revision {number}: revisions are positive")
    history = revision_history(deployment, replica_sets)
    if replica_set is not None:
        for revision in history:
            if revision.name == replica_set:
                return revision
    if number == 0:
        if len(history) < 2:
            raise NoRevisionHistory(f"no rollout history found for {describe(deployment)}")
        return history[-2]
    for revision in history:
        if revision.number == number:
            return revision
    raise RevisionNotFound(
        f"unable to find revision {number} in the history of {describe(deployment)} "
        f"(kept: {', '.join(str(r.number) for r in history) or 'none'})"
    )


def undo_patch(deployment: dict[str, Any], target: Revision) -> list[dict[str, Any]]:
    """The JSON patch of ``kubectl rollout undo``, guarded by the Deployment's resourceVersion.

    The ``test`` op makes the API server refuse the patch if anyone wrote the Deployment since it
    was read, so an undo is never applied on top of a change it did not see.
    """
    template = _without_hash(target.template)
    deployment_annotations = _annotations(deployment)
    annotations = {key: value for key, value in deployment_annotations.items() if key in UNDO_SKIPPED_ANNOTATIONS}
    annotations.update(
        {key: value for key, value in _annotations(target.replica_set).items() if key not in UNDO_SKIPPED_ANNOTATIONS}
    )
    return [
        {"op": "test", "path": "/metadata/resourceVersion", "value": _metadata(deployment)["resourceVersion"]},
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


def image_patch(deployment: dict[str, Any], images: dict[str, str]) -> list[dict[str, Any]]:
    """A JSON patch setting each named container's image, like ``kubectl set image``.

    Every container name is checked before anything is patched; each replace is guarded by a test of
    the container's name at that index, so a concurrent reordering cannot put an image on the wrong one.
    """
    pod_spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    positions: dict[str, str] = {}
    for field in ("initContainers", "containers"):
        for index, container in enumerate(pod_spec.get(field) or []):
            positions[container["name"]] = f"/spec/template/spec/{field}/{index}"
    unknown = sorted(set(images) - set(positions))
    if unknown:
        raise UnknownContainer(
            f"{describe(deployment)} has no container named {', '.join(unknown)} "
            f"(it has: {', '.join(sorted(positions))})"
        )
    patch: list[dict[str, Any]] = []
    for container, image in sorted(images.items()):
        patch.append({"op": "test", "path": f"{positions[container]}/name", "value": container})
        patch.append({"op": "replace", "path": f"{positions[container]}/image", "value": image})
    return patch


def images_applied(deployment: dict[str, Any], images: dict[str, str]) -> bool:
    """Whether the Deployment's template already carries these images (so a repeat patches nothing)."""
    pod_spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    current = {
        c["name"]: c.get("image") for field in ("initContainers", "containers") for c in pod_spec.get(field) or []
    }
    return all(current.get(name) == image for name, image in images.items())


@dataclass(frozen=True)
class RolloutStatus:
    done: bool
    message: str


def rollout_status(deployment: dict[str, Any]) -> RolloutStatus:
    """``kubectl rollout status`` for one observation; raises RolloutFailed past the progress deadline."""
    name = describe(deployment)
    metadata, spec, status = _metadata(deployment), deployment.get("spec") or {}, deployment.get("status") or {}
    if metadata.get("generation", 0) > status.get("observedGeneration", 0):
        return RolloutStatus(False, f"waiting for {name} spec update to be observed")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            raise RolloutFailed(f"{name} exceeded its progress deadline: {condition.get('message', '')}".strip())
    desired = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    replicas = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < desired:
        return RolloutStatus(False, f"{name}: {updated} out of {desired} new replicas have been updated")
    if replicas > updated:
        return RolloutStatus(False, f"{name}: {replicas - updated} old replicas are pending termination")
    if available < updated:
        return RolloutStatus(False, f"{name}: {available} of {updated} updated replicas are available")
    return RolloutStatus(True, f"{name} successfully rolled out")
