"""GitOps owners of Deployments, one module per tool behind one seam (``owner_client``): hold an owner's
reconciliation before an undo, give it back exactly as it was, and tell when Git has caught up."""

from __future__ import annotations

from hotfix_operator.kube.api import KubeApi
from hotfix_operator.kube.gitops.argocd import ArgoCdApplications
from hotfix_operator.kube.gitops.base import Caught, GitOpsError, Hold, OwnerClient
from hotfix_operator.kube.gitops.flux import FluxHelmReleases, FluxKustomizations
from hotfix_operator.kube.gitops.owners import ARGOCD_APPLICATION, FLUX_HELM_RELEASE, FLUX_KUSTOMIZATION, GitOpsOwner

__all__ = ["Caught", "GitOpsError", "Hold", "OwnerClient", "owner_client"]


def owner_client(api: KubeApi, owner: GitOpsOwner) -> OwnerClient:
    clients: dict[str, type[OwnerClient]] = {
        FLUX_KUSTOMIZATION.kind: FluxKustomizations,
        FLUX_HELM_RELEASE.kind: FluxHelmReleases,
        ARGOCD_APPLICATION.kind: ArgoCdApplications,
    }
    return clients[owner.kind.kind](api, owner)
