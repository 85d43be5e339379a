"""Flux: a Kustomization or a HelmRelease is held with ``spec.suspend: true`` and given back with
``spec.suspend: false`` plus a reconcile request, exactly what ``flux suspend`` and ``flux resume`` do."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from hotfix_operator.kube.api import ApiError
from hotfix_operator.kube.gitops.base import Caught, GitOpsError, Hold, OwnerClient, api_problem
from hotfix_operator.kube.gitops.flux_artifact import ArtifactError, deployment_template
from hotfix_operator.rules.revert import TemplateChange, git_still_bad

RECONCILE_REQUEST = "reconcile.fluxcd.io/requestedAt"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
SOURCE_PLURALS = {"GitRepository": "gitrepositories", "OCIRepository": "ocirepositories", "Bucket": "buckets"}
ARTIFACT_LIMIT_BYTES = 64 * 1024 * 1024
ARTIFACT_TIMEOUT_SECONDS = 10.0


class FluxOwner(OwnerClient):
    def prepare(self, owner_object: dict[str, Any]) -> Hold | None:
        if (owner_object.get("spec") or {}).get("suspend") is True:
            return None
        status = owner_object.get("status") or {}
        return Hold(previous=False, source_revision=status.get("lastAppliedRevision"))

    def in_flight(self, status: dict[str, Any]) -> bool:
        # Flux marks Reconciling=True "Progressing" from the start of a reconciliation to its end ("...WithRetry"
        # once it failed and waits: nothing in flight then).
        return any(c.get("type") == "Reconciling" and c.get("status") == "True" and c.get("reason") == "Progressing"
                   for c in status.get("conditions") or [])  # fmt: skip

    def hold(self) -> None:
        self.patch({"spec": {"suspend": True}}, "suspend")

    def release(self, previous: Any) -> None:
        if previous is True:
            return
        # A reconcile request as flux resume sends: Git is applied now, not at the next interval.
        now = datetime.now(UTC).isoformat()
        self.patch({"metadata": {"annotations": {RECONCILE_REQUEST: now}}, "spec": {"suspend": False}}, "resume")


class FluxKustomizations(FluxOwner):
    def applies(self, owner_object: dict[str, Any], namespace: str, deployment: str) -> bool:
        # The inventory ids of what the Kustomization applied: <namespace>_<name>_<group>_<kind>.
        entries = ((owner_object.get("status") or {}).get("inventory") or {}).get("entries") or []
        return any(entry.get("id") == f"{namespace}_{deployment}_apps_Deployment" for entry in entries)

    def caught_up(self, hold: Hold, namespace: str, deployment: str, changes: list[TemplateChange]) -> Caught:
        kustomization = self.read()
        spec = kustomization.get("spec") or {}
        source = self._source(spec.get("sourceRef") or {})
        artifact = (source.get("status") or {}).get("artifact") or {}
        revision = artifact.get("revision")
        if not revision or revision in (hold.source_revision, hold.judged_revision):
            # Nothing new in Git: its artifact is not downloaded again.
            return Caught(False, revision, f"the source is still at {revision}")
        try:
            template = deployment_template(self._download(artifact.get("url") or ""), spec.get("path") or "./",
                                           namespace, deployment)  # fmt: skip
        except ArtifactError as error:
            return Caught(None, revision, f"Git moved to {revision}, but its manifests could not be read: {error}")
        if template is None:
            return Caught(None, revision, f"Git moved to {revision}; no Deployment {deployment} found in plain "
                          "manifests there (a generated or patched manifest is for a person to check)")  # fmt: skip
        still_bad = git_still_bad(template, changes)
        if still_bad is None:
            return Caught(None, revision, f"Git moved to {revision}; the rolled-back change is not one of image, "
                          "command, args or env, which only a person can compare")  # fmt: skip
        if still_bad:
            return Caught(False, revision, f"Git moved to {revision} but still holds the rolled-back version")
        return Caught(True, revision, f"Git moved to {revision}, which no longer holds the rolled-back version")

    def _source(self, reference: dict[str, Any]) -> dict[str, Any]:
        kind = reference.get("kind") or "GitRepository"
        plural = SOURCE_PLURALS.get(kind)
        if plural is None:
            raise GitOpsError(f"{self.owner.describe()}: source kind {kind} is not one Flux's source-controller has")
        namespace = reference.get("namespace") or self.owner.namespace
        path = f"/apis/{SOURCE_GROUP}/v1/namespaces/{namespace}/{plural}/{reference.get('name')}"
        try:
            return dict(self.api.get(path))
        except ApiError as error:
            raise api_problem(error, self.owner, f"read the {kind} of") from error

    @staticmethod
    def _download(url: str) -> bytes:
        """The source's artifact as source-controller serves it (a .tar.gz over plain HTTP), bounded."""
        if not url.startswith(("http://", "https://")):
            raise ArtifactError(f"no artifact address ({url or 'none'})")
        try:
            with requests.get(url, timeout=ARTIFACT_TIMEOUT_SECONDS, stream=True) as response:
                response.raise_for_status()
                content = response.raw.read(ARTIFACT_LIMIT_BYTES + 1, decode_content=True)
        except requests.RequestException as error:
            raise ArtifactError(f"{url}: {error}") from error
        if len(content) > ARTIFACT_LIMIT_BYTES:
            raise ArtifactError(f"{url}: larger than {ARTIFACT_LIMIT_BYTES // (1024 * 1024)} MiB")
        return bytes(content)


class FluxHelmReleases(FluxOwner):
    def applies(self, owner_object: dict[str, Any], namespace: str, deployment: str) -> bool:
        # A HelmRelease keeps no inventory: it counts only for Deployments of its own release namespace.
        spec = owner_object.get("spec") or {}
        return (spec.get("targetNamespace") or self.owner.namespace) == namespace

    def caught_up(self, hold: Hold, namespace: str, deployment: str, changes: list[TemplateChange]) -> Caught:
        # A chart is rendered by Helm, not read: whether it still holds the bad version is a person's call.
        return Caught(None, None, "a HelmRelease's chart is for a person to check")
