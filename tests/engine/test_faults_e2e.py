"""The operator comes through control-plane and Prometheus faults: no second rollout, no second undo, no
lost status, and every Hotfix served again soon after the fault ends (the figure each test records).

The operator reaches the API server and Prometheus through fault-injecting proxies; the API server and
etcd of the shared test bed are stopped and started in place.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotfix_operator.testbed.fault_proxy import FaultProxy
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import wait_until
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import BAD_IMAGE, FIXED_IMAGE, GOOD_IMAGE, Cluster, hotfix_manifest
from trust_records import trial

pytestmark = pytest.mark.trust

API_DOWN_SECONDS = 30
PROMETHEUS_TIMEOUT_SECONDS = 2
# Long enough that a healthy Hotfix stays in Monitoring for the whole test.
LONG_WINDOW = {"checkpoints": ["10m"]}


@pytest.fixture(scope="module")
def api_proxy(testbed: TestBed) -> Iterator[FaultProxy]:
    pki = testbed.cluster.work_dir / "pki"
    proxy = FaultProxy(testbed.cluster_state.server, (pki / "apiserver.crt", pki / "apiserver.key"))
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def prometheus_proxy(testbed_state: TestBedState) -> Iterator[FaultProxy]:
    proxy = FaultProxy(testbed_state.prometheus_url)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def faulty_operator(
    testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None, api_proxy: FaultProxy, prometheus_proxy: FaultProxy
) -> Iterator[OperatorProcess]:
    """The operator as it runs behind a load balancer: every API and Prometheus call through a proxy."""
    kubeconfig = yaml.safe_load(Path(testbed_state.kubeconfig).read_text())
    kubeconfig["clusters"][0]["cluster"]["server"] = api_proxy.url
    proxied = testbed.work_dir / "proxied.kubeconfig"
    proxied.write_text(yaml.safe_dump(kubeconfig))
    process = OperatorProcess(
        str(proxied),
        prometheus_proxy.url,
        testbed.work_dir / "faults.log",
        # Every analysis written (no detail period), so the tests see each one: that is the resume figure.
        env={"HOTFIX_PROMETHEUS_TIMEOUT_SECONDS": str(PROMETHEUS_TIMEOUT_SECONDS), "HOTFIX_STATUS_DETAIL_SECONDS": "0"},
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def operator_survives(faulty_operator: OperatorProcess) -> Iterator[None]:
    """Whatever the fault, the operator process is still the same one afterwards: no crash, no restart."""
    yield
    assert faulty_operator.process is not None and faulty_operator.process.poll() is None, "the operator exited"


def analysed_at(cluster: Cluster, name: str) -> float:
    at = (cluster.status(name).get("lastAnalysis") or {}).get("at")
    return datetime.fromisoformat(at).timestamp() if at else 0.0


def seconds_until_analysed_after(cluster: Cluster, names: list[str], moment: float, timeout: float = 60) -> float:
    """Seconds from ``moment`` until every named Hotfix has an analysis from after it in its status."""
    wait_until(
        lambda: all(analysed_at(cluster, name) > moment for name in names),
        timeout=timeout,
        what=f"{', '.join(names)} to be analysed again",
        interval=0.2,
    )
    return round(time.time() - moment, 1)


def timeline_types(status: dict[str, Any]) -> list[str]:
    return [entry["type"] for entry in status.get("timeline", [])]


def assert_status_kept(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Nothing written before the fault was lost: the old timeline is the start of the new one."""
    old = before.get("timeline", [])
    assert after.get("timeline", [])[: len(old)] == old


def slow_deployment(cluster: Cluster, name: str, min_ready_seconds: int) -> None:
    """A Deployment whose next rollout takes at least ``min_ready_seconds`` (each new pod must stay ready)."""
    cluster.create_deployment(name)
    cluster.apps.patch_namespaced_deployment(name, cluster.namespace, {"spec": {"minReadySeconds": min_ready_seconds}})


