"""hotfix-operator and Argo Rollouts side by side, on one local control plane and one Prometheus:

- hotfix-operator: N Deployments, each with a good Hotfix in Monitoring (analysis every 30s);
- Argo Rollouts v1.10.1 (built from its Go module by hack/build-argo-rollouts.sh): N Rollouts, each paused in
  a canary step with a background analysis (an AnalysisRun querying the same Prometheus every 30s for the
  same error-rate threshold).

For each: resident memory of the controller process, CPU, and API requests per object per minute at steady
state, counted by the API server itself (``apiserver_request_total``) on the resources the controller owns.
N comes from BENCH_SIDE_BY_SIDE (default "100,1000").

    python bench/bench_side_by_side.py        (make bench)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config, utils

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_operator import LOAD_INTERVAL, _cpu_seconds, _rss_mib, apiserver_requests, create_load, wait_monitoring
from results import record

from hotfix_operator.api.durations import parse_duration
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import free_port, stop_pids, wait_until
from hotfix_operator.testbed.stack import TestBed
from operator_support import FIXED_IMAGE, GOOD_IMAGE
from testbed_support import install_crd

SIZES = [int(size) for size in os.environ.get("BENCH_SIDE_BY_SIDE", "100,1000").split(",") if size.strip()]
REPO = Path(__file__).resolve().parents[1]
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The resources each controller writes or reads for its objects in steady state (pods and ReplicaSets are
# the Kubernetes controllers' and kwok's, and the same for both).
HOTFIX_RESOURCES = frozenset({"hotfixes", "deployments", "events"})
ARGO_RESOURCES = frozenset({"rollouts", "analysisruns", "analysistemplates", "replicasets", "services", "events"})


def measure(pid: int, bed: TestBed, resources: frozenset[str], objects: int) -> dict[str, Any]:
    """RSS, CPU and requests per object per minute over two intervals (at least a minute) of steady state."""
    before, cpu_before, wall_before = apiserver_requests(bed), _cpu_seconds(pid), time.monotonic()
    time.sleep(max(60.0, 2 * parse_duration(LOAD_INTERVAL).total_seconds()))
    seconds = time.monotonic() - wall_before
    delta: Counter[tuple[str, str, str]] = apiserver_requests(bed)
    delta.subtract(before)
    per_minute = {
        f"{verb} {resource}{'/' + sub if sub else ''}": round(value / objects / (seconds / 60), 3)
        for (verb, resource, sub), value in sorted(delta.items())
        if resource in resources and verb != "WATCH" and value > 0
    }
    return {
        "rss_mib": round(_rss_mib(pid), 1),
        "cpu_cores": round((_cpu_seconds(pid) - cpu_before) / seconds, 3),
        "requests_per_object_minute": per_minute,
        "writes_per_object_minute": round(
            sum(value for kind, value in per_minute.items() if kind.split()[0] in WRITE_VERBS), 3
        ),
    }


def hotfix_operator_side(bed: TestBed, api_client: client.ApiClient, objects: int) -> dict[str, Any]:
    state = bed.state
    assert state is not None
    operator = OperatorProcess(state.kubeconfig, state.prometheus_url, bed.work_dir / f"operator-{objects}.log")
    operator.start()
    namespace = f"hotfix-{objects}"
    try:
        create_load(api_client, [namespace], objects, LOAD_INTERVAL)
        wait_monitoring(api_client, [namespace], objects, timeout=1800)
        time.sleep(parse_duration(LOAD_INTERVAL).total_seconds())
        assert operator.process is not None
        figures = measure(operator.process.pid, bed, HOTFIX_RESOURCES, objects)
    finally:
        operator.stop()
    # Argo's side then runs on a cluster (and a simulator, and a Prometheus) without these pods' traffic. Not
    # in the finally: a failed load would have its own error hidden by this call's.
    client.AppsV1Api(api_client).delete_collection_namespaced_deployment(namespace)
    return figures


def analysis_template(namespace: str, prometheus_url: str) -> dict[str, Any]:
    """The same threshold as a Hotfix's error rate: above 1% fails the measurement."""
    # The simulator names each pod's series after its workload (here the Rollout), as for a Deployment.
    selector = f'namespace="{namespace}",deployment="{{{{args.rollout}}}}"'
    query = (
        f'(sum(rate(http_requests_total{{{selector},code=~"5.."}}[1m])) / '
        f"sum(rate(http_requests_total{{{selector}}}[1m]))) or vector(0)"
    )
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "error-rate", "namespace": namespace},
        "spec": {
            "args": [{"name": "rollout"}],
            "metrics": [
                {
                    "name": "error-rate",
                    "interval": LOAD_INTERVAL,
                    "failureLimit": 3,
                    "successCondition": "result[0] <= 0.01",
                    "provider": {"prometheus": {"address": prometheus_url, "query": query}},
                }
            ],
        },
    }


