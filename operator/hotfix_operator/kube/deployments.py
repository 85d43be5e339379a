"""The Kubernetes adapter for every action on a Deployment: read, record, patch images, wait, undo.

Thin on purpose: it fetches raw JSON, asks ``deployment_rollouts`` what to do, and sends the patch.
Synchronous (``KubeApi`` is); the operator calls it off the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotfix_operator.kube.api import JSON_PATCH, ApiError, KubeApi
from hotfix_operator.kube.rollouts import (
    ConcurrentModification,
    DeploymentError,
    DeploymentNotFound,
    Revision,
    RolloutStatus,
    RolloutTimeout,
    check_can_record,
    current_revision,
    describe,
    find_revision,
    image_patch,
    images_applied,
    label_selector,
    revision_of,
    rollout_status,
    templates_equal,
    undo_patch,
)
from hotfix_operator.kube.unavailable import ApiUnavailable, as_unavailable

# A guarded undo refused because the Deployment moved on is planned again from a fresh read this many times.
UNDO_ATTEMPTS = 3


@dataclass(frozen=True)
class RecordedRevision:
    """Where a Deployment stood before a hotfix: the revision to return to."""

    deployment: str
    revision: int
    replica_set: str


@dataclass(frozen=True)
class UndoPlan:
    deployment: dict[str, Any]
    target: Revision
    # kubectl skips the undo when the Deployment already runs that template: nothing to do, nothing done.
    already_there: bool


@dataclass(frozen=True)
class UndoResult:
    deployment: str
    to_revision: int
    skipped: bool


def _api_error(error: ApiError, what: str) -> DeploymentError | ApiUnavailable:
    """An answer about the Deployment as DeploymentError; a passing fault of the API server as ApiUnavailable,
    so that the controller retries it instead of giving up on the Hotfix."""
    unavailable = as_unavailable(error, what)
    if unavailable is not None:
        return unavailable
    return DeploymentError(f"{what}: the API server answered {error.status}: {error.message}")


def deployment_path(namespace: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"


class DeploymentClient:
    def __init__(self, api: KubeApi) -> None:
        self.api = api

    # -- reading ---------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        try:
            deployment: dict[str, Any] = self.api.get(deployment_path(namespace, name))
        except ApiError as error:
            if error.status == 404:
                raise DeploymentNotFound(f'deployment "{namespace}/{name}" not found') from None
            raise _api_error(error, f'reading deployment "{namespace}/{name}"') from None
        return deployment

    def replica_sets(self, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        namespace = deployment["metadata"]["namespace"]
        try:
            return self.api.list_items(
                f"/apis/apps/v1/namespaces/{namespace}/replicasets", {"labelSelector": label_selector(deployment)}
            )
        except ApiError as error:
            raise _api_error(error, f"listing the ReplicaSets of {describe(deployment)}") from None

    def record_revision(self, namespace: str, name: str, number: int | None = None) -> RecordedRevision:
        """The revision the Deployment runs now (or revision ``number`` of its history), refusing Deployments
        that could not be returned to."""
        deployment = self.get(namespace, name)
        check_can_record(deployment)
        replica_sets = self.replica_sets(deployment)
        if number is None:
            revision = current_revision(deployment, replica_sets)
        else:
            revision = find_revision(deployment, replica_sets, number)
        return RecordedRevision(deployment=name, revision=revision.number, replica_set=revision.name)

    def revision_present(self, namespace: str, name: str, number: int, replica_set: str | None = None) -> bool:
        try:
            deployment = self.get(namespace, name)
        except DeploymentNotFound:
            return False
        try:
            find_revision(deployment, self.replica_sets(deployment), number, replica_set)
        except DeploymentError:
            return False
        return True

    def new_pods(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """The pods of the ReplicaSet the Deployment's template makes (the rollout's own): listed by its
        pod-template-hash, so a rollout's old pods are never read. Empty before that ReplicaSet exists."""
        deployment = self.get(namespace, name)
        try:
            revision = current_revision(deployment, self.replica_sets(deployment))
        except DeploymentError:
            return []
        template_hash = ((revision.template.get("metadata") or {}).get("labels") or {}).get("pod-template-hash")
        if not template_hash:
            return []
        selector = f"{label_selector(deployment)},pod-template-hash={template_hash}"
        try:
            return self.api.list_items(f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": selector})
        except ApiError as error:
            raise _api_error(error, f"listing the new pods of {describe(deployment)}") from None

    def desired_replicas(self, namespace: str, name: str) -> int | None:
        """``spec.replicas`` (1 when unset, as the API server defaults it); None when the Deployment is gone."""
        try:
            deployment = self.get(namespace, name)
        except DeploymentNotFound:
            return None
        return int((deployment.get("spec") or {}).get("replicas", 1))

    def runs_images(self, namespace: str, name: str, images: dict[str, str]) -> bool:
        """Whether the Deployment's template already carries these images."""
        return images_applied(self.get(namespace, name), images)

    def deployed_revision(self, namespace: str, name: str) -> int:
        """The revision the deployment controller has stamped on the Deployment (0 before the first)."""
        return revision_of(self.get(namespace, name)) or 0

    # -- rolling out -----------------------------------------------------------------------

    def apply_images(self, namespace: str, name: str, images: dict[str, str]) -> bool:
        """Set the hotfix's images; False when they are already set (a repeat call patches nothing)."""
        deployment = self.get(namespace, name)
        check_can_record(deployment)
        if images_applied(deployment, images):
            return False
        patch = image_patch(deployment, images)
        self._json_patch(deployment, patch, "setting the hotfix images on")
        return True

    def status(self, namespace: str, name: str) -> RolloutStatus:
        return rollout_status(self.get(namespace, name))

    def wait_for_rollout(
        self,
        namespace: str,
        name: str,
        timeout: float,
        poll_interval: float = 0.5,
        on_progress: Callable[[str], None] | None = None,
    ) -> RolloutStatus:
        """Block until the rollout completes, as ``kubectl rollout status --timeout`` does."""
        deadline = time.monotonic() + timeout
        last_message = ""
        while True:
            status = self.status(namespace, name)
            if status.done:
                return status
            if on_progress is not None and status.message != last_message:
                on_progress(status.message)
            last_message = status.message
            if time.monotonic() >= deadline:
                raise RolloutTimeout(f"timed out after {timeout:.0f}s: {status.message}")
            time.sleep(poll_interval)

    # -- undoing ---------------------------------------------------------------------------

    def plan_undo(self, namespace: str, name: str, to_revision: int, replica_set: str | None = None) -> UndoPlan:
        deployment = self.get(namespace, name)
        if (deployment.get("spec") or {}).get("paused"):
            raise DeploymentError(f"you cannot roll back a paused {describe(deployment)}; resume it first")
        target = find_revision(deployment, self.replica_sets(deployment), to_revision, replica_set)
        already_there = templates_equal(target.template, deployment["spec"]["template"])
        return UndoPlan(deployment=deployment, target=target, already_there=already_there)

    def execute_undo(self, plan: UndoPlan) -> UndoResult:
        name = plan.deployment["metadata"]["name"]
        if not plan.already_there:
            self._json_patch(plan.deployment, undo_patch(plan.deployment, plan.target), "rolling back")
        return UndoResult(deployment=name, to_revision=plan.target.number, skipped=plan.already_there)

    def undo(self, namespace: str, name: str, to_revision: int, replica_set: str | None = None) -> UndoResult:
        """``kubectl rollout undo --to-revision``; a no-op when the Deployment already runs it.

        Pass the recorded ``replica_set`` so that a repeated call finds the same target after the
        first undo renumbered it, and then does nothing.
        """
        attempts_left = UNDO_ATTEMPTS
        while True:
            try:
                return self.execute_undo(self.plan_undo(namespace, name, to_revision, replica_set))
            except ConcurrentModification:
                # Mid-rollout the Deployment controller writes status several times a second, and each write
                # moves resourceVersion under the guarded patch. Read again and re-plan: the undo is planned
                # from what is there now, so it is never applied on top of a change it did not see.
                attempts_left -= 1
                if attempts_left == 0:
                    raise

    def _json_patch(self, deployment: dict[str, Any], patch: list[dict[str, Any]], doing: str) -> None:
        metadata = deployment["metadata"]
        try:
            self.api.patch(deployment_path(metadata["namespace"], metadata["name"]), patch, JSON_PATCH)
        except ApiError as error:
            # A failed JSON-patch `test` comes back as a bare 422 without details, so look again:
            # a Deployment that moved on since it was read is a concurrent write, anything else is not.
            if error.status in (409, 422) and self._changed_since(deployment):
                raise ConcurrentModification(
                    f"{doing} {describe(deployment)} refused: it was changed by someone else since it was read "
                    f"(resourceVersion {metadata.get('resourceVersion')}); nothing was changed, look again"
                ) from None
            if error.status == 404:
                raise DeploymentNotFound(f"{describe(deployment)} was deleted while {doing} it") from None
            raise _api_error(error, f"{doing} {describe(deployment)}") from None

    def _changed_since(self, deployment: dict[str, Any]) -> bool:
        metadata = deployment["metadata"]
        try:
            current = self.get(metadata["namespace"], metadata["name"])
        except DeploymentNotFound:
            return False
        return current["metadata"]["resourceVersion"] != metadata["resourceVersion"]
