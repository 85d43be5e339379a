"""deploy/ installs on a real API server, and its RBAC is enough for the operator and no more."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from hotfix_operator.testbed.cluster import write_kubeconfig
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import BAD_IMAGE, GOOD_IMAGE, Cluster, hotfix_manifest
from testbed_support import REPO, kubectl


@pytest.fixture(scope="module")
def service_account_kubeconfig(testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None) -> str:
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
    process = OperatorProcess(
        service_account_kubeconfig, testbed_state.prometheus_url, testbed.work_dir / "rbac.log",
        extra_args=("--peering", "hotfix-operator"),
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
    cluster.create_deployment("web")
    hotfix = hotfix_manifest(
        "web-fix", ["web"], BAD_IMAGE, notify={"webhook": {"urlSecretRef": {"name": "pager", "key": "url"}}}
    )
    cluster.apply_hotfix(hotfix)
    status = cluster.wait_phase("web-fix", "RolledBack", "Escalated", "Failed")
    assert status["phase"] == "RolledBack", status
    assert cluster.image("web") == GOOD_IMAGE
    assert "Decision" in cluster.event_reasons("web-fix")
    log = Path(operator_as_service_account.log_path).read_text()
    assert "Forbidden" not in log and " 403" not in log


@pytest.mark.parametrize(
    ("verb", "group", "resource"),
    [
        ("delete", "apps", "deployments"),
        ("create", "apps", "deployments"),
        ("update", "apps", "deployments"),
        ("list", "", "pods"),
        ("list", "", "secrets"),
        ("delete", "hotfix.dev", "hotfixes"),
        ("create", "hotfix.dev", "hotfixes"),
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
