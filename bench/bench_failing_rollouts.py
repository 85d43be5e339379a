"""How fast a hotfix that never starts is undone, on real pods, next to the progress deadline others wait for.

    python bench/bench_failing_rollouts.py        (make bench; BENCH_FAILING_RUNS, default 3 per case)

A test bed with the real node (a kubelet, containerd, runc), an operator reading the real node's Prometheus,
and a Deployment of 3 real pods serving traffic. For each case a Hotfix sets a bad image; the bench polls the
new pods every 0.1 s and records when a failing status first shows (a container waiting with a failure reason,
or a restart), reads the undo's time from the Hotfix's timeline, and polls the Deployment until every
replica is available again on the old image. A plain Deployment and Argo Rollouts (progressDeadlineAbort)
leave the same rollout in place until the progress deadline, 600 s by default.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from kubernetes import client, config
from results import record

from hotfix_operator.api.models import GROUP, PLURAL, VERSION
from hotfix_operator.testbed.app_images import NEVER_IMPORTED, app_image
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import wait_until
from hotfix_operator.testbed.stack import TestBed
from real_pods import create_served, real_hotfix
from testbed_support import install_crd

PROGRESS_DEADLINE_SECONDS = 600  # a Deployment's default progressDeadlineSeconds
CASES = {"image tag never built": NEVER_IMPORTED, "crash at start": "1.4-crash"}
FAILING = {"ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff", "Error"}


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _first_failing_status(core: client.CoreV1Api, namespace: str, bad_image: str) -> bool:
    for pod in core.list_namespaced_pod(namespace, label_selector="app=bench").items:
        for status in pod.status.container_statuses or []:
            if status.image != bad_image and not status.image.endswith(bad_image.split("/")[-1]):
                continue
            waiting = status.state.waiting if status.state else None
            terminated = status.state.terminated if status.state else None
            if (waiting and waiting.reason in FAILING) or terminated or status.restart_count:
                return True
    return False


def one_run(api_client: client.ApiClient, namespace: str, tag: str) -> dict[str, float]:
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    create_served(api_client, namespace, "bench", replicas=3)

    def available(image: str) -> bool:
        deployment = apps.read_namespaced_deployment("bench", namespace)
        status = deployment.status
        return (
            deployment.spec.template.spec.containers[0].image == image
            and (status.available_replicas or 0) == 3
            and (status.updated_replicas or 0) == 3
            and (status.replicas or 0) == 3
        )

    wait_until(lambda: available(app_image("1.0")), timeout=120, what="the bench Deployment to be available")
    time.sleep(5)  # a few scrapes of healthy traffic: the baseline
    body = real_hotfix("bench-fix", "bench", tag)
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    bad_image = app_image(tag)
    wait_until(lambda: _first_failing_status(core, namespace, bad_image), timeout=120, interval=0.1,
               what="a failing pod status")  # fmt: skip
    first_failing = datetime.now(UTC)
    wait_until(lambda: available(app_image("1.0")), timeout=300, interval=0.1, what="the old pods available again")
    recovered = datetime.now(UTC)
    timeline = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "bench-fix")["status"]["timeline"]
    started = next(_parse(entry["at"]) for entry in timeline if entry["type"] == "RolloutStarted")
    undone = next(_parse(entry["at"]) for entry in timeline if entry["type"] == "RollbackPatched")
    rule = next(entry.get("rule") for entry in timeline if entry["type"] == "Decision")
    core.delete_namespace(namespace)
    assert rule == "rollout-failed", timeline
    return {
        "failing_status_to_undo_seconds": round((undone - first_failing).total_seconds(), 2),
        "change_to_available_seconds": round((recovered - started).total_seconds(), 2),
    }


def main() -> None:
    runs = int(os.environ.get("BENCH_FAILING_RUNS", "3"))
    work_dir = Path(tempfile.mkdtemp(prefix="hotfix-bench-failing-"))
    bed = TestBed(work_dir, real_node=True)
    state = bed.start()
    assert bed.real_node is not None
    operator = OperatorProcess(state.kubeconfig, bed.real_node.prometheus_url, work_dir / "operator.log")
    figures: dict[str, Any] = {"runs_per_case": runs, "progress_deadline_seconds": PROGRESS_DEADLINE_SECONDS}
    try:
        api_client = config.new_client_from_config(state.kubeconfig)
        install_crd(api_client)
        operator.start()
        for case, tag in CASES.items():
            results = [one_run(api_client, f"bench-{index}-{tag.replace('.', '-')}", tag) for index in range(runs)]
            for key in ("failing_status_to_undo_seconds", "change_to_available_seconds"):
                values = [result[key] for result in results]
                figures.setdefault(case, {})[key] = {"median": statistics.median(values), "max": max(values),
                                                     "runs": values}  # fmt: skip
            print(f"{case}: {figures[case]}", flush=True)
    finally:
        operator.stop()
        bed.stop()
    record("failing_rollouts", figures)


if __name__ == "__main__":
    main()
