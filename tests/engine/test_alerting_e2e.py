"""The window's thresholds as Prometheus alert rules: said once when the cluster has no prometheus-
operator; otherwise published as a PrometheusRule owned by the Hotfix, firing in a real Prometheus
when the analysis says breached, and withdrawn when the window closes."""

from __future__ import annotations

import contextlib

from kubernetes import client

from hotfix_operator.rules.lifecycle import ROLLBACK_REQUEST
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBed
from operator_support import BAD_IMAGE, FIXED_IMAGE, Cluster, eventually, hotfix_manifest
from testbed_support import PrometheusQuery


def test_without_the_prometheus_operator_it_says_so_and_carries_on(
    running_operator: OperatorProcess, cluster: Cluster, api_client: client.ApiClient
) -> None:
    extensions = client.ApiextensionsV1Api(api_client)
    with contextlib.suppress(client.ApiException):
        extensions.delete_custom_resource_definition("prometheusrules.monitoring.coreos.com")

    def gone() -> bool:
        try:
            extensions.read_custom_resource_definition("prometheusrules.monitoring.coreos.com")
        except client.ApiException as error:
            return error.status == 404
        return False

    eventually(gone, 30, "no PrometheusRule kind in the cluster")
    cluster.create_deployment("shelf")
    cluster.apply_hotfix(hotfix_manifest("shelf-fix", ["shelf"], FIXED_IMAGE))
    status = cluster.wait_phase("shelf-fix", "Monitoring", "Stable")
    published = next(c for c in status["conditions"] if c["type"] == "AlertRulesPublished")
    assert (published["status"], published["reason"]) == ("False", "PrometheusRuleCRDMissing"), published
    assert cluster.event_reasons("shelf-fix").count("AlertRulesUnsupported") == 1
    assert cluster.wait_phase("shelf-fix", "Stable")["phase"] == "Stable"


def test_rules_fire_in_prometheus_and_are_withdrawn(
    running_operator: OperatorProcess,
    prometheus_rule_crd: None,
    cluster: Cluster,
    testbed: TestBed,
    prometheus: PrometheusQuery,
) -> None:
    cluster.create_deployment("till")
    body = hotfix_manifest("till-fix", ["till"], BAD_IMAGE)
    # Manual mode keeps the bad version running until a person confirms: time for the alert to fire.
    body["spec"]["rollback"]["mode"] = "manual"
    body["metadata"]["labels"] = {"team": "payments"}
    cluster.apply_hotfix(body)
    eventually(lambda: (cluster.status("till-fix").get("alertRules") or {}).get("state") == "published", 30,
               "the PrometheusRule to be published")  # fmt: skip
    hotfix = cluster.hotfix("till-fix")
    rule = cluster.custom.get_namespaced_custom_object(
        "monitoring.coreos.com", "v1", cluster.namespace, "prometheusrules", "hotfix-till-fix"
    )
    [owner] = rule["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("Hotfix", hotfix["metadata"]["uid"])
    [group] = rule["spec"]["groups"]
    assert {r["alert"] for r in group["rules"]} == {"HotfixErrorRateHigh", "HotfixLatencyP95High",
                                                     "HotfixCrashFreeSessionsLow"}  # fmt: skip
    assert all(r["labels"]["team"] == "payments" and r["labels"]["incident"] == "INC-till-fix" for r in group["rules"])
    # The test bed's Prometheus plays the prometheus-operator: it loads the object's rule groups.
    assert testbed.prometheus is not None
    testbed.prometheus.load_rules(f"{cluster.namespace}-till-fix", rule["spec"]["groups"])
    firing = (
        f'count(ALERTS{{alertname="HotfixErrorRateHigh",alertstate="firing",hotfix="till-fix",'
        f'hotfix_namespace="{cluster.namespace}"}})'
    )
    try:
        eventually(lambda: prometheus.scalar(firing) == 1, 60, "the error-rate alert to fire in Prometheus")

        # The operator's own analysis says the same within an interval or two: a rollback, waiting for a person.
        def recommended() -> bool:
            decision = cluster.status("till-fix").get("decision") or {}
            return decision.get("action") == "rollback" and bool(decision.get("pendingConfirmation"))

        eventually(recommended, 10, "the operator to recommend the rollback too")
        cluster.annotate_hotfix("till-fix", ROLLBACK_REQUEST, "alice")
        status = cluster.wait_phase("till-fix", "RolledBack", "Escalated", timeout=120)
        assert status["phase"] == "RolledBack", status
        assert status["alertRules"]["state"] == "withdrawn"
        try:
            cluster.custom.get_namespaced_custom_object(
                "monitoring.coreos.com", "v1", cluster.namespace, "prometheusrules", "hotfix-till-fix"
            )
            raise AssertionError("the PrometheusRule outlived the window")
        except client.ApiException as error:
            assert error.status == 404
    finally:
        testbed.prometheus.load_rules(f"{cluster.namespace}-till-fix", [])
