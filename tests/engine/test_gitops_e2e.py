"""A rollback that GitOps cannot undo, end to end: the real Flux source-controller and kustomize-controller
(built from their Go modules) reconcile a Deployment from a Git repository this test serves over smart HTTP;
Argo CD's real Application CRD (its controller is not built here: the test writes the Application's status
as Argo CD's controller would). Real control plane, real Prometheus, the simulator's pods.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from test_policy_e2e import ENDED, GUARDED, plugin, policy_manifest, wait_for_guard

from hotfix_operator.testbed.flux import FluxControllers
from hotfix_operator.testbed.git_server import GitRepo, GitServer
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBedState
from operator_support import (
    BAD_IMAGE,
    DEPLOYER_RULES,
    GOOD_IMAGE,
    Cluster,
    deployment_manifest,
    eventually,
    hotfix_manifest,
    tenant_service_account,
)

FLUX_INTERVAL_SECONDS = 3
ARGO = ("argoproj.io", "v1alpha1", "applications")
KUSTOMIZATIONS = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")


@pytest.fixture(scope="module")
def flux(testbed_state: TestBedState, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FluxControllers]:
    controllers = FluxControllers(testbed_state.kubeconfig, tmp_path_factory.mktemp("flux"))
    try:
        yield controllers.start()
    finally:
        controllers.stop()


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    server = GitServer(Path(tmp_path_factory.mktemp("git"))).start()
    yield server
    server.stop()


@pytest.fixture
def repo(running_operator: OperatorProcess, flux: FluxControllers, git_server: GitServer, cluster: Cluster) -> GitRepo:
    """The team's repository, with the operator and Flux running."""
    return git_server.repository(f"shop-{cluster.namespace}")


def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


def web_manifest(namespace: str, image: str) -> dict[str, Any]:
    manifest = deployment_manifest("web", image, labels=GUARDED)
    manifest["metadata"]["namespace"] = namespace
    return manifest


def flux_sources(api_client: client.ApiClient, namespace: str, repo: GitRepo) -> None:
    """A GitRepository and a Kustomization in the team's namespace, as Flux's multi-tenancy guide lays out."""
    objects = custom(api_client)
    interval = f"{FLUX_INTERVAL_SECONDS}s"
    objects.create_namespaced_custom_object("source.toolkit.fluxcd.io", "v1", namespace, "gitrepositories", {
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": {"name": "shop"},
        "spec": {"url": repo.url, "interval": interval, "ref": {"branch": "main"}},
    })  # fmt: skip
    objects.create_namespaced_custom_object(*KUSTOMIZATIONS[:2], namespace, KUSTOMIZATIONS[2], {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "apps"},
        "spec": {"interval": interval, "retryInterval": interval, "path": "./apps", "prune": False,
                 "sourceRef": {"kind": "GitRepository", "name": "shop"}},
    })  # fmt: skip


def kustomization(api_client: client.ApiClient, namespace: str) -> dict[str, Any]:
    return dict(
        custom(api_client).get_namespaced_custom_object(*KUSTOMIZATIONS[:2], namespace, KUSTOMIZATIONS[2], "apps")
    )


def applied(api_client: client.ApiClient, namespace: str, commit: str) -> bool:
    return str((kustomization(api_client, namespace).get("status") or {}).get("lastAppliedRevision", "")).endswith(
        commit
    )


def bad_commit_rolled_back(api_client: client.ApiClient, cluster: Cluster, repo: GitRepo) -> dict[str, Any]:
    """Git at 1.0, applied by Flux; then the bad 1.1 committed, applied, guarded and rolled back."""
    namespace = cluster.namespace
    cluster.apply_policy(policy_manifest("guard-git", stability={"checkpoints": ["6s", "9s", "12s"]}))
    good_commit = repo.commit({"apps/web.yaml": web_manifest(namespace, GOOD_IMAGE)}, "web 1.0")
    flux_sources(api_client, namespace, repo)
    eventually(lambda: applied(api_client, namespace, good_commit), timeout=90, what="Flux to apply web 1.0")
    eventually(lambda: cluster.rolled_out("web"), timeout=60, what="web 1.0 to roll out")
    cluster._wait_for_metrics("web", 2)
    repo.commit({"apps/web.yaml": web_manifest(namespace, BAD_IMAGE)}, "web 1.1")
    wait_for_guard(cluster, "web-rev2", timeout=60)
    status = cluster.wait_phase("web-rev2", *ENDED)
    assert status["phase"] == "RolledBack", status
    return status


