"""How real telemetry sources expose what a pod served: metric names, label names, units.

The workload simulator (live, scraped) and the tests' backfilled histories write the same shapes from
here, one per telemetry preset, plus ``exported-namespace``: the ``labels`` shape as a scrape renames it
when the metric's own ``namespace`` collides with the target's (``honor_labels: false``). A status-code
series exists only once that code has happened, as client libraries do.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

# Bucket bounds in seconds, fine around the default 1200 ms limit.
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0, math.inf)
SHAPES = (
    "labels",
    "kube-prometheus",
    "istio",
    "linkerd",
    "otel",
    "otel-legacy",
    "otel-target-info",
    "exported-namespace",
)

Sample = tuple[str, dict[str, str], float]


@dataclass(frozen=True)
class PodIdentity:
    namespace: str
    deployment: str
    pod: str


@dataclass
class PodCounters:
    """Everything one pod served since it started (counters only ever grow)."""

    # status code -> per-bucket counts (not cumulative) of the requests that ended with it
    buckets_by_code: dict[str, list[float]] = field(default_factory=dict)
    latency_sum_by_code: dict[str, float] = field(default_factory=dict)
    sessions: float = 0.0
    crashed_sessions: float = 0.0
    restarts: float = 0.0

    def observe(self, code: str, seconds: float, count: float) -> None:
        if count <= 0:
            return
        buckets = self.buckets_by_code.setdefault(code, [0.0] * len(LATENCY_BUCKETS))
        index = next(i for i, upper in enumerate(LATENCY_BUCKETS) if seconds <= upper)
        buckets[index] += count
        self.latency_sum_by_code[code] = self.latency_sum_by_code.get(code, 0.0) + seconds * count

    def requests(self, code: str) -> float:
        return sum(self.buckets_by_code.get(code, ()))


def _le(upper: float, scale: float) -> str:
    return "+Inf" if math.isinf(upper) else f"{upper * scale:g}"


def _histogram(name: str, labels: dict[str, str], buckets: list[float], total: float, scale: float) -> Iterator[Sample]:
    cumulative = 0.0
    for upper, count in zip(LATENCY_BUCKETS, buckets, strict=True):
        cumulative += count
        yield f"{name}_bucket", {**labels, "le": _le(upper, scale)}, cumulative
    yield f"{name}_count", labels, cumulative
    yield f"{name}_sum", labels, total * scale


def _merged_buckets(counters: PodCounters) -> list[float]:
    merged = [0.0] * len(LATENCY_BUCKETS)
    for buckets in counters.buckets_by_code.values():
        merged = [a + b for a, b in zip(merged, buckets, strict=True)]
    return merged


def _scrape_labels(pod: PodIdentity) -> dict[str, str]:
    """What a ServiceMonitor scrape attaches: namespace, pod, service, job, and no workload label."""
    return {"namespace": pod.namespace, "pod": pod.pod, "service": pod.deployment, "job": pod.deployment}


def _requests_by_code(name: str, base: dict[str, str], code_label: str, counters: PodCounters) -> Iterator[Sample]:
    for code in sorted(counters.buckets_by_code):
        yield name, {**base, code_label: code}, counters.requests(code)


def samples(shape: str, pod: PodIdentity, counters: PodCounters, with_sessions: bool = True) -> Iterator[Sample]:
    """Every series this pod exposes in ``shape``."""
    merged, latency_sum = _merged_buckets(counters), sum(counters.latency_sum_by_code.values())
    app_labels: dict[str, str]
    if shape in ("labels", "exported-namespace"):
        # Every scrape target adds its own `instance`: one series per pod.
        app_labels = {"namespace": pod.namespace, "deployment": pod.deployment, "instance": pod.pod}
        if shape == "exported-namespace":
            app_labels = {**app_labels, "exported_namespace": pod.namespace, "namespace": "ingress"}
        yield from _requests_by_code("http_requests_total", app_labels, "code", counters)
        yield from _histogram("http_request_duration_seconds", app_labels, merged, latency_sum, 1)
    elif shape == "kube-prometheus":
        app_labels = _scrape_labels(pod)
        yield from _requests_by_code("http_requests_total", app_labels, "code", counters)
        yield from _histogram("http_request_duration_seconds", app_labels, merged, latency_sum, 1)
    elif shape == "istio":
        app_labels = _scrape_labels(pod)
        destination = {
            "destination_workload": pod.deployment,
            "destination_workload_namespace": pod.namespace,
            "destination_service_name": pod.deployment,
            "namespace": pod.namespace,
            "pod": pod.pod,
        }
        yield from _requests_by_code(
            "istio_requests_total", {**destination, "reporter": "destination"}, "response_code", counters
        )
        # The calling side's proxy counts the same requests; a preset that does not filter on the reporter
        # would count them twice (here, the clients saw every request succeed after retries).
        yield "istio_requests_total", {**destination, "reporter": "source", "response_code": "200"}, sum(merged)
        yield from _histogram(
            "istio_request_duration_milliseconds", {**destination, "reporter": "destination"}, merged, latency_sum, 1000
        )
    elif shape == "linkerd":
        app_labels = {"namespace": pod.namespace, "deployment": pod.deployment, "pod": pod.pod}
        inbound = {**app_labels, "direction": "inbound"}
        for code in sorted(counters.buckets_by_code):
            classification = "failure" if code.startswith("5") else "success"
            labels = {**inbound, "status_code": code, "classification": classification}
            yield "response_total", labels, counters.requests(code)
        yield from _histogram("response_latency_ms", inbound, merged, latency_sum, 1000)
    elif shape in ("otel", "otel-legacy", "otel-target-info"):
        stable = shape != "otel-legacy"
        kubernetes = {"k8s_namespace_name": pod.namespace, "k8s_deployment_name": pod.deployment}
        scraped = {"job": f"{pod.namespace}/{pod.deployment}", "instance": pod.pod}
        if shape == "otel-target-info":
            # Resource attributes not promoted: only target_info carries them.
            app_labels = scraped
            yield "target_info", {**scraped, **kubernetes}, 1.0
        else:
            app_labels = kubernetes
        resource = {**app_labels, **scraped}
        name = "http_server_request_duration_seconds" if stable else "http_server_duration_milliseconds"
        code_label = "http_response_status_code" if stable else "http_status_code"
        for code, buckets in sorted(counters.buckets_by_code.items()):
            labels = {**resource, code_label: code, "http_request_method": "GET"}
            total = counters.latency_sum_by_code.get(code, 0.0)
            yield from _histogram(name, labels, buckets, total, 1 if stable else 1000)
    else:
        raise ValueError(f"unknown telemetry shape {shape!r}; one of {', '.join(SHAPES)}")
    if with_sessions:
        yield "app_sessions_total", app_labels, counters.sessions
        yield "app_sessions_crashed_total", app_labels, counters.crashed_sessions
    # kube-state-metrics, whatever the application's shape: the pod's own namespace and name.
    restart_labels = {"namespace": pod.namespace, "pod": pod.pod, "container": "app", "job": "kube-state-metrics"}
    yield "kube_pod_container_status_restarts_total", restart_labels, counters.restarts
