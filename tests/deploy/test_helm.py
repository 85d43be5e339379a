"""The Helm chart, with the real helm (built by hack/build-helm.sh): lint, server-side dry run, and an
install whose ServiceAccount takes a bad hotfix through a rollback. deploy/ and the chart agree."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from hotfix_operator.testbed.cluster import write_kubeconfig
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import BAD_IMAGE, GOOD_IMAGE, Cluster, hotfix_manifest
from testbed_support import PROMETHEUS_RULE_CRD_PATH, REPO, install_crd, kubectl

# helm and the chart's install are real parts, like the control plane.
pytestmark = pytest.mark.real

CHART = REPO / "charts" / "hotfix-operator"
RELEASE = "hx"


def run_helm(testbed_state: TestBedState | None, *args: str) -> subprocess.CompletedProcess[str]:
    binary = subprocess.run(
        [str(REPO / "hack" / "build-helm.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    kubeconfig = [f"--kubeconfig={testbed_state.kubeconfig}"] if testbed_state else []
    return subprocess.run([binary, *kubeconfig, *args], capture_output=True, text=True, check=False)


def helm(testbed_state: TestBedState | None, *args: str) -> str:
    completed = run_helm(testbed_state, *args)
    assert completed.returncode == 0, f"helm {' '.join(args)}: {completed.stdout}{completed.stderr}"
    return completed.stdout


def rendered(*values: str) -> list[dict[str, Any]]:
    # Plain `helm template`, as a person types it: the helm built with its version ldflags knows a Kubernetes
    # the chart accepts (without them it assumes v1.20 and refuses the chart's kubeVersion).
    text = helm(None, "template", RELEASE, str(CHART), "--namespace", "hotfix-system", *values)
    return [document for document in yaml.safe_load_all(text) if document]


def deploy_documents() -> list[dict[str, Any]]:
    return [
        doc for path in sorted((REPO / "deploy").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc
    ]


def operator_rules(documents: list[dict[str, Any]], name: str) -> set[tuple[tuple[str, ...], ...]]:
    [role] = [doc for doc in documents if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == name]
    return {
        (tuple(sorted(rule["apiGroups"])), tuple(sorted(rule["resources"])), tuple(sorted(rule["verbs"])))
        for rule in role["rules"]
    }


def test_chart_lints() -> None:
    assert "0 chart(s) failed" in helm(None, "lint", str(CHART), "--strict")


def test_chart_and_deploy_agree_on_rbac_and_security() -> None:
    chart, kustomize = rendered(), deploy_documents()
    assert operator_rules(chart, RELEASE) == operator_rules(kustomize, "hotfix-operator")
    assert operator_rules(chart, f"{RELEASE}-edit") == operator_rules(kustomize, "hotfix-edit")
    assert operator_rules(chart, f"{RELEASE}-view") == operator_rules(kustomize, "hotfix-view")
    [chart_deployment] = [doc for doc in chart if doc["kind"] == "Deployment"]
    [deploy_deployment] = [doc for doc in kustomize if doc["kind"] == "Deployment"]
    for spec in (chart_deployment["spec"], deploy_deployment["spec"]):
        assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    chart_pod, deploy_pod = chart_deployment["spec"]["template"]["spec"], deploy_deployment["spec"]["template"]["spec"]
    assert chart_pod["securityContext"] == deploy_pod["securityContext"]
    assert chart_pod["containers"][0]["securityContext"] == deploy_pod["containers"][0]["securityContext"]
    assert chart_pod["containers"][0]["resources"] == deploy_pod["containers"][0]["resources"]
    # Kopf's peering identity must be the pod's name in both, so a restarted pod finds its own keep-alive.
    pod_name = {"valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    for pod in (chart_pod, deploy_pod):
        [pod_id] = [item for item in pod["containers"][0]["env"] if item["name"] == "POD_ID"]
        assert {key: value for key, value in pod_id.items() if key != "name"} == pod_name


def test_values_reach_the_operator() -> None:
    documents = rendered(
        "--set", "telemetry=istio", "--set", "watchNamespaces={shop,payments}", "--set", "requireServiceAccount=true",
        "--set", "alertRules.labels.release=kube-prometheus-stack", "--set", "serviceMonitor.enabled=true",
        "--set", "prometheus.endpoints[0].name=team-a", "--set", "prometheus.endpoints[0].url=http://prom-a:9090",
        "--set", "prometheus.endpoints[0].credentialsSecret=prom-a", "--set", "allowQueryOverrides=false",
    )  # fmt: skip
    [deployment] = [doc for doc in documents if doc["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["HOTFIX_TELEMETRY"] == "istio" and env["HOTFIX_RULE_LABELS"] == "release=kube-prometheus-stack"
    assert env["HOTFIX_ALLOW_QUERY_OVERRIDES"] == "false"
    assert {"--namespace=shop", "--namespace=payments", "--require-service-account"} <= set(container["args"])
    [config_map] = [doc for doc in documents if doc["kind"] == "ConfigMap"]
    endpoints = yaml.safe_load(config_map["data"]["endpoints.yaml"])["endpoints"]
    assert endpoints == [
        {"name": "team-a", "url": "http://prom-a:9090", "timeoutSeconds": 10,
         "bearerTokenFile": "/var/run/secrets/prometheus-team-a/token"}
    ]  # fmt: skip
    assert any(doc["kind"] == "ServiceMonitor" for doc in documents)
    # With watchNamespaces, Kopf's peering is per namespace: a KopfPeering and the right to use it in each.
    peerings = [doc for doc in documents if doc["kind"] == "KopfPeering"]
    assert sorted(doc["metadata"]["namespace"] for doc in peerings) == ["payments", "shop"]
    assert not [doc for doc in documents if doc["kind"] == "ClusterKopfPeering"]
    roles = [doc for doc in documents if doc["kind"] == "Role"]
    assert {(doc["metadata"]["namespace"], doc["rules"][0]["resources"][0]) for doc in roles} == {
        ("shop", "kopfpeerings"),
        ("payments", "kopfpeerings"),
    }


def test_the_values_people_look_for_reach_the_pod() -> None:
    documents = rendered(
        "--set", "nodeSelector.pool=system", "--set", "tolerations[0].key=dedicated",
        "--set", "tolerations[0].operator=Exists", "--set", "imagePullSecrets[0].name=registry",
        "--set", "podAnnotations.team=sre", "--set", "priorityClassName=system-cluster-critical",
        "--set", "serviceAccount.create=false", "--set", "serviceAccount.name=platform-operator",
        "--set", "rbac.create=false",
    )  # fmt: skip
    [deployment] = [doc for doc in documents if doc["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"] == {"team": "sre"}
    assert pod["spec"]["nodeSelector"] == {"pool": "system"}
    assert pod["spec"]["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert pod["spec"]["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["spec"]["priorityClassName"] == "system-cluster-critical"
    assert pod["spec"]["serviceAccountName"] == "platform-operator"
    kinds = {doc["kind"] for doc in documents}
    assert "ServiceAccount" not in kinds and "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds


def test_a_mistyped_or_ill_typed_value_is_refused_naming_it() -> None:
    for value, named in (("telemtry=istio", "telemtry"), ("prometheus.timeoutSeconds=soon", "timeoutSeconds"),
                         ("telemetry=prom", "telemetry"), ("alertmanager.resend=often", "resend"),
                         ("serviceAccount.create=false", "serviceAccount.name")):  # fmt: skip
        completed = run_helm(None, "template", RELEASE, str(CHART), "--set", value)
        assert completed.returncode != 0, value
        assert named in completed.stderr, (value, completed.stderr)


@pytest.fixture(scope="module")
def chart_installed(testbed: TestBed, testbed_state: TestBedState, api_client: client.ApiClient) -> Iterator[str]:
    install_crd(api_client, PROMETHEUS_RULE_CRD_PATH)
    namespace = "helm-hotfix"
    helm(testbed_state, "install", RELEASE, str(CHART), "--namespace", namespace, "--create-namespace",
         "--set", "peering.enabled=false", "--wait=false")  # fmt: skip
    yield namespace
    helm(testbed_state, "uninstall", RELEASE, "--namespace", namespace)


def test_template_passes_server_side_dry_run(testbed_state: TestBedState, chart_installed: str) -> None:
    # Rendered against the live cluster (its version, its API groups), then applied as a server-side dry run.
    manifest = helm(
        testbed_state, "template", "dry", str(CHART), "--namespace", chart_installed, "--set", "peering.enabled=false",
        "--validate",
    )  # fmt: skip
    path = Path(testbed_state.kubeconfig).with_name("chart-dry-run.yaml")
    path.write_text(manifest)
    out = kubectl(testbed_state, "apply", "--dry-run=server", "-f", str(path))
    assert "deployment.apps/dry created (server dry run)" in out


def test_operator_with_the_charts_rbac_rolls_back_a_bad_hotfix(
    testbed: TestBed, testbed_state: TestBedState, api_client: client.ApiClient, namespace: str, chart_installed: str
) -> None:
    token = kubectl(testbed_state, "-n", chart_installed, "create", "token", RELEASE, "--duration=1h").strip()
    path = testbed.work_dir / "helm-operator.kubeconfig"
    state = testbed.cluster_state
    write_kubeconfig(path, state.server, token, Path(state.work_dir) / "pki" / "apiserver.crt",
                     user=f"system:serviceaccount:{chart_installed}:{RELEASE}")  # fmt: skip
    process = OperatorProcess(str(path), testbed_state.prometheus_url, testbed.work_dir / "helm-operator.log")
    process.start()
    try:
        cluster = Cluster(api_client, namespace)
        cluster.create_deployment("web")
        cluster.apply_hotfix(hotfix_manifest("web-fix", ["web"], BAD_IMAGE))
        status = cluster.wait_phase("web-fix", "RolledBack", "Escalated", "Failed")
        assert status["phase"] == "RolledBack", status
        assert cluster.image("web") == GOOD_IMAGE
        assert status["alertRules"]["state"] == "withdrawn"
    finally:
        process.stop()
    log = Path(process.log_path).read_text()
    assert "Forbidden" not in log and " 403" not in log


def test_watching_namespaces_with_peering_on_a_real_install(
    testbed: TestBed, testbed_state: TestBedState, api_client: client.ApiClient, namespace: str
) -> None:
    # The chart's other way to run: only some namespaces, with Kopf's peering (then per namespace).
    release, install_namespace = "hxw", "helm-watching"
    out = helm(testbed_state, "install", release, str(CHART), "--namespace", install_namespace, "--create-namespace",
               "--set", f"watchNamespaces={{{namespace}}}", "--wait=false")  # fmt: skip
    assert f"watching {namespace}" in out and "kubectl hotfix status NAME" in out  # NOTES.txt: the next step
    process = None
    try:
        token = kubectl(testbed_state, "-n", install_namespace, "create", "token", release, "--duration=1h").strip()
        path = testbed.work_dir / "helm-watching.kubeconfig"
        state = testbed.cluster_state
        write_kubeconfig(path, state.server, token, Path(state.work_dir) / "pki" / "apiserver.crt",
                         user=f"system:serviceaccount:{install_namespace}:{release}")  # fmt: skip
        process = OperatorProcess(str(path), testbed_state.prometheus_url, testbed.work_dir / "helm-watching.log",
                                  extra_args=("--peering=hotfix-operator", f"--namespace={namespace}"))  # fmt: skip
        process.start()
        cluster = Cluster(api_client, namespace)
        cluster.create_deployment("web")
        cluster.apply_hotfix(hotfix_manifest("web-fix", ["web"], BAD_IMAGE))
        status = cluster.wait_phase("web-fix", "RolledBack", "Escalated", "Failed")
        assert status["phase"] == "RolledBack", status
        peering = client.CustomObjectsApi(api_client).get_namespaced_custom_object(
            "kopf.dev", "v1", namespace, "kopfpeerings", "hotfix-operator"
        )
        assert peering.get("status"), "the operator keeps itself alive in its namespace's peering"
    finally:
        if process is not None:
            process.stop()
        helm(testbed_state, "uninstall", release, "--namespace", install_namespace)
    log = Path(process.log_path).read_text()
    assert "Forbidden" not in log and " 403" not in log, log[-3000:]
