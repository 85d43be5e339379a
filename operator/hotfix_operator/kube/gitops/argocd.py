"""Argo CD: an Application is held by taking ``spec.syncPolicy.automated`` away (what
``argocd app set NAME --sync-policy none`` does; with it go self-heal and auto-prune) and given back by
writing the recorded value again. Setting ``automated.enabled: false`` instead would need Argo CD 3.x's
schema: an older CRD prunes the unknown field and leaves automated sync on.

Git has caught up when Argo CD, comparing Git with the live objects (it goes on comparing while automated
sync is off), finds the rolled-back Deployment in sync at a new revision: the live one is the restored one.
"""

from __future__ import annotations

from typing import Any

from hotfix_operator.kube.gitops.base import Caught, Hold, OwnerClient
from hotfix_operator.rules.revert import TemplateChange


def _resource(application: dict[str, Any], namespace: str, deployment: str) -> dict[str, Any] | None:
    for resource in (application.get("status") or {}).get("resources") or []:
        if (resource.get("group"), resource.get("kind"), resource.get("namespace"), resource.get("name")) == (
            "apps", "Deployment", namespace, deployment,
        ):  # fmt: skip
            return dict(resource)
    return None


class ArgoCdApplications(OwnerClient):
    def applies(self, owner_object: dict[str, Any], namespace: str, deployment: str) -> bool:
        return _resource(owner_object, namespace, deployment) is not None

    def prepare(self, owner_object: dict[str, Any]) -> Hold | None:
        automated = ((owner_object.get("spec") or {}).get("syncPolicy") or {}).get("automated")
        # Absent, or Argo CD 3.x's explicit off: nothing syncs Git by itself.
        if automated is None or (isinstance(automated, dict) and automated.get("enabled") is False):
            return None
        sync = (owner_object.get("status") or {}).get("sync") or {}
        return Hold(previous=automated, source_revision=sync.get("revision"))

    def in_flight(self, status: dict[str, Any]) -> bool:
        # A sync operation under way (status.operationState.phase Running) goes on after auto-sync is off.
        return ((status.get("operationState") or {}).get("phase")) == "Running"

    def hold(self) -> None:
        self.patch({"spec": {"syncPolicy": {"automated": None}}}, "turn off automated sync of")

    def release(self, previous: Any) -> None:
        if previous is None:
            return
        self.patch({"spec": {"syncPolicy": {"automated": previous}}}, "restore automated sync of")

    def caught_up(self, hold: Hold, namespace: str, deployment: str, changes: list[TemplateChange]) -> Caught:
        application = self.read()
        revision = ((application.get("status") or {}).get("sync") or {}).get("revision")
        if not revision or revision == hold.source_revision:
            return Caught(False, revision, f"Git is still at {hold.source_revision}")
        resource = _resource(application, namespace, deployment) or {}
        if resource.get("status") == "Synced":
            return Caught(True, revision, f"Argo CD finds Deployment {deployment} in sync with Git at {revision}: "
                          "Git holds the restored version")  # fmt: skip
        found = resource.get("status") or "not compared"
        return Caught(False, revision, f"Git moved to {revision}; Argo CD finds Deployment {deployment} {found}: "
                      "Git still differs from the restored version")  # fmt: skip
