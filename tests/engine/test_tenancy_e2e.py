"""Two tenants on one cluster, each with its own ServiceAccount: tenant A tries, as a hostile tenant would,
to act on or read tenant B's namespace through its own Hotfix. Real API server, real Prometheus."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator

import pytest
import yaml
from kubernetes import client

from hotfix_operator.cli import main as cli
from hotfix_operator.rules.lifecycle import ROLLBACK_REQUESTED_BY
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import (
    BAD_IMAGE,
    DEPLOYER_RULES,
    FIXED_IMAGE,
    GOOD_IMAGE,
    QUIET_IMAGE,
    Cluster,
    eventually,
    hotfix_manifest,
    tenant_service_account,
)
from testbed_support import PrometheusQuery


@pytest.fixture(scope="module")
def tenancy_operator(testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None) -> Iterator[OperatorProcess]:
    # As a multi-tenant cluster runs it: every Hotfix names the ServiceAccount it acts as.
    process = OperatorProcess(
        testbed_state.kubeconfig, testbed_state.prometheus_url, testbed.work_dir / "tenancy.log",
        extra_args=("--require-service-account",),
    )  # fmt: skip
    process.start()
    yield process
    process.stop()


def tenant(api_client: client.ApiClient, prometheus: PrometheusQuery, namespace: str) -> Cluster:
    tenant_service_account(api_client, namespace, "deployer", DEPLOYER_RULES)
    return Cluster(api_client, namespace, prometheus)


@pytest.fixture
def tenant_a(api_client: client.ApiClient, prometheus: PrometheusQuery, namespace: str) -> Cluster:
    return tenant(api_client, prometheus, namespace)


@pytest.fixture
def tenant_b(api_client: client.ApiClient, prometheus: PrometheusQuery) -> Iterator[Cluster]:
    name = f"b-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield tenant(api_client, prometheus, name)
    core.delete_namespace(name)


def tenant_hotfix(name: str, deployment: str, image: str, incident: dict, **spec: object) -> dict:
    body = hotfix_manifest(name, [deployment], image, **spec)
    body["spec"]["incident"] = incident
    body["spec"]["serviceAccountName"] = "deployer"
    return body


def monitored_ledger_fix(tenant_b: Cluster, **incident: object) -> None:
    """Tenant B's healthy hotfix of incident INC-4242, rolled out a moment ago and being watched."""
    tenant_b.create_deployment("ledger")
    body = tenant_hotfix(
        "ledger-fix", "ledger", FIXED_IMAGE, {"id": "INC-4242", "severity": "SEV1", **incident},
        stability={"checkpoints": ["10m"]},
    )  # fmt: skip
    tenant_b.apply_hotfix(body)
    tenant_b.wait_phase("ledger-fix", "Monitoring")


def bad_auth_fix_of_the_same_incident(tenant_a: Cluster) -> dict:
    """Tenant A copies B's incident id, names several services and no culprit, and breaches its own target."""
    tenant_a.create_deployment("auth")
    incident = {"id": "INC-4242", "severity": "SEV1", "affectedServices": ["auth", "ledger"]}
    tenant_a.apply_hotfix(tenant_hotfix("auth-fix", "auth", BAD_IMAGE, incident))
    status = tenant_a.wait_phase("auth-fix", "RolledBack", "Escalated", "Failed")
    assert status["decision"]["rule"] == "multi-service-unclear", status
    assert status["phase"] == "RolledBack", status
    return status


def event_messages(cluster: Cluster, name: str, reason: str) -> list[str]:
    events = cluster.core.list_namespaced_event(cluster.namespace, field_selector=f"involvedObject.name={name}")
    return [event.message for event in events.items if event.reason == reason]