def rollout(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": GOOD_IMAGE}]},
            },
            "strategy": {
                "canary": {
                    "analysis": {
                        "templates": [{"templateName": "error-rate"}],
                        "args": [{"name": "rollout", "value": name}],
                    },
                    "steps": [{"setWeight": 50}, {"pause": {}}],
                }
            },
        },
    }


def argo_side(bed: TestBed, api_client: client.ApiClient, objects: int, argo_dir: Path) -> dict[str, Any]:
    state = bed.state
    assert state is not None
    namespace = f"argo-{objects}"
    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    log = (bed.work_dir / f"argo-{objects}.log").open("ab")
    controller = subprocess.Popen(
        [str(argo_dir / "rollouts-controller"), "--kubeconfig", state.kubeconfig, "--leader-elect=false",
         "--metricsport", str(free_port()), "--healthzPort", str(free_port()), "--loglevel", "warn"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        group, version = "argoproj.io", "v1alpha1"
        custom.create_namespaced_custom_object(
            group, version, namespace, "analysistemplates", analysis_template(namespace, state.prometheus_url)
        )
        for index in range(objects):
            custom.create_namespaced_custom_object(
                group, version, namespace, "rollouts", rollout(namespace, f"r-{index}")
            )
        # A new image starts the canary: a background AnalysisRun per Rollout, the Rollout paused at step 2.
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": FIXED_IMAGE}]}}}}

        def stable() -> bool:
            items = custom.list_namespaced_custom_object(group, version, namespace, "rollouts")["items"]
            return sum(bool((item.get("status") or {}).get("stableRS")) for item in items) == objects

        wait_until(stable, timeout=1800, interval=2, what="every Rollout to have a stable ReplicaSet")
        for index in range(objects):
            custom.patch_namespaced_custom_object(group, version, namespace, "rollouts", f"r-{index}", patch)

        def analysing() -> bool:
            runs = custom.list_namespaced_custom_object(group, version, namespace, "analysisruns")["items"]
            measured = [run for run in runs if ((run.get("status") or {}).get("metricResults") or [{}])[0].get("count")]
            return len(measured) >= objects

        wait_until(analysing, timeout=1800, interval=2, what="every AnalysisRun to have a measurement")
        time.sleep(parse_duration(LOAD_INTERVAL).total_seconds())
        return measure(controller.pid, bed, ARGO_RESOURCES, objects)
    finally:
        stop_pids([controller.pid])
        log.close()


def install_argo_crds(api_client: client.ApiClient, argo_dir: Path) -> None:
    for path in sorted((argo_dir / "crds").glob("*-crd.yaml")):
        utils.create_from_dict(api_client, yaml.safe_load(path.read_text()))
    time.sleep(3)  # the API server serves new CRDs within a moment


def main() -> None:
    argo_dir = Path(subprocess.run([str(REPO / "hack" / "build-argo-rollouts.sh")], check=True, text=True,
                                   capture_output=True).stdout.strip())  # fmt: skip
    bed = TestBed(Path(tempfile.mkdtemp(prefix="hotfix-side-by-side-")))
    state = bed.start()
    try:
        api_client = config.new_client_from_config(state.kubeconfig)
        install_crd(api_client)
        install_argo_crds(api_client, argo_dir)
        figures: dict[str, Any] = {"interval": LOAD_INTERVAL}
        for objects in SIZES:
            ours = hotfix_operator_side(bed, api_client, objects)
            theirs = argo_side(bed, api_client, objects, argo_dir)
            ratio = {
                "rss": round(ours["rss_mib"] / theirs["rss_mib"], 2),
                "writes": round(ours["writes_per_object_minute"] / theirs["writes_per_object_minute"], 2)
                if theirs["writes_per_object_minute"]
                else None,
            }
            figures[str(objects)] = {"hotfix-operator": ours, "argo-rollouts": theirs, "ratio": ratio}
            print(f"{objects} objects, analysis every {LOAD_INTERVAL}:")
            for name, side in (("hotfix-operator", ours), ("argo-rollouts v1.10.1", theirs)):
                print(f"  {name:<22} RSS {side['rss_mib']:>7.1f} MiB  CPU {side['cpu_cores']:.3f} cores  "
                      f"writes/object/min {side['writes_per_object_minute']:.3f}")  # fmt: skip
                print(f"  {'':<22} requests/object/min {side['requests_per_object_minute']}")
            print(f"  ratio hotfix-operator / argo-rollouts: {ratio}")
        record("side_by_side", figures)
    finally:
        bed.stop()


if __name__ == "__main__":
    main()
