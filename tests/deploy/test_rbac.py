"""deploy/ installs on a real API server, and its RBAC is enough for the operator and no more."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from hotfix_operator.testbed.cluster import write_kubeconfig
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import (
    BAD_IMAGE,
    DEPLOYER_RULES,
    GOOD_IMAGE,
    Cluster,
    eventually,
    hotfix_manifest,
    tenant_service_account,
)
from testbed_support import PROMETHEUS_RULE_CRD_PATH, REPO, install_crd, kubectl


@pytest.fixture(scope="module")
def service_account_kubeconfig(
    testbed: TestBed, testbed_state: TestBedState, api_client: client.ApiClient, hotfix_crd: None
) -> str:
    # The prometheus-operator's kind too: the rollback test creates and removes the window's rules.
    install_crd(api_client, PROMETHEUS_RULE_CRD_PATH)
    # The README's install steps: CRDs first (they must be established before objects of their kinds).
    kubectl(testbed_state, "apply", "-f", str(REPO / "crds"), "-f", str(REPO / "deploy" / "peering.yaml"))
    kubectl(testbed_state, "wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev")
    kubectl(testbed_state, "apply", "-k", str(REPO / "deploy"))
    token = kubectl(testbed_state, "-n", "hotfix-system", "create", "token", "hotfix-operator", "--duration=1h").strip()
    path = testbed.work_dir / "operator-sa.kubeconfig"
    cluster_state = testbed.cluster_state
    write_kubeconfig(path, cluster_state.server, token, Path(cluster_state.work_dir) / "pki" / "apiserver.crt",
                     user="system:serviceaccount:hotfix-system:hotfix-operator")  # fmt: skip
    return str(path)


@pytest.fixture(scope="module")
def operator_as_service_account(
    testbed: TestBed, testbed_state: TestBedState, service_account_kubeconfig: str
) -> Iterator[OperatorProcess]:
    # As deployed: with peering, which needs its own permissions.
    # As a multi-tenant cluster runs it: every Hotfix must name the ServiceAccount it acts as.
    process = OperatorProcess(
        service_account_kubeconfig, testbed_state.prometheus_url, testbed.work_dir / "rbac.log",
        extra_args=("--peering", "hotfix-operator", "--require-service-account"),
    )  # fmt: skip
    process.start()
    yield process
    process.stop()


def test_deploy_manifests_install(api_client: client.ApiClient, service_account_kubeconfig: str) -> None:
    deployment = client.AppsV1Api(api_client).read_namespaced_deployment("hotfix-operator", "hotfix-system")
    assert deployment.spec.replicas == 1
    assert deployment.spec.strategy.type == "Recreate"
    container = deployment.spec.template.spec.containers[0]
    assert container.security_context.read_only_root_filesystem is True
    assert deployment.spec.template.spec.security_context.run_as_non_root is True
    assert container.liveness_probe.http_get.path == "/healthz"


def test_service_account_is_enough_for_a_rollback(
    operator_as_service_account: OperatorProcess, api_client: client.ApiClient, namespace: str
) -> None:
    cluster = Cluster(api_client, namespace)
    cluster.core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="pager"), string_data={"url": "http://127.0.0.1:9/x"}),
    )
    tenant_service_account(api_client, namespace, "deployer", DEPLOYER_RULES)
    cluster.create_deployment("web")
    hotfix = hotfix_manifest(
        "web-fix", ["web"], BAD_IMAGE, notify={"webhook": {"urlSecretRef": {"name": "pager", "key": "url"}}}
    )
    hotfix["spec"]["serviceAccountName"] = "deployer"
    cluster.apply_hotfix(hotfix)
    status = cluster.wait_phase("web-fix", "RolledBack", "Escalated", "Failed")
    assert status["phase"] == "RolledBack", status
    # The window's PrometheusRule was created and removed with the ServiceAccount's own rights.
    assert status["alertRules"]["state"] == "withdrawn", status["alertRules"]
    assert cluster.image("web") == GOOD_IMAGE
    assert "Decision" in cluster.event_reasons("web-fix")
    log = Path(operator_as_service_account.log_path).read_text()
    assert "Forbidden" not in log and " 403" not in log


def test_service_account_is_enough_for_a_policy_guard(
    operator_as_service_account: OperatorProcess, api_client: client.ApiClient, namespace: str
) -> None:
    """Watching Deployments, creating the guard, reading the revisions as the policy's ServiceAccount."""
    cluster = Cluster(api_client, namespace)
    tenant_service_account(api_client, namespace, "deployer", DEPLOYER_RULES)
    policy = {
        "apiVersion": "hotfix.dev/v1alpha1",
        "kind": "HotfixPolicy",
        "metadata": {"name": "guard-web"},
        "spec": {"serviceAccountName": "deployer", **{k: v for k, v in hotfix_manifest("x", ["x"])["spec"].items()
                                                       if k in ("analysis", "rollback", "stability")}},
    }  # fmt: skip
    cluster.apply_policy(policy)
    cluster.create_deployment("shop", labels={"tier": "web"})
    cluster.set_image("shop", BAD_IMAGE)
    eventually(lambda: "shop-rev2" in cluster.hotfix_names(), timeout=30, what="the guard of shop's revision 2")
    status = cluster.wait_phase("shop-rev2", "RolledBack", "Escalated", "Failed")
    assert status["phase"] == "RolledBack", status
    assert cluster.image("shop") == GOOD_IMAGE
    log = Path(operator_as_service_account.log_path).read_text()
    assert "Forbidden" not in log and " 403" not in log