def test_a_tenant_cannot_get_another_namespaces_hotfix_rolled_back(
    tenancy_operator: OperatorProcess, tenant_a: Cluster, tenant_b: Cluster
) -> None:
    monitored_ledger_fix(tenant_b)
    revision_before = tenant_b.revision("ledger")
    status = bad_auth_fix_of_the_same_incident(tenant_a)
    # A's own rollback went ahead; B was not asked, and both sides were told so.
    assert tenant_a.image("auth") == GOOD_IMAGE
    refusal = next(entry for entry in status["timeline"] if entry["type"] == "RollbackRequestRefused")
    assert tenant_b.namespace in refusal["message"] and "ledger-fix" not in refusal["message"], refusal
    assert event_messages(tenant_a, "auth-fix", "RollbackRequestRefused")
    eventually(lambda: bool(event_messages(tenant_b, "ledger-fix", "RollbackRequestRefused")), timeout=10,
               what="the refusal Event on B's Hotfix")  # fmt: skip
    [told_b] = event_messages(tenant_b, "ledger-fix", "RollbackRequestRefused")
    assert f"{tenant_a.namespace}/auth-fix" in told_b and "acceptRollbackRequestsFrom" in told_b, told_b
    ledger = tenant_b.hotfix("ledger-fix")
    assert ROLLBACK_REQUESTED_BY not in (ledger["metadata"].get("annotations") or {})
    assert ledger["status"]["phase"] == "Monitoring"
    assert (tenant_b.image("ledger"), tenant_b.revision("ledger")) == (FIXED_IMAGE, revision_before)

    # The asked side checks too: a request naming another namespace that got onto B's Hotfix is not acted on.
    tenant_b.annotate_hotfix(
        "ledger-fix", ROLLBACK_REQUESTED_BY, f"{tenant_a.namespace}/auth-fix (multi-service-unclear)"
    )
    eventually(lambda: "RollbackRequestRefused" in tenant_b.timeline_types("ledger-fix"), timeout=15,
               what="B's Hotfix to refuse the request")  # fmt: skip
    assert tenant_b.status("ledger-fix")["phase"] == "Monitoring"
    assert (tenant_b.image("ledger"), tenant_b.revision("ledger")) == (FIXED_IMAGE, revision_before)


def test_a_multi_namespace_incident_rolls_back_once_the_other_side_consents(
    tenancy_operator: OperatorProcess, tenant_a: Cluster, tenant_b: Cluster
) -> None:
    monitored_ledger_fix(tenant_b, acceptRollbackRequestsFrom=[tenant_a.namespace])
    bad_auth_fix_of_the_same_incident(tenant_a)
    ledger = tenant_b.wait_phase("ledger-fix", "RolledBack", "Escalated")
    assert ledger["phase"] == "RolledBack", ledger
    assert ledger["decision"]["rule"] == "multi-service-unclear"
    assert f"{tenant_a.namespace}/auth-fix" in ledger["decision"]["reason"]
    assert tenant_b.image("ledger") == GOOD_IMAGE
    assert "RollbackRequested" in tenant_a.timeline_types("auth-fix")


def b_error_ratio(namespace: str) -> str:
    return (
        f'sum(rate(http_requests_total{{namespace="{namespace}",code=~"5.."}}[3s]))'
        f' / sum(rate(http_requests_total{{namespace="{namespace}"}}[3s]))'
    )


@pytest.mark.parametrize("shape", ["plain", "relabelled"])
def test_an_override_selecting_another_namespaces_series_is_refused_before_anything_changes(
    tenancy_operator: OperatorProcess, tenant_a: Cluster, tenant_b: Cluster, shape: str
) -> None:
    # B's service is failing: the number a hostile override would want to read.
    tenant_b.create_deployment("ledger", image=BAD_IMAGE)
    query = b_error_ratio(tenant_b.namespace)
    if shape == "relabelled":
        query = f'label_replace({query}, "namespace", "{tenant_a.namespace}", "", "")'
    tenant_a.create_deployment("auth")
    body = tenant_hotfix("auth-fix", "auth", FIXED_IMAGE, {"id": "INC-1", "severity": "SEV2"})
    body["spec"]["analysis"]["errorRate"]["query"] = query
    tenant_a.apply_hotfix(body)
    status = tenant_a.wait_phase("auth-fix", "Failed", "Monitoring", "RolledBack", "Escalated")
    assert status["phase"] == "Failed", status
    succeeded = next(c for c in status["conditions"] if c["type"] == "Succeeded")
    assert succeeded["reason"] == "QueryOverrideRefused"
    assert succeeded["message"].startswith("spec.analysis.errorRate.query: every selector must carry"), succeeded
    # Refused before any query ran: nothing measured, nothing rolled out.
    assert not status.get("lastAnalysis"), status["lastAnalysis"]
    assert tenant_a.image("auth") == GOOD_IMAGE
    assert "QueryOverrideRefused" in tenant_a.event_reasons("auth-fix")


