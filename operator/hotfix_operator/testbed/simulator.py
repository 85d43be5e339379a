"""A workload simulator: request, latency and session metrics for every Deployment in a cluster.

Pods on kwok nodes run nothing, so this process plays their traffic. Each Ready pod contributes at the
rates its pod template declares in annotations, so a rollout that changes the template mixes old and new
behaviour exactly as the ReplicaSets turn over, a bad template really raises the error rate Prometheus
scrapes, and an undo really brings it down again.

    python -m hotfix_operator.testbed.simulator --kubeconfig KUBECONFIG --port 9100
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client, config
from prometheus_client import start_http_server
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, HistogramMetricFamily, Metric

log = logging.getLogger("hotfix_operator.simulator")

ANNOTATION_PREFIX = "simulator.hotfix.dev/"
ERROR_RATIO = ANNOTATION_PREFIX + "error-ratio"
P95_MS = ANNOTATION_PREFIX + "p95-ms"
CRASH_RATIO = ANNOTATION_PREFIX + "crash-ratio"
REQUESTS_PER_SECOND = ANNOTATION_PREFIX + "rps"
SESSIONS_PER_SECOND = ANNOTATION_PREFIX + "sessions-per-second"
# JSON {image: {"error-ratio": 0.05, ...}}: what a pod does when it runs that image, so a hotfix that
# only changes images can be bad (and its undo good again).
BEHAVIOUR_BY_IMAGE = ANNOTATION_PREFIX + "behaviour-by-image"

DEFAULTS = {ERROR_RATIO: 0.001, P95_MS: 200.0, CRASH_RATIO: 0.001, REQUESTS_PER_SECOND: 20.0, SESSIONS_PER_SECOND: 5.0}
# Fine buckets around the default 1200 ms limit, so a declared p95 lands in the right bucket.
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0, math.inf)
# A tenth of the requests take the declared p95 latency, the rest are fast: histogram_quantile(0.95)
# then falls in the declared value's bucket.
SLOW_SHARE = 0.1
FAST_LATENCY_SECONDS = 0.01


@dataclass(frozen=True)
class PodBehaviour:
    error_ratio: float
    p95_seconds: float
    crash_ratio: float
    requests_per_second: float
    sessions_per_second: float

    @classmethod
    def from_annotations(cls, annotations: dict[str, str] | None, images: list[str] | None = None) -> PodBehaviour:
        annotations = annotations or {}
        values = dict(DEFAULTS)
        declared = dict(annotations)
        try:
            by_image = json.loads(annotations.get(BEHAVIOUR_BY_IMAGE, "{}"))
        except ValueError:
            log.warning("ignoring annotation %s: not JSON", BEHAVIOUR_BY_IMAGE)
            by_image = {}
        for image in images or []:
            declared.update({ANNOTATION_PREFIX + key: str(value) for key, value in (by_image.get(image) or {}).items()})
        for key, raw in declared.items():
            if key in values:
                try:
                    values[key] = float(raw)
                except ValueError:
                    log.warning("ignoring %s=%r: not a number", key, raw)
        return cls(
            error_ratio=min(max(values[ERROR_RATIO], 0.0), 1.0),
            p95_seconds=max(values[P95_MS], 0.0) / 1000,
            crash_ratio=min(max(values[CRASH_RATIO], 0.0), 1.0),
            requests_per_second=max(values[REQUESTS_PER_SECOND], 0.0),
            sessions_per_second=max(values[SESSIONS_PER_SECOND], 0.0),
        )


@dataclass
class DeploymentCounters:
    ok_requests: float = 0.0
    error_requests: float = 0.0
    bucket_counts: list[float] = field(default_factory=lambda: [0.0] * len(LATENCY_BUCKETS))
    latency_sum: float = 0.0
    sessions: float = 0.0
    crashed_sessions: float = 0.0

    def _observe(self, seconds: float, count: float) -> None:
        for index, upper in enumerate(LATENCY_BUCKETS):
            if seconds <= upper:
                self.bucket_counts[index] += count
                break
        self.latency_sum += seconds * count

    def advance(self, pod: PodBehaviour, elapsed: float) -> None:
        requests = pod.requests_per_second * elapsed
        self.error_requests += requests * pod.error_ratio
        self.ok_requests += requests * (1 - pod.error_ratio)
        self._observe(pod.p95_seconds, requests * SLOW_SHARE)
        self._observe(FAST_LATENCY_SECONDS, requests * (1 - SLOW_SHARE))
        sessions = pod.sessions_per_second * elapsed
        self.sessions += sessions
        self.crashed_sessions += sessions * pod.crash_ratio


def _ready(pod: Any) -> bool:
    if pod.metadata.deletion_timestamp is not None:
        return False
    conditions = (pod.status.conditions or []) if pod.status else []
    return any(condition.type == "Ready" and condition.status == "True" for condition in conditions)


def _controller(metadata: Any) -> Any | None:
    return next((ref for ref in metadata.owner_references or [] if ref.controller), None)


class WorkloadSimulator:
    """Polls the cluster's Ready pods and advances each Deployment's counters in real time."""

    def __init__(self, api_client: client.ApiClient, poll_interval: float = 0.5) -> None:
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.poll_interval = poll_interval
        self.counters: dict[tuple[str, str], DeploymentCounters] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pods: dict[tuple[str, str], list[PodBehaviour]] = {}

    def ready_pods_by_deployment(self) -> dict[tuple[str, str], list[PodBehaviour]]:
        replica_set_owner = {}
        for replica_set in self.apps.list_replica_set_for_all_namespaces().items:
            owner = _controller(replica_set.metadata)
            if owner is not None and owner.kind == "Deployment":
                replica_set_owner[(replica_set.metadata.namespace, replica_set.metadata.name)] = owner.name
        pods: dict[tuple[str, str], list[PodBehaviour]] = {}
        for pod in self.core.list_pod_for_all_namespaces().items:
            owner = _controller(pod.metadata)
            if owner is None or owner.kind != "ReplicaSet" or not _ready(pod):
                continue
            deployment = replica_set_owner.get((pod.metadata.namespace, owner.name))
            if deployment is not None:
                key = (pod.metadata.namespace, deployment)
                images = [container.image for container in pod.spec.containers]
                pods.setdefault(key, []).append(PodBehaviour.from_annotations(pod.metadata.annotations, images))
        return pods

    def advance(self, elapsed: float) -> None:
        with self._lock:
            for key, pods in self._pods.items():
                counters = self.counters.setdefault(key, DeploymentCounters())
                for pod in pods:
                    counters.advance(pod, elapsed)

    def run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            try:
                pods = self.ready_pods_by_deployment()
            except Exception as error:  # the API server may be restarting; keep the last picture
                log.warning("listing pods failed: %s", error)
                pods = self._pods
            now = time.monotonic()
            # Traffic since the last tick was served by the pods seen at the last tick.
            self.advance(now - last)
            last = now
            self._pods = pods
            self._stop.wait(self.poll_interval)

    def stop(self) -> None:
        self._stop.set()

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("http_requests", "Requests served", labels=["namespace", "deployment", "code"])
        durations = HistogramMetricFamily(
            "http_request_duration_seconds", "Request latency", labels=["namespace", "deployment"]
        )
        sessions = CounterMetricFamily("app_sessions", "User sessions started", labels=["namespace", "deployment"])
        crashed = CounterMetricFamily(
            "app_sessions_crashed", "User sessions that crashed", labels=["namespace", "deployment"]
        )
        with self._lock:
            for (namespace, deployment), counters in sorted(self.counters.items()):
                requests.add_metric([namespace, deployment, "200"], counters.ok_requests)
                requests.add_metric([namespace, deployment, "500"], counters.error_requests)
                cumulative, buckets = 0.0, []
                for upper, count in zip(LATENCY_BUCKETS, counters.bucket_counts, strict=True):
                    cumulative += count
                    buckets.append(("+Inf" if math.isinf(upper) else repr(upper), cumulative))
                durations.add_metric([namespace, deployment], buckets, counters.latency_sum)
                sessions.add_metric([namespace, deployment], counters.sessions)
                crashed.add_metric([namespace, deployment], counters.crashed_sessions)
        yield from (requests, durations, sessions, crashed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--poll-interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    simulator = WorkloadSimulator(config.new_client_from_config(args.kubeconfig), args.poll_interval)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(simulator)
    start_http_server(args.port, addr="127.0.0.1", registry=registry)
    log.info("serving metrics on 127.0.0.1:%d", args.port)
    simulator.run()


if __name__ == "__main__":
    main()
