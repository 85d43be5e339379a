"""What watching Deployments for policies costs: the operator's memory and CPU with many Deployments
(BENCH_GUARD_DEPLOYMENTS, default 10,000, zero replicas, every one selected by a policy), the API requests
it makes while nothing changes, and how soon a change to one of them has its guard.

    python bench/bench_guard_watch.py        (make bench)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client, config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_operator import _cpu_seconds, _rss_mib, apiserver_requests
from results import record

from hotfix_operator.api.models import API_VERSION, GROUP, PLURAL, VERSION
from hotfix_operator.api.policy import POLICY_PLURAL
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import wait_until
from hotfix_operator.testbed.stack import TestBed
from operator_support import FIXED_IMAGE, deployment_manifest
from testbed_support import install_crd

DEPLOYMENTS = int(os.environ.get("BENCH_GUARD_DEPLOYMENTS", "10000"))
CHANGES = int(os.environ.get("BENCH_GUARD_CHANGES", "10"))
NAMESPACE = "bench-guard"
STEADY_SECONDS = 60.0
OPERATOR_ONLY = {("GET", "deployments"), ("LIST", "deployments"), ("POST", "hotfixes")}


def create_deployments(api_client: client.ApiClient, count: int) -> float:
    apps = client.AppsV1Api(api_client)
    started = time.monotonic()

    def create(index: int) -> None:
        manifest = deployment_manifest(f"svc-{index}", replicas=0, labels={"guard": "yes"})
        apps.create_namespaced_deployment(NAMESPACE, manifest)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, range(count)))
    return time.monotonic() - started


def stamped(api_client: client.ApiClient) -> int:
    """How many of the Deployments have their first revision."""
    items = client.AppsV1Api(api_client).list_namespaced_deployment(NAMESPACE, _preload_content=False)
    deployments = json.loads(items.data)["items"]
    return sum("deployment.kubernetes.io/revision" in (d["metadata"].get("annotations") or {}) for d in deployments)


def settle(operator_pid: int, quiet_seconds: float = 20.0, timeout: float = 900.0) -> None:
    """Wait until the operator's CPU use stays near zero: the initial list of the watch is processed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = _cpu_seconds(operator_pid)
        time.sleep(quiet_seconds)
        if (_cpu_seconds(operator_pid) - before) / quiet_seconds < 0.05:
            return
    raise TimeoutError("the operator never settled")


def guard_latencies(api_client: client.ApiClient, count: int) -> list[float]:
    """From the image patch of a Deployment to its guard Hotfix existing."""
    apps, custom = client.AppsV1Api(api_client), client.CustomObjectsApi(api_client)
    latencies = []
    for index in range(count):
        name = f"svc-{index}"
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": FIXED_IMAGE}]}}}}
        started = time.monotonic()
        apps.patch_namespaced_deployment(name, NAMESPACE, patch)

        def guarded(name: str = name) -> bool:
            try:
                custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, f"{name}-rev2")
            except client.ApiException:
                return False
            return True

        wait_until(guarded, timeout=600, what=f"the guard of {name}", interval=0.05)
        latencies.append(time.monotonic() - started)
    return latencies


def main() -> None:
    bed = TestBed(Path(tempfile.mkdtemp(prefix="hotfix-bench-guard-")))
    state = bed.start()
    operator = OperatorProcess(state.kubeconfig, state.prometheus_url, bed.work_dir / "operator.log")
    try:
        api_client = config.new_client_from_config(state.kubeconfig)
        install_crd(api_client)
        client.CoreV1Api(api_client).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        operator.start()
        assert operator.process is not None
        pid = operator.process.pid
        settle(pid)
        idle_rss = _rss_mib(pid)
        policy = {"apiVersion": API_VERSION, "kind": "HotfixPolicy", "metadata": {"name": "guard-all"},
                  "spec": {"selector": {"matchLabels": {"guard": "yes"}}}}  # fmt: skip
        client.CustomObjectsApi(api_client).create_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, POLICY_PLURAL, policy
        )
        creation = create_deployments(api_client, DEPLOYMENTS)
        print(f"{DEPLOYMENTS} Deployments created in {creation:.0f}s")
        # The test bed's deployment controller stamps their first revisions at its own pace.
        wait_until(lambda: stamped(api_client) == DEPLOYMENTS, timeout=1800, what="every first revision", interval=5)
        settle(pid)
        requests_before, cpu_before, wall_before = apiserver_requests(bed), _cpu_seconds(pid), time.monotonic()
        time.sleep(STEADY_SECONDS)
        seconds = time.monotonic() - wall_before
        cpu = (_cpu_seconds(pid) - cpu_before) / seconds
        delta = apiserver_requests(bed)
        delta.subtract(requests_before)
        # While nothing changes the operator reads no Deployment and creates no guard (its watch is open); the
        # controllers watch too, and only the operator GETs single Deployments or creates Hotfixes.
        steady = {f"{verb} {resource}": value for (verb, resource, _), value in delta.items()
                  if (verb, resource) in OPERATOR_ONLY and value}  # fmt: skip
        rss = _rss_mib(pid)
        latencies = guard_latencies(api_client, CHANGES)
        print(f"operator RSS: idle {idle_rss:.0f} MiB, watching {DEPLOYMENTS} selected Deployments {rss:.0f} MiB "
              f"({(rss - idle_rss) * 1024 / DEPLOYMENTS:.1f} KiB each); CPU at rest {cpu:.3f} cores")  # fmt: skip
        print(f"  the operator's Deployment reads and Hotfix creations in {seconds:.0f}s at rest: {steady or 'none'}")
        print(f"  image change -> guard Hotfix, {CHANGES} changes: median {statistics.median(latencies):.2f}s, "
              f"max {max(latencies):.2f}s")  # fmt: skip
        figures = {
            "deployments": DEPLOYMENTS,
            "idle_rss_mib": round(idle_rss, 1),
            "watching_rss_mib": round(rss, 1),
            "kib_per_deployment": round((rss - idle_rss) * 1024 / DEPLOYMENTS, 2),
            "cpu_cores_at_rest": round(cpu, 3),
            "requests_at_rest": steady,
            "change_to_guard_seconds": [round(value, 3) for value in latencies],
        }
        record("guard_watch", figures)
        print(json.dumps(figures))
    finally:
        operator.stop()
        bed.stop()


if __name__ == "__main__":
    main()