def test_api_server_down_in_rollout_rollback_and_monitoring(
    faulty_operator: OperatorProcess, testbed: TestBed, api_proxy: FaultProxy, cluster: Cluster
) -> None:
    """kube-apiserver killed for 30 s with one Hotfix rolling out, one between its undo intent and the undo
    patch (the proxy drops that patch and the server dies right then), and one monitoring."""
    with trial("fault", f"kube-apiserver down {API_DOWN_SECONDS}s (RollingOut, RollingBack mid-undo, Monitoring)") as t:
        for name in ("watched", "back"):
            cluster.create_deployment(name)
        slow_deployment(cluster, "rolling", min_ready_seconds=20)
        cluster.apply_hotfix(hotfix_manifest("watched-fix", ["watched"], FIXED_IMAGE, stability=LONG_WINDOW))
        cluster.apply_hotfix(hotfix_manifest("rolling-fix", ["rolling"], FIXED_IMAGE, stability=LONG_WINDOW))
        cluster.wait_phase("watched-fix", "Monitoring")
        cluster.wait_phase("rolling-fix", "RollingOut")
        # The controller-manager's informers take a while to catch up after the API server restarts; the
        # rollback's timeout counts from the undo patch, but must also cover that.
        cluster.apply_hotfix(hotfix_manifest("back-fix", ["back"], BAD_IMAGE, rollback={"timeout": "90s"}))
        wait_until(lambda: "RolloutStarted" in cluster.timeline_types("back-fix"), timeout=30, what="the bad rollout")
        # The next PATCH of that Deployment is the operator's undo, sent after its intent was written.
        tripped = api_proxy.trip("PATCH", f"/namespaces/{cluster.namespace}/deployments/back")
        assert tripped.wait(timeout=60), cluster.status("back-fix")
        # The operator retries the dropped patch only after a pause: there is time to look first.
        before = {name: cluster.status(name) for name in ("watched-fix", "rolling-fix", "back-fix")}
        testbed.cluster.stop_component("kube-apiserver", grace=0)
        api_proxy.heal()
        time.sleep(API_DOWN_SECONDS)
        testbed.cluster.start_component("kube-apiserver")
        ready_at = time.time()
        assert before["back-fix"]["phase"] == "RollingBack"
        assert before["back-fix"]["targets"][0].get("undoRequestedAt"), before["back-fix"]
        assert before["rolling-fix"]["phase"] == "RollingOut"

        resume = seconds_until_analysed_after(cluster, ["watched-fix", "rolling-fix"], ready_at)
        wait_until(lambda: cluster.revision("back") == 3, timeout=60, what="the undo after the outage")
        undo_after = round(time.time() - ready_at, 1)
        status = cluster.wait_phase("back-fix", "RolledBack", "Escalated")
        assert status["phase"] == "RolledBack", status
        assert cluster.image("back") == GOOD_IMAGE
        rolled = cluster.wait_phase("rolling-fix", "Monitoring", timeout=120)
        for name, after in (
            ("back-fix", status),
            ("rolling-fix", rolled),
            ("watched-fix", cluster.status("watched-fix")),
        ):
            assert_status_kept(before[name], after)
            assert timeline_types(after).count("RolloutStarted") == 1, after
        assert timeline_types(status).count("RollbackPatched") == 1
        # One rollout and one undo of "back" (revision 3), one rollout of "rolling" (revision 2).
        assert (cluster.revision("back"), cluster.deployment("back").metadata.generation) == (3, 3)
        assert cluster.revision("rolling") == 2
        assert cluster.status("watched-fix")["phase"] == "Monitoring"
        t.figures.update(resume_seconds=resume, undo_seconds_after_restart=undo_after, double_actions=0)


def test_etcd_restart_during_monitoring(faulty_operator: OperatorProcess, testbed: TestBed, cluster: Cluster) -> None:
    with trial("fault", "etcd restarted (Monitoring)") as t:
        cluster.create_deployment("ledger")
        cluster.apply_hotfix(hotfix_manifest("ledger-fix", ["ledger"], FIXED_IMAGE, stability=LONG_WINDOW))
        before = cluster.wait_phase("ledger-fix", "Monitoring")
        testbed.cluster.stop_component("etcd")
        time.sleep(5)
        testbed.cluster.start_component("etcd")
        ready_at = time.time()
        t.figures["resume_seconds"] = seconds_until_analysed_after(cluster, ["ledger-fix"], ready_at)
        after = cluster.status("ledger-fix")
        assert after["phase"] == "Monitoring"
        assert_status_kept(before, after)
        assert cluster.revision("ledger") == 2
        t.figures["double_actions"] = 0