def test_an_override_edited_in_mid_window_is_refused_at_the_next_step(
    tenancy_operator: OperatorProcess, tenant_a: Cluster, tenant_b: Cluster
) -> None:
    tenant_b.create_deployment("ledger", image=BAD_IMAGE)
    tenant_a.create_deployment("auth")
    body = tenant_hotfix("auth-fix", "auth", FIXED_IMAGE, {"id": "INC-2", "severity": "SEV2"},
                         stability={"checkpoints": ["10m"]})  # fmt: skip
    tenant_a.apply_hotfix(body)
    tenant_a.wait_phase("auth-fix", "Monitoring")
    tenant_a.patch_hotfix(
        "auth-fix", {"spec": {"analysis": {"errorRate": {"query": b_error_ratio(tenant_b.namespace)}}}}
    )
    status = tenant_a.wait_phase("auth-fix", "Failed", "RolledBack", "Escalated", timeout=30)
    assert status["phase"] == "Failed", status
    # The last analysis is the one of A's own series, before the edit: B's 5% never shows up in A's status (as
    # an error-rate value, or in the words of a reason).
    analysis = status.get("lastAnalysis") or {}
    error_rates = [result.get("value") for results in (analysis.get("metrics") or {}).values() for result in results
                   if result.get("metric") == "errorRate"]  # fmt: skip
    assert all(value is None or value < 0.01 for value in error_rates), analysis
    assert "5.00%" not in json.dumps(analysis), analysis


def test_the_telemetry_diagnosis_lists_only_the_tenants_own_workloads(
    tenancy_operator: OperatorProcess,
    tenant_a: Cluster,
    tenant_b: Cluster,
    testbed_state: TestBedState,
) -> None:
    tenant_b.create_deployment("ledger")
    tenant_a.create_deployment("web")
    # Serves nothing: its request series never appear, so the diagnosis lists what the namespace has instead.
    tenant_a.create_deployment("quiet", image=QUIET_IMAGE)
    body = tenant_hotfix("quiet-fix", "quiet", FIXED_IMAGE, {"id": "INC-3", "severity": "SEV3"})
    body["spec"]["analysis"]["requireTelemetry"] = True
    tenant_a.apply_hotfix(body)

    def diagnosis() -> str:
        ready = {c["type"]: c for c in tenant_a.status("quiet-fix").get("conditions", [])}.get("TelemetryReady", {})
        return ready.get("message", "") if ready.get("status") == "False" else ""

    eventually(lambda: "values seen" in diagnosis(), timeout=20, what="the diagnosis to list what it found")
    message = diagnosis()
    assert "web" in message, message
    assert "ledger" not in message and tenant_b.namespace not in message, message
    # The same check from the command line.
    manifest = io.StringIO(yaml.safe_dump(body | {"metadata": {"name": "quiet-fix", "namespace": tenant_a.namespace}}))
    out, err = io.StringIO(), io.StringIO()
    arguments = [
        "analyze",
        "-f",
        "-",
        "--explain",
        "--prometheus",
        testbed_state.prometheus_url,
        "--min-rate-window",
        "3s",
    ]
    cli.main(arguments, stdin=manifest, stdout=out, stderr=err)
    explained = out.getvalue()
    assert "values seen" in explained and "web" in explained, explained + err.getvalue()
    assert "ledger" not in explained and tenant_b.namespace not in explained, explained
