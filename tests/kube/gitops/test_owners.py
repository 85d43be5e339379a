"""Who applies a Deployment from Git, read off the marks Flux and Argo CD leave."""

from __future__ import annotations

from typing import Any

from hotfix_operator.kube.gitops.owners import (
    ARGOCD_APPLICATION,
    FLUX_HELM_RELEASE,
    FLUX_KUSTOMIZATION,
    GitOpsOwner,
    gitops_owner,
)


def deployment(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "shop", "labels": labels or {},
                         "annotations": annotations or {}}}  # fmt: skip


def test_flux_kustomization_and_helm_release_labels() -> None:
    kustomized = deployment({"kustomize.toolkit.fluxcd.io/name": "apps",
                             "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})  # fmt: skip
    assert gitops_owner(kustomized) == GitOpsOwner(FLUX_KUSTOMIZATION, "flux-system", "apps")
    released = deployment({"helm.toolkit.fluxcd.io/name": "web", "helm.toolkit.fluxcd.io/namespace": "shop"})
    owner = gitops_owner(released)
    assert owner == GitOpsOwner(FLUX_HELM_RELEASE, "shop", "web")
    assert owner is not None and owner.path == "/apis/helm.toolkit.fluxcd.io/v2/namespaces/shop/helmreleases/web"
    # Half a mark is no mark.
    assert gitops_owner(deployment({"kustomize.toolkit.fluxcd.io/name": "apps"})) is None


def test_argocd_tracking_annotation_names_the_application() -> None:
    tracked = deployment(annotations={"argocd.argoproj.io/tracking-id": "shop-app:apps/Deployment:shop/web"})
    assert gitops_owner(tracked) == GitOpsOwner(ARGOCD_APPLICATION, "argocd", "shop-app")
    assert gitops_owner(tracked, argocd_namespace="gitops") == GitOpsOwner(ARGOCD_APPLICATION, "gitops", "shop-app")
    # An Application outside Argo CD's namespace (apps in any namespace): <namespace>_<name>.
    elsewhere = deployment(annotations={"argocd.argoproj.io/tracking-id": "team-a_shop-app:apps/Deployment:shop/web"})
    assert gitops_owner(elsewhere) == GitOpsOwner(ARGOCD_APPLICATION, "team-a", "shop-app")


def test_a_tracking_annotation_copied_from_another_object_is_ignored() -> None:
    copied = deployment(annotations={"argocd.argoproj.io/tracking-id": "shop-app:apps/Deployment:shop/other"})
    assert gitops_owner(copied) is None
    assert gitops_owner(deployment(annotations={"argocd.argoproj.io/tracking-id": "garbage"})) is None


def test_the_instance_label_counts_only_with_label_tracking() -> None:
    labelled = deployment({"app.kubernetes.io/instance": "shop-app"})
    assert gitops_owner(labelled) is None
    assert gitops_owner(labelled, argocd_label_tracking=True) == GitOpsOwner(ARGOCD_APPLICATION, "argocd", "shop-app")


def test_an_unmarked_deployment_has_no_owner() -> None:
    assert gitops_owner(deployment({"app": "web"})) is None
