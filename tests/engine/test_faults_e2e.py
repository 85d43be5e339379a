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
        env={"HOTFIX_PROMETHEUS_TIMEOUT_SECONDS": str(PROMETHEUS_TIMEOUT_SECONDS)},
    )
    process.start()
    yield process
    process.stop()


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
        slow_deployment(cluster, "rolling", min_ready_seconds=30)
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