def test_a_bad_commit_stays_rolled_back_until_git_is_reverted_then_flux_resumes_by_itself(
    repo: GitRepo, cluster: Cluster, api_client: client.ApiClient, testbed_state: TestBedState
) -> None:
    namespace = cluster.namespace
    status = bad_commit_rolled_back(api_client, cluster, repo)
    [hold] = status["gitops"]
    assert (hold["kind"], hold["namespace"], hold["name"], hold["deployments"]) == (
        "Kustomization", namespace, "apps", ["web"],
    )  # fmt: skip
    assert hold["previous"] is False and hold["heldAt"] and "resumedAt" not in hold
    assert kustomization(api_client, namespace)["spec"]["suspend"] is True
    [revert] = status["targets"][0]["revert"]
    assert revert == {"field": "spec.template.spec.containers[app].image", "bad": BAD_IMAGE,
                      "restored": GOOD_IMAGE, "judged": True}  # fmt: skip
    assert "GitOpsHeld" in cluster.event_reasons("web-rev2")
    held = next(e for e in status["timeline"] if e["type"] == "GitOpsHeld")["message"]
    assert "Git still holds the bad version" in held and "kubectl hotfix resume web-rev2" in held
    assert f"{BAD_IMAGE} -> {GOOD_IMAGE}" in held
    # Rolled back, and it stays so for more than two of Flux's intervals while Git still holds 1.1.
    revision = cluster.revision("web")
    time.sleep(FLUX_INTERVAL_SECONDS * 3)
    assert cluster.image("web") == GOOD_IMAGE and cluster.revision("web") == revision
    code, detail = plugin(testbed_state, namespace, "status", "web-rev2")
    assert code == 0, detail
    assert "Change to revert in Git" in detail and f"image: {BAD_IMAGE} -> {GOOD_IMAGE}" in detail
    assert f"Kustomization {namespace}/apps" in detail and "kubectl hotfix resume web-rev2" in detail
    # The person reverts the commit; source-controller fetches it; the operator reads the new artifact, sees
    # 1.0 again and gives the Kustomization back; Flux applies Git, which now changes nothing.
    reverted = repo.revert_last("Revert web 1.1")

    def resumed() -> bool:
        holds = cluster.status("web-rev2").get("gitops") or [{}]
        return holds[0].get("resumedBy") == "git"

    eventually(resumed, timeout=60, what="the operator to give the Kustomization back once Git is reverted")
    assert kustomization(api_client, namespace)["spec"]["suspend"] is False
    eventually(lambda: applied(api_client, namespace, reverted), timeout=60, what="Flux to apply the revert")
    time.sleep(FLUX_INTERVAL_SECONDS * 2)
    assert cluster.image("web") == GOOD_IMAGE and cluster.revision("web") == revision
    assert cluster.hotfix_names() == ["web-rev2"], "no new guard, no new rollback"
    final = cluster.status("web-rev2")
    assert final["phase"] == "RolledBack", final
    assert "GitOpsResumed" in cluster.event_reasons("web-rev2")


def test_resumed_by_a_person_before_git_is_fixed_the_bad_version_comes_back_and_is_caught(
    repo: GitRepo, cluster: Cluster, api_client: client.ApiClient, testbed_state: TestBedState
) -> None:
    namespace = cluster.namespace
    bad_commit_rolled_back(api_client, cluster, repo)
    assert kustomization(api_client, namespace)["spec"]["suspend"] is True
    code, out = plugin(testbed_state, namespace, "resume", "web-rev2", "--by", "alice")
    assert code == 0 and "resume requested by alice" in out, out
    eventually(lambda: (cluster.status("web-rev2").get("gitops") or [{}])[0].get("resumedBy") == "alice",
               timeout=30, what="the resume to be carried out")  # fmt: skip
    restored = kustomization(api_client, namespace)
    assert restored["spec"]["suspend"] is False
    assert "reconcile.fluxcd.io/requestedAt" in restored["metadata"]["annotations"]
    # Git still says 1.1: Flux applies it again, and it is not left unguarded.
    eventually(lambda: cluster.image("web") == BAD_IMAGE, timeout=60, what="Flux to apply Git's 1.1 again")

    def caught() -> bool:
        guard = cluster.status("web-rev2")
        return guard.get("phase") == "Escalated" or len(cluster.hotfix_names()) > 1

    eventually(caught, timeout=60, what="the re-applied bad version to be escalated or guarded again")


def argo_application(namespace: str, automated: dict[str, Any] | None, listed: bool = True) -> dict[str, Any]:
    resources = [{"group": "apps", "version": "v1", "kind": "Deployment", "namespace": namespace, "name": "web",
                  "status": "Synced"}] if listed else []  # fmt: skip
    sync_policy = {"automated": automated, "syncOptions": ["ServerSideApply=true"]} if automated else {}
    destination = {"server": "https://kubernetes.default.svc", "namespace": namespace}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop"},
        "spec": {"project": "default", "destination": destination,
                 "source": {"repoURL": "https://git.example/shop.git", "path": "apps", "targetRevision": "main"},
                 "syncPolicy": sync_policy},
        "status": {"sync": {"status": "Synced", "revision": "a" * 40}, "resources": resources},
    }  # fmt: skip


def argo_deployment(cluster: Cluster, name: str = "web") -> None:
    tracking = {
        "argocd.argoproj.io/tracking-id": f"{cluster.namespace}_shop:apps/Deployment:{cluster.namespace}/{name}"
    }
    manifest = deployment_manifest(name)
    manifest["metadata"]["annotations"] = tracking
    cluster.apps.create_namespaced_deployment(cluster.namespace, manifest)
    eventually(lambda: cluster.rolled_out(name), timeout=60, what=f"{name} to roll out")
    cluster._wait_for_metrics(name, 2)


