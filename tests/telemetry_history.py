"""A real Prometheus holding each telemetry preset's real shape, with seeded Poisson noise.

Every Deployment's pods expose their series exactly as the simulator does (``testbed.telemetry_shapes``):
per pod, a status-code series only once that code has happened, whole requests with noise. Each preset
gets its own namespace with the same cast, so one history serves every preset's test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from hotfix_operator.testbed.simulator import PodBehaviour, serve
from hotfix_operator.testbed.telemetry_shapes import PodCounters, PodIdentity, samples
from prometheus_history import BackfilledPrometheus, backfilled, history_now

SCRAPE_SECONDS = 15
HISTORY_SECONDS = 45 * 60
SHAPE_NAMESPACES = {
    "istio": "mesh-istio",
    "linkerd": "mesh-linkerd",
    "otel": "otel",
    "otel-legacy": "otel-legacy",
    "otel-target-info": "otel-info",
    "kube-prometheus": "scraped",
    "labels": "labelled",
    "exported-namespace": "renamed",
}


@dataclass(frozen=True)
class Cast:
    behaviour: PodBehaviour
    with_sessions: bool = True
    quiet_for: int = 0  # seconds before `now` without a single request (the series stay, flat)


def _pod(error_ratio: float, rps: float = 20.0) -> PodBehaviour:
    return PodBehaviour(
        error_ratio=error_ratio, p95_seconds=0.3, crash_ratio=0.001, requests_per_second=rps, sessions_per_second=5.0
    )


# `checkout` never fails (no 5xx series ever); `checkout-v2` shares its prefix and fails 3% of requests;
# `idle` served requests until 20 minutes ago and none since; `noisy-low` runs at 0.8% and `noisy-high`
# at 3% with little traffic, so that noise matters; `backend` has no session metrics.
CAST: dict[str, Cast] = {
    "checkout": Cast(_pod(0.0)),
    "checkout-v2": Cast(_pod(0.03)),
    "idle": Cast(_pod(0.0), quiet_for=20 * 60),
    "noisy-low": Cast(_pod(0.008, rps=10.0)),
    "noisy-high": Cast(_pod(0.03, rps=10.0)),
    "backend": Cast(_pod(0.0), with_sessions=False),
}
PODS_PER_DEPLOYMENT = 2


def _series_key(name: str, labels: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def openmetrics_history(now: int, seed: int = 11) -> str:
    rng = np.random.default_rng(seed)
    rows: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = defaultdict(list)
    pods = [
        (shape, PodIdentity(namespace, deployment, f"{deployment}-5d8f7c9b6-{'abcdefghij'[index]}x2z4"), cast)
        for shape, namespace in SHAPE_NAMESPACES.items()
        for deployment, cast in CAST.items()
        for index in range(PODS_PER_DEPLOYMENT)
    ]
    counters = {pod: PodCounters() for _, pod, _ in pods}
    for at in range(now - HISTORY_SECONDS, now + 1, SCRAPE_SECONDS):
        for shape, pod, cast in pods:
            if at < now - cast.quiet_for:
                serve(counters[pod], cast.behaviour, SCRAPE_SECONDS, rng)
            for name, labels, value in samples(shape, pod, counters[pod], cast.with_sessions):
                rows[_series_key(name, labels)].append(f"{value} {at}")
    families: dict[str, list[str]] = defaultdict(list)
    for (name, labels), values in rows.items():
        label_text = ",".join(f'{key}="{value}"' for key, value in labels)
        families[name] += [f"{name}{{{label_text}}} {value}" for value in values]
    lines = [line for name, series in families.items() for line in (f"# TYPE {name} unknown", *series)]
    return "\n".join([*lines, "# EOF", ""])


@pytest.fixture(scope="session")
def preset_prometheus() -> Iterator[BackfilledPrometheus]:
    now = history_now()
    with backfilled(openmetrics_history(now), now, "hotfix-presets-") as server:
        yield server
