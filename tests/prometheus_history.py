"""A real Prometheus loaded with a backfilled history whose every boundary is known to the second.

Live scraping cannot place a breach exactly "just under" a window; a history written with
``promtool tsdb create-blocks-from openmetrics`` and queried at a fixed ``now`` can.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from hotfix_operator.analysis.prometheus import PrometheusAnalyzer, PrometheusSettings, connect
from hotfix_operator.analysis.queries import QuerySettings, build_request
from hotfix_operator.analysis.thresholds import CRASH_FREE_SESSIONS, MetricResult
from hotfix_operator.api.models import Analysis
from hotfix_operator.testbed.prometheus import LocalPrometheus, prometheus_binary

NAMESPACE = "analysis"
SCRAPE_SECONDS = 15
HISTORY_SECONDS = 2 * 3600
BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0, float("inf"))


@dataclass(frozen=True)
class Behaviour:
    """What a Deployment does at a given age before ``now`` (seconds; larger is older)."""

    error_ratio: Callable[[float], float] = lambda age: 0.002
    p95_seconds: Callable[[float], float] = lambda age: 0.3
    sessions_per_second: float = 10.0
    crash_ratio: float = 0.001
    requests_per_second: float = 100.0


# Each Deployment plays one case of the thresholds' semantics.
BEHAVIOURS: dict[str, Behaviour] = {
    "err-whole": Behaviour(error_ratio=lambda age: 0.012 if age <= 360 else 0.002),
    "err-under": Behaviour(error_ratio=lambda age: 0.012 if age <= 285 else 0.002),
    "err-below": Behaviour(error_ratio=lambda age: 0.009),
    "lat-two": Behaviour(p95_seconds=lambda age: 1.5 if age < 120 else 0.3),
    "lat-three": Behaviour(p95_seconds=lambda age: 1.5 if age < 180 else 0.3),
    "crash-few": Behaviour(sessions_per_second=50 / 1800, crash_ratio=0.1),
    "crash-bad": Behaviour(crash_ratio=0.03),
    "healthy": Behaviour(),
}


def _bucket_index(seconds: float) -> int:
    return next(index for index, upper in enumerate(BUCKETS) if seconds <= upper)


def openmetrics_history(now: int) -> str:
    """Counters for every Deployment, one sample per scrape, from ``now - 2h`` to ``now``."""
    times = list(range(now - HISTORY_SECONDS, now + 1, SCRAPE_SECONDS))
    families: dict[str, list[str]] = {name: [] for name in ("requests", "buckets", "sessions", "crashed")}
    for deployment, behaviour in BEHAVIOURS.items():
        labels = f'namespace="{NAMESPACE}",deployment="{deployment}"'
        ok = errors = sessions = crashed = 0.0
        buckets = [0.0] * len(BUCKETS)
        rows: dict[str, list[str]] = {key: [] for key in ("ok", "err", "sessions", "crashed")}
        bucket_rows: list[list[str]] = [[] for _ in BUCKETS]
        for index, at in enumerate(times):
            if index:
                # The increment that arrives at `at` was served during the scrape interval before it.
                age = now - at + SCRAPE_SECONDS / 2
                requests = behaviour.requests_per_second * SCRAPE_SECONDS
                errors += requests * behaviour.error_ratio(age)
                ok += requests * (1 - behaviour.error_ratio(age))
                buckets[_bucket_index(0.01)] += requests * 0.9
                buckets[_bucket_index(behaviour.p95_seconds(age))] += requests * 0.1
                session_count = behaviour.sessions_per_second * SCRAPE_SECONDS
                sessions += session_count
                crashed += session_count * behaviour.crash_ratio
            rows["ok"].append(f'http_requests_total{{{labels},code="200"}} {ok} {at}')
            rows["err"].append(f'http_requests_total{{{labels},code="500"}} {errors} {at}')
            rows["sessions"].append(f"app_sessions_total{{{labels}}} {sessions} {at}")
            rows["crashed"].append(f"app_sessions_crashed_total{{{labels}}} {crashed} {at}")
            cumulative = 0.0
            for bucket, upper in enumerate(BUCKETS):
                cumulative += buckets[bucket]
                le = "+Inf" if upper == float("inf") else repr(upper)
                bucket_rows[bucket].append(
                    f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {cumulative} {at}'
                )
        families["requests"] += rows["ok"] + rows["err"]
        families["sessions"] += rows["sessions"]
        families["crashed"] += rows["crashed"]
        families["buckets"] += [row for bucket in bucket_rows for row in bucket]
    header = {
        "requests": "# TYPE http_requests counter",
        "buckets": "# TYPE http_request_duration_seconds_bucket gauge",
        "sessions": "# TYPE app_sessions counter",
        "crashed": "# TYPE app_sessions_crashed counter",
    }
    lines = [line for key, rows in families.items() for line in (header[key], *rows)]
    return "\n".join([*lines, "# EOF", ""])


@dataclass(frozen=True)
class BackfilledPrometheus:
    url: str
    now: int


def history_now() -> int:
    """An hour in the past, on a minute boundary: old enough to be history, young enough for retention."""
    return (int(time.time()) // 60) * 60 - 3600


@contextmanager
def backfilled(openmetrics: str, now: int, prefix: str) -> Iterator[BackfilledPrometheus]:
    """A real Prometheus serving ``openmetrics`` (written with promtool's backfill) as its history."""
    work_dir = Path(tempfile.mkdtemp(prefix=prefix))
    source = work_dir / "history.om"
    source.write_text(openmetrics)
    promtool = shutil.which("promtool") or str(Path(prometheus_binary()).with_name("promtool"))
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(work_dir / "data")],
        check=True,
        capture_output=True,
    )
    server = LocalPrometheus(work_dir, targets=[])
    server.start()
    try:
        yield BackfilledPrometheus(url=server.url, now=now)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def backfilled_prometheus() -> Iterator[BackfilledPrometheus]:
    now = history_now()
    with backfilled(openmetrics_history(now), now, "hotfix-prometheus-") as server:
        yield server