def test_throttled_and_failing_api_during_a_whole_rollback(
    faulty_operator: OperatorProcess, api_proxy: FaultProxy, cluster: Cluster
) -> None:
    """Half the operator's API calls answered 429 (Retry-After: 1), then half answered 500, while one Hotfix
    rolls out a bad change and rolls it back and another keeps monitoring."""
    with trial("fault", "API answering 429 with Retry-After, then 500s (whole rollback)") as t:
        for name in ("orders", "stock"):
            cluster.create_deployment(name)
        cluster.apply_hotfix(hotfix_manifest("stock-fix", ["stock"], FIXED_IMAGE, stability=LONG_WINDOW))
        cluster.wait_phase("stock-fix", "Monitoring")
        api_proxy.fail(429, share=0.5, seconds=15, retry_after=1)
        cluster.apply_hotfix(hotfix_manifest("orders-fix", ["orders"], BAD_IMAGE))
        cluster.wait_phase("orders-fix", "RollingBack", "RolledBack", "Escalated", timeout=60)
        api_proxy.fail(500, share=0.5, seconds=15)
        status = cluster.wait_phase("orders-fix", "RolledBack", "Escalated", timeout=120)
        ended_at = time.time()
        api_proxy.heal()
        assert status["phase"] == "RolledBack", status
        assert timeline_types(status).count("RolloutStarted") == 1
        assert timeline_types(status).count("RollbackPatched") == 1
        assert (cluster.revision("orders"), cluster.image("orders")) == (3, GOOD_IMAGE)
        assert api_proxy.counts["injected-429"] > 0 and api_proxy.counts["injected-500"] > 0, api_proxy.counts
        t.figures["resume_seconds"] = seconds_until_analysed_after(cluster, ["stock-fix"], ended_at)
        assert cluster.status("stock-fix")["phase"] == "Monitoring"
        t.figures.update(injected=api_proxy.counts["injected-429"] + api_proxy.counts["injected-500"], double_actions=0)


def test_prometheus_faults_are_missing_telemetry_within_an_interval_and_a_timeout(
    faulty_operator: OperatorProcess, prometheus_proxy: FaultProxy, cluster: Cluster
) -> None:
    """Prometheus answering after the timeout, with a body that is not JSON, or with 500, one after the
    other: each time the Hotfix says TelemetryMissing within one interval plus one timeout, holds (no
    rollback), and recovers after."""
    cluster.create_deployment("search")
    cluster.apply_hotfix(hotfix_manifest("search-fix", ["search"], FIXED_IMAGE, stability=LONG_WINDOW))
    cluster.wait_phase("search-fix", "Monitoring")

    def telemetry_missing() -> bool:
        healthy = next(c for c in cluster.status("search-fix")["conditions"] if c["type"] == "Healthy")
        return healthy["reason"] == "TelemetryMissing"

    for fault in ("hung", "malformed", "http-500"):
        with trial("fault", f"Prometheus {fault} (Monitoring)") as t:
            seconds_until_analysed_after(cluster, ["search-fix"], time.time())
            assert not telemetry_missing()
            started = time.time()
            if fault == "hung":
                prometheus_proxy.hang(PROMETHEUS_TIMEOUT_SECONDS * 3)
            elif fault == "malformed":
                prometheus_proxy.malformed(seconds=60)
            else:
                prometheus_proxy.fail(500, share=1.0, seconds=60)
            try:
                wait_until(telemetry_missing, timeout=30, what="TelemetryMissing", interval=0.2)
                detected = round(time.time() - started, 1)
            finally:
                prometheus_proxy.heal()
            healed_at = time.time()
            wait_until(lambda: not telemetry_missing(), timeout=30, what="the analysis to recover", interval=0.2)
            status = cluster.status("search-fix")
            assert status["phase"] == "Monitoring", status
            assert "RollingBack" not in timeline_types(status)
            # One 1 s interval, one 2 s timeout, and the status write and the test's own polling.
            assert detected <= 1 + PROMETHEUS_TIMEOUT_SECONDS + 2, detected
            t.figures.update(
                detected_seconds=detected, resume_seconds=round(time.time() - healed_at, 1), double_actions=0
            )


def test_cut_watches_are_resumed(faulty_operator: OperatorProcess, api_proxy: FaultProxy, cluster: Cluster) -> None:
    """Every watch connection of the operator cut at once: a Hotfix created right after is still served."""
    with trial("fault", "watch connections cut") as t:
        cluster.create_deployment("mail")
        cut = api_proxy.cut_streams()
        assert cut > 0
        cut_at = time.time()
        cluster.apply_hotfix(hotfix_manifest("mail-fix", ["mail"], FIXED_IMAGE, stability=LONG_WINDOW))
        cluster.wait_phase("mail-fix", "Pending", "RollingOut", "Monitoring", timeout=60)
        t.figures["resume_seconds"] = round(time.time() - cut_at, 1)
        status = cluster.wait_phase("mail-fix", "Monitoring")
        assert timeline_types(status).count("RolloutStarted") == 1
        t.figures.update(watches_cut=cut, double_actions=0)
