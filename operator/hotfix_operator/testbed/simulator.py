"""A workload simulator: request, latency and session metrics for every Deployment in a cluster.

Pods on kwok nodes run nothing, so this process plays their traffic. Each Ready pod serves at the rates
its pod template declares in annotations, so a rollout that changes the template mixes old and new
behaviour exactly as the ReplicaSets turn over, a bad template really raises the error rate Prometheus
scrapes, and an undo really brings it down again.

It plays the world as it is, not as a test would like it: each pod has its own series in the shape of
a real telemetry source (annotation ``telemetry``: istio, linkerd, otel, kube-prometheus, …; see
``telemetry_shapes``), a status code's series appears only when that code first happens, counts are
whole requests drawn with Poisson noise (seeded), and a Deployment may have no session metrics at all.

    python -m hotfix_operator.testbed.simulator --kubeconfig KUBECONFIG --port 9100
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from kubernetes import client, config

from hotfix_operator.testbed.list_watch import ListWatchCache
from hotfix_operator.testbed.real_node import REAL_NODE_NAME
from hotfix_operator.testbed.telemetry_shapes import SHAPES, PodCounters, PodIdentity, Sample, samples

log = logging.getLogger("hotfix_operator.simulator")

# The owners of ReplicaSets whose pods serve traffic, each pod's series named after its workload.
WORKLOAD_KINDS = frozenset({"Deployment", "Rollout"})

ANNOTATION_PREFIX = "simulator.hotfix.dev/"
ERROR_RATIO = ANNOTATION_PREFIX + "error-ratio"
P95_MS = ANNOTATION_PREFIX + "p95-ms"
CRASH_RATIO = ANNOTATION_PREFIX + "crash-ratio"
REQUESTS_PER_SECOND = ANNOTATION_PREFIX + "rps"
SESSIONS_PER_SECOND = ANNOTATION_PREFIX + "sessions-per-second"
RESTARTS_PER_MINUTE = ANNOTATION_PREFIX + "restarts-per-minute"
# Not numbers: the telemetry shape the pod exposes, and "false" for a backend without session metrics.
TELEMETRY = ANNOTATION_PREFIX + "telemetry"
SESSIONS = ANNOTATION_PREFIX + "sessions"
# JSON {image: {"error-ratio": 0.05, ...}}: what a pod does when it runs that image, so a hotfix that
# only changes images can be bad (and its undo good again).
BEHAVIOUR_BY_IMAGE = ANNOTATION_PREFIX + "behaviour-by-image"

DEFAULTS = {
    ERROR_RATIO: 0.001,
    P95_MS: 200.0,
    CRASH_RATIO: 0.001,
    REQUESTS_PER_SECOND: 100.0,
    SESSIONS_PER_SECOND: 50.0,
    RESTARTS_PER_MINUTE: 0.0,
}
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
    restarts_per_minute: float = 0.0
    telemetry: str = "labels"
    with_sessions: bool = True

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
        telemetry = declared.get(TELEMETRY, "labels")
        if telemetry not in SHAPES:
            log.warning("ignoring %s=%r: one of %s", TELEMETRY, telemetry, ", ".join(SHAPES))
            telemetry = "labels"
        return cls(
            error_ratio=min(max(values[ERROR_RATIO], 0.0), 1.0),
            p95_seconds=max(values[P95_MS], 0.0) / 1000,
            crash_ratio=min(max(values[CRASH_RATIO], 0.0), 1.0),
            requests_per_second=max(values[REQUESTS_PER_SECOND], 0.0),
            sessions_per_second=max(values[SESSIONS_PER_SECOND], 0.0),
            restarts_per_minute=max(values[RESTARTS_PER_MINUTE], 0.0),
            telemetry=telemetry,
            with_sessions=declared.get(SESSIONS, "true").lower() != "false",
        )


def serve(counters: PodCounters, pod: PodBehaviour, elapsed: float, rng: np.random.Generator) -> None:
    """What ``pod`` served in ``elapsed`` seconds: whole requests, with Poisson noise on every count."""
    errors = int(rng.poisson(pod.requests_per_second * pod.error_ratio * elapsed))
    ok = int(rng.poisson(pod.requests_per_second * (1 - pod.error_ratio) * elapsed))
    for code, count in (("200", ok), ("500", errors)):
        # A tenth of the requests take the declared p95 latency and the rest are fast, so that
        # histogram_quantile(0.95) falls in the declared value's bucket.
        slow = int(rng.binomial(count, SLOW_SHARE)) if count else 0
        counters.observe(code, pod.p95_seconds, slow)
        counters.observe(code, FAST_LATENCY_SECONDS, count - slow)
    sessions = int(rng.poisson(pod.sessions_per_second * elapsed))
    counters.sessions += sessions
    counters.crashed_sessions += int(rng.binomial(sessions, pod.crash_ratio)) if sessions else 0
    counters.restarts += int(rng.poisson(pod.restarts_per_minute * elapsed / 60))


def _ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp") is not None:
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(condition.get("type") == "Ready" and condition.get("status") == "True" for condition in conditions)


def _controller(metadata: dict[str, Any]) -> dict[str, Any] | None:
    return next((ref for ref in metadata.get("ownerReferences") or [] if ref.get("controller")), None)


@dataclass(frozen=True)
class ServingPod:
    """A Ready pod of a ReplicaSet: which ReplicaSet, and how it serves."""

    replica_set: str
    behaviour: PodBehaviour


def serving_pod(pod: dict[str, Any]) -> ServingPod | None:
    owner = _controller(pod["metadata"])
    if owner is None or owner.get("kind") != "ReplicaSet" or not _ready(pod):
        return None
    if (pod.get("spec") or {}).get("nodeName") == REAL_NODE_NAME:
        return None  # a real pod: its own metrics are scraped, and kube-state-metrics reports on it
    images = [container.get("image", "") for container in (pod.get("spec") or {}).get("containers") or []]
    return ServingPod(owner["name"], PodBehaviour.from_annotations(pod["metadata"].get("annotations"), images))


def workload_of(replica_set: dict[str, Any]) -> str | None:
    """The Deployment (or Argo Rollout, for the side-by-side benchmark) that owns ``replica_set``."""
    owner = _controller(replica_set["metadata"])
    return owner["name"] if owner is not None and owner.get("kind") in WORKLOAD_KINDS else None


class WorkloadSimulator:
    """Follows the cluster's Ready pods and advances each pod's counters in real time."""

    def __init__(self, api_client: client.ApiClient, poll_interval: float = 0.5, seed: int = 0) -> None:
        self.pods = ListWatchCache(client.CoreV1Api(api_client).list_pod_for_all_namespaces, serving_pod)
        self.replica_sets = ListWatchCache(
            client.AppsV1Api(api_client).list_replica_set_for_all_namespaces, workload_of
        )
        self.poll_interval = poll_interval
        self.rng = np.random.default_rng(seed)
        self.counters: dict[PodIdentity, PodCounters] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pods: dict[PodIdentity, PodBehaviour] = {}
        self._served_until = time.monotonic()

    def ready_pods(self) -> dict[PodIdentity, PodBehaviour]:
        workloads = self.replica_sets.snapshot()
        pods: dict[PodIdentity, PodBehaviour] = {}
        for (namespace, name), pod in self.pods.snapshot().items():
            workload = workloads.get((namespace, pod.replica_set))
            if workload is not None:
                pods[PodIdentity(namespace, workload, name)] = pod.behaviour
        return pods

    def _serve_until_now(self) -> None:
        """The traffic the known pods served since the last call (the caller holds the lock)."""
        now = time.monotonic()
        for identity, behaviour in self._pods.items():
            serve(self.counters.setdefault(identity, PodCounters()), behaviour, now - self._served_until, self.rng)
        self._served_until = now

    def run(self) -> None:
        self.pods.start("watch-pods")
        self.replica_sets.start("watch-replicasets")
        seen_versions = None
        while not self._stop.is_set():
            versions = (self.pods.version, self.replica_sets.version)
            # Nothing moved since the last look: the pods serving now are the pods seen then.
            if versions != seen_versions:
                seen_versions = versions
                pods = self.ready_pods()
                with self._lock:
                    # Traffic until now was served by the pods seen before this change.
                    self._serve_until_now()
                    # A pod that is gone takes its series with it, as a real scrape target does.
                    self.counters = {
                        identity: self.counters[identity] for identity in pods if identity in self.counters
                    }
                    self._pods = pods
            self._stop.wait(self.poll_interval)

    def stop(self) -> None:
        self._stop.set()
        self.pods.stop()
        self.replica_sets.stop()

    def exposition(self) -> bytes:
        """Every Ready pod's series in Prometheus' text format, as one scrape of all the pods.

        The counters are brought up to the moment of the scrape: a real service serves its traffic however
        slowly the API server answers, and a pod listing slowed down by a busy API server (2,000 pods twice
        a second at 1,000 Hotfixes) must not stop the counters, or every rate of a short window reads 0/0."""
        with self._lock:
            self._serve_until_now()
            pod_samples = [
                sample
                for identity, counters in sorted(self.counters.items(), key=lambda item: item[0].pod)
                if (behaviour := self._pods.get(identity)) is not None
                for sample in samples(behaviour.telemetry, identity, counters, behaviour.with_sessions)
            ]
        return text_format(pod_samples)


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def text_format(pod_samples: Iterable[Sample]) -> bytes:
    """Samples in Prometheus' text exposition format, each metric's lines together.

    Written directly rather than through prometheus_client's registry: at 1,000 Deployments (2,000 pods,
    40,000 samples) its generate_latest took 0.55 s, more than half of a 1 s scrape interval, against 0.1 s.
    """
    lines_by_name: dict[str, list[str]] = {}
    for name, labels, value in pod_samples:
        rendered = ",".join(f'{key}="{_label_value(label)}"' for key, label in labels.items())
        lines_by_name.setdefault(name, []).append(f"{name}{{{rendered}}} {value!r}\n")
    return "".join(line for lines in lines_by_name.values() for line in lines).encode()


class _MetricsHandler(BaseHTTPRequestHandler):
    simulator: WorkloadSimulator

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        body = self.simulator.exposition()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes come every second; they are not worth a log line each."""


def serve_metrics(simulator: WorkloadSimulator, port: int) -> ThreadingHTTPServer:
    handler = type("MetricsHandler", (_MetricsHandler,), {"simulator": simulator})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--poll-interval", type=float, default=0.5, help="seconds between looks at the watched pods for a change"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the Poisson noise")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    simulator = WorkloadSimulator(config.new_client_from_config(args.kubeconfig), args.poll_interval, args.seed)
    serve_metrics(simulator, args.port)
    log.info("serving metrics on 127.0.0.1:%d", args.port)
    simulator.run()


if __name__ == "__main__":
    main()