def create_application(api_client: client.ApiClient, namespace: str, body: dict[str, Any]) -> None:
    custom(api_client).create_namespaced_custom_object(*ARGO[:2], namespace, ARGO[2], body)


def application(api_client: client.ApiClient, namespace: str) -> dict[str, Any]:
    return dict(custom(api_client).get_namespaced_custom_object(*ARGO[:2], namespace, ARGO[2], "shop"))


def argo_reports(api_client: client.ApiClient, namespace: str, revision: str, deployment_status: str) -> None:
    """What Argo CD's controller writes after comparing Git at ``revision`` with the live objects."""
    app = application(api_client, namespace)
    status = copy.deepcopy(app["status"])
    status["sync"] = {"status": deployment_status, "revision": revision}
    status["resources"][0]["status"] = deployment_status
    custom(api_client).patch_namespaced_custom_object(*ARGO[:2], namespace, ARGO[2], "shop", {"status": status})


def test_argocd_automated_sync_is_taken_away_for_the_undo_and_given_back_exactly_when_git_is_in_sync(
    running_operator: OperatorProcess, cluster: Cluster, flux: FluxControllers, api_client: client.ApiClient
) -> None:
    namespace = cluster.namespace
    automated = {"prune": True, "selfHeal": True, "allowEmpty": False}
    custom(api_client).create_namespaced_custom_object(
        *ARGO[:2], namespace, ARGO[2], argo_application(namespace, automated)
    )
    argo_deployment(cluster)
    cluster.apply_hotfix(hotfix_manifest("web-fix", ["web"]))
    status = cluster.wait_phase("web-fix", "RolledBack", "Escalated", "Stable", "Failed")
    assert status["phase"] == "RolledBack", status
    [hold] = status["gitops"]
    assert (hold["kind"], hold["previous"], hold["sourceRevision"]) == ("Application", automated, "a" * 40)
    app = application(api_client, namespace)
    assert "automated" not in app["spec"]["syncPolicy"]
    assert app["spec"]["syncPolicy"]["syncOptions"] == ["ServerSideApply=true"], "the rest is left as it was"
    # Git moves on but still differs from the restored version: the hold stays, said once.
    argo_reports(api_client, namespace, "b" * 40, "OutOfSync")
    eventually(lambda: "GitOpsStillHeld" in cluster.timeline_types("web-fix"), timeout=30, what="a still-held note")
    assert "automated" not in application(api_client, namespace)["spec"]["syncPolicy"]
    # Git reverted: Argo CD finds the live (restored) Deployment in sync with Git.
    argo_reports(api_client, namespace, "c" * 40, "Synced")
    eventually(lambda: (cluster.status("web-fix").get("gitops") or [{}])[0].get("resumedBy") == "git",
               timeout=30, what="automated sync to be given back")  # fmt: skip
    assert application(api_client, namespace)["spec"]["syncPolicy"]["automated"] == automated
    assert cluster.timeline_types("web-fix").count("GitOpsStillHeld") == 1


def test_an_owner_the_tenant_may_not_touch_or_that_does_not_list_the_deployment_is_left_alone(
    running_operator: OperatorProcess, cluster: Cluster, flux: FluxControllers, api_client: client.ApiClient
) -> None:
    namespace = cluster.namespace
    automated = {"selfHeal": True}
    custom(api_client).create_namespaced_custom_object(
        *ARGO[:2], namespace, ARGO[2], argo_application(namespace, automated)
    )
    argo_deployment(cluster)
    # The team's deployer may roll its Deployments back but not change Argo CD's Applications.
    tenant_service_account(api_client, namespace, "deployer", DEPLOYER_RULES)
    cluster.apply_hotfix(hotfix_manifest("web-fix", ["web"], serviceAccountName="deployer"))
    status = cluster.wait_phase("web-fix", "RolledBack", "Escalated", "Stable", "Failed")
    assert status["phase"] == "RolledBack", status
    [hold] = status["gitops"]
    assert "forbidden" in hold["refused"] and "applications.argoproj.io" in hold["refused"]
    assert "GitOpsNotHeld" in cluster.event_reasons("web-fix")
    assert application(api_client, namespace)["spec"]["syncPolicy"]["automated"] == automated
    # A Deployment that claims an Application whose own record does not list it: the claim is not taken.
    custom(api_client).patch_namespaced_custom_object(*ARGO[:2], namespace, ARGO[2], "shop",
                                                      {"status": {"resources": []}})  # fmt: skip
    argo_deployment(cluster, "cart")
    cluster.apply_hotfix(hotfix_manifest("cart-fix", ["cart"]))
    cart = cluster.wait_phase("cart-fix", "RolledBack", "Escalated", "Stable", "Failed")
    assert cart["phase"] == "RolledBack" and not cart.get("gitops"), cart
    assert "GitOpsOwnerUnconfirmed" in cluster.event_reasons("cart-fix")
    assert application(api_client, namespace)["spec"]["syncPolicy"]["automated"] == automated