@pytest.mark.parametrize(
    ("verb", "group", "resource"),
    [
        ("delete", "apps", "deployments"),
        ("create", "apps", "deployments"),
        ("update", "apps", "deployments"),
        ("get", "", "pods"),
        ("delete", "", "pods"),
        ("list", "", "secrets"),
        ("get", "", "secrets"),
        ("get", "monitoring.coreos.com", "prometheusrules"),
        ("create", "monitoring.coreos.com", "servicemonitors"),
        ("delete", "hotfix.dev", "hotfixes"),
        ("create", "hotfix.dev", "hotfixpolicies"),
        ("patch", "hotfix.dev", "hotfixpolicies"),
        ("watch", "apps", "replicasets"),
        ("list", "apiextensions.k8s.io", "customresourcedefinitions"),
        ("patch", "", "nodes"),
    ],
)
def test_service_account_is_refused_what_it_does_not_need(
    service_account_kubeconfig: str, verb: str, group: str, resource: str
) -> None:
    as_operator = config.new_client_from_config(service_account_kubeconfig)
    review = client.AuthorizationV1Api(as_operator).create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    verb=verb, group=group, resource=resource, namespace="default"
                )
            )
        )
    )
    assert review.status.allowed is False


def test_a_tenant_cannot_change_what_it_could_not_patch_itself(
    operator_as_service_account: OperatorProcess,
    api_client: client.ApiClient,
    namespace: str,
    testbed: TestBed,
    testbed_state: TestBedState,
) -> None:
    """Mallory may create Hotfixes and nothing else. Naming her own ServiceAccount, or none, or a Secret
    she cannot read, gets her nothing: the operator acts with her rights or not at all."""
    cluster = Cluster(api_client, namespace)
    cluster.create_deployment("vault")
    hotfix_rules = [client.V1PolicyRule(api_groups=["hotfix.dev"], resources=["hotfixes"], verbs=["create", "get"])]
    tenant_service_account(api_client, namespace, "mallory", hotfix_rules)
    token = kubectl(testbed_state, "-n", namespace, "create", "token", "mallory", "--duration=10m").strip()
    path = testbed.work_dir / f"mallory-{namespace}.kubeconfig"
    cluster_state = testbed.cluster_state
    write_kubeconfig(path, cluster_state.server, token, Path(cluster_state.work_dir) / "pki" / "apiserver.crt",
                     user=f"system:serviceaccount:{namespace}:mallory")  # fmt: skip
    as_mallory = Cluster(config.new_client_from_config(str(path)), namespace)
    with pytest.raises(client.ApiException) as refused:
        as_mallory.apps.patch_namespaced_deployment("vault", namespace, {"metadata": {"labels": {"x": "y"}}})
    assert refused.value.status == 403

    as_herself = hotfix_manifest("as-mallory", ["vault"], BAD_IMAGE)
    as_herself["spec"]["serviceAccountName"] = "mallory"
    as_mallory.apply_hotfix(as_herself)
    anonymous = hotfix_manifest("as-operator", ["vault"], BAD_IMAGE)
    as_mallory.apply_hotfix(anonymous)

    status = cluster.wait_phase("as-mallory", "Failed", "Monitoring", "RolledBack", "Escalated")
    assert status["phase"] == "Failed", status
    message = next(c for c in status["conditions"] if c["type"] == "Succeeded")["message"]
    assert "403" in message and "system:serviceaccount:" + namespace + ":mallory" in message, message
    status = cluster.wait_phase("as-operator", "Failed", "Monitoring", "RolledBack", "Escalated")
    assert next(c for c in status["conditions"] if c["type"] == "Succeeded")["reason"] == "ServiceAccountRequired"
    assert cluster.image("vault") == GOOD_IMAGE
    assert cluster.revision("vault") == 1


def test_aggregated_roles_join_edit_and_view(service_account_kubeconfig: str, api_client: client.ApiClient) -> None:
    """deploy/ adds Hotfix rights to the standard roles: `edit` may create Hotfixes, `view` may read them."""
    rbac = client.RbacAuthorizationV1Api(api_client)

    def rules_of(role: str) -> list[Any]:
        return rbac.read_cluster_role(role).rules or []

    def grants(role: str, verb: str) -> bool:
        return any(
            "hotfix.dev" in (rule.api_groups or []) and "hotfixes" in (rule.resources or []) and verb in rule.verbs
            for rule in rules_of(role)
        )

    eventually(lambda: grants("edit", "create") and grants("view", "list"), 30, "the roles to be aggregated")
    assert not grants("view", "create")
