"""Who applies a Deployment from Git: read off the marks each GitOps tool leaves on what it applies. Pure.

- Flux's kustomize-controller labels every object it applies ``kustomize.toolkit.fluxcd.io/name`` and
  ``.../namespace`` (the Kustomization); helm-controller does the same with ``helm.toolkit.fluxcd.io/...``
  for a HelmRelease.
- Argo CD tracks with the annotation ``argocd.argoproj.io/tracking-id``,
  ``<application>:<group>/<kind>:<namespace>/<name>`` (the default since v2.x's annotation tracking),
  where ``<application>`` is ``<namespace>_<name>`` for an Application outside Argo CD's own namespace;
  or, with label tracking, ``app.kubernetes.io/instance: <application>`` (Applications in Argo CD's
  namespace only). The label is also set by many Helm charts, so it counts only when no annotation says
  otherwise and the operator is told Argo CD tracks by label (``HOTFIX_ARGOCD_LABEL_TRACKING``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OwnerKind:
    tool: str  # flux | argocd
    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


FLUX_KUSTOMIZATION = OwnerKind("flux", "kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization")
FLUX_HELM_RELEASE = OwnerKind("flux", "helm.toolkit.fluxcd.io", "v2", "helmreleases", "HelmRelease")
ARGOCD_APPLICATION = OwnerKind("argocd", "argoproj.io", "v1alpha1", "applications", "Application")
OWNER_KINDS = {kind.kind: kind for kind in (FLUX_KUSTOMIZATION, FLUX_HELM_RELEASE, ARGOCD_APPLICATION)}

ARGOCD_TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
ARGOCD_INSTANCE_LABEL = "app.kubernetes.io/instance"


@dataclass(frozen=True)
class GitOpsOwner:
    kind: OwnerKind
    namespace: str
    name: str

    def describe(self) -> str:
        tool = "Flux" if self.kind.tool == "flux" else "Argo CD"
        return f"{tool} {self.kind.kind} {self.namespace}/{self.name}"

    @property
    def path(self) -> str:
        return f"/apis/{self.kind.api_version}/namespaces/{self.namespace}/{self.kind.plural}/{self.name}"


def _flux_owner(labels: dict[str, str], kind: OwnerKind) -> GitOpsOwner | None:
    name, namespace = labels.get(f"{kind.group}/name"), labels.get(f"{kind.group}/namespace")
    return GitOpsOwner(kind, namespace, name) if name and namespace else None


def _argocd_application(application: str, argocd_namespace: str) -> GitOpsOwner | None:
    # Argo CD writes "<namespace>_<name>" for an Application outside its own namespace (apps in any namespace).
    namespace, _, name = application.rpartition("_")
    if not application:
        return None
    return GitOpsOwner(ARGOCD_APPLICATION, namespace or argocd_namespace, name)


def _argocd_owner(deployment: dict[str, Any], argocd_namespace: str, label_tracking: bool) -> GitOpsOwner | None:
    metadata = deployment.get("metadata") or {}
    tracking = (metadata.get("annotations") or {}).get(ARGOCD_TRACKING_ANNOTATION)
    if tracking:
        application, separator, resource = tracking.partition(":")
        group_kind, _, namespaced_name = resource.partition(":")
        namespace, _, name = namespaced_name.partition("/")
        # The annotation is copied along with a manifest now and then: it counts only when it names this object.
        if separator and group_kind == "apps/Deployment" and (namespace, name) == (
            metadata.get("namespace"), metadata.get("name"),
        ):  # fmt: skip
            return _argocd_application(application, argocd_namespace)
        return None
    instance = (metadata.get("labels") or {}).get(ARGOCD_INSTANCE_LABEL)
    if label_tracking and instance:
        return _argocd_application(instance, argocd_namespace)
    return None


def gitops_owner(
    deployment: dict[str, Any], argocd_namespace: str = "argocd", argocd_label_tracking: bool = False
) -> GitOpsOwner | None:
    """The GitOps object that applies this Deployment, or None when nothing marks one."""
    labels = (deployment.get("metadata") or {}).get("labels") or {}
    return (
        _flux_owner(labels, FLUX_KUSTOMIZATION)
        or _flux_owner(labels, FLUX_HELM_RELEASE)
        or _argocd_owner(deployment, argocd_namespace, argocd_label_tracking)
    )