@dataclass(frozen=True)
class SessionSeries:
    """One series of session counters: its labels, the share of sessions that crash at an age (seconds
    before ``now``), and the ages no scrape of it succeeded (the pod served all the same)."""

    labels: str
    crash_ratio: Callable[[float], float]
    gap: tuple[int, int] | None = None


def sessions_history(now: int, series: list[SessionSeries], sessions_per_scrape: float, history_seconds: int) -> str:
    """Session and crashed-session counters, one sample per scrape, for ``history_seconds`` up to ``now``."""
    total_rows, crashed_rows = [], []
    for one in series:
        sessions = crashed = 0.0
        for at in range(now - history_seconds, now + 1, SCRAPE_SECONDS):
            age = now - at
            sessions += sessions_per_scrape
            crashed += sessions_per_scrape * one.crash_ratio(age)
            if one.gap is not None and one.gap[0] <= age <= one.gap[1]:
                continue
            total_rows.append(f"app_sessions_total{{{one.labels}}} {sessions} {at}")
            crashed_rows.append(f"app_sessions_crashed_total{{{one.labels}}} {crashed} {at}")
    return "\n".join(
        ["# TYPE app_sessions counter", *total_rows, "# TYPE app_sessions_crashed counter", *crashed_rows, "# EOF", ""]
    )


def crash_free_of(
    server: BackfilledPrometheus,
    namespace: str,
    deployment: str,
    active_since: float,
    settings: QuerySettings | None = None,
    **analysis: object,
) -> MetricResult:
    """The crash-free sessions verdict of one Deployment at the history's ``now``, the other thresholds off."""
    settings = settings or QuerySettings()
    analyzer = PrometheusAnalyzer(connect(PrometheusSettings(url=server.url)), settings)
    request = build_request(
        settings,
        f"{namespace}/{deployment}-hotfix",
        ((namespace, deployment),),
        Analysis.model_validate({"errorRate": {"enabled": False}, "latencyP95": {"enabled": False}, **analysis}),
        active_since,
    )
    report = analyzer.analyze([request], now=server.now)[request.key]
    return next(r for r in report.metrics[f"{namespace}/{deployment}"] if r.metric == CRASH_FREE_SESSIONS)
