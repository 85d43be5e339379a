"""Crash-free sessions over series with gaps, against a real Prometheus (backfilled history): a pod whose
series is missing at the window's start and back before its end, as after failed scrapes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hotfix_operator.analysis.prometheus import PrometheusAnalyzer, PrometheusSettings, connect
from hotfix_operator.analysis.queries import QuerySettings, build_request
from hotfix_operator.analysis.thresholds import CRASH_FREE_SESSIONS
from hotfix_operator.api.models import Analysis
from hotfix_operator.api.status import AnalysisState
from prometheus_history import BackfilledPrometheus, backfilled, history_now

pytestmark = pytest.mark.real

NAMESPACE = "gaps"
SCRAPE_SECONDS = 15
HISTORY_SECONDS = 2 * 3600
SESSIONS_PER_SCRAPE = 150.0
# pod-b crashed 30% of its sessions until 40 minutes ago and 0.1% since; its series is missing from 36 to 29
# minutes ago (more than Prometheus' 5-minute lookback), so the 30-minute window opens without it.
BAD_UNTIL_AGE = 40 * 60
GAP_AGES = (29 * 60, 36 * 60)


def pod_rows(now: int, pod: str, crash_ratio: object, gap: tuple[int, int] | None) -> list[str]:
    labels = f'namespace="{NAMESPACE}",deployment="web",instance="{pod}"'
    sessions = crashed = 0.0
    rows = []
    for at in range(now - HISTORY_SECONDS, now + 1, SCRAPE_SECONDS):
        age = now - at
        sessions += SESSIONS_PER_SCRAPE
        crashed += SESSIONS_PER_SCRAPE * crash_ratio(age)  # type: ignore[operator]
        if gap is not None and gap[0] <= age <= gap[1]:
            continue  # the pod served, but no scrape of it succeeded
        rows.append(
            (
                f"app_sessions_total{{{labels}}} {sessions} {at}",
                f"app_sessions_crashed_total{{{labels}}} {crashed} {at}",
            )
        )
    return [row[0] for row in rows] + [row[1] for row in rows]


def history(now: int) -> str:
    healthy = pod_rows(now, "web-a", lambda age: 0.001, None)
    returning = pod_rows(now, "web-b", lambda age: 0.3 if age > BAD_UNTIL_AGE else 0.001, GAP_AGES)
    total = [row for row in healthy + returning if row.startswith("app_sessions_total")]
    crashed = [row for row in healthy + returning if row.startswith("app_sessions_crashed_total")]
    return "\n".join(
        ["# TYPE app_sessions counter", *total, "# TYPE app_sessions_crashed counter", *crashed, "# EOF", ""]
    )


@pytest.fixture(scope="module")
def gapped_prometheus() -> Iterator[BackfilledPrometheus]:
    now = history_now()
    with backfilled(history(now), now, "hotfix-gaps-") as server:
        yield server


def test_a_pod_back_from_a_gap_adds_only_what_it_served_in_the_window(gapped_prometheus: BackfilledPrometheus) -> None:
    """Summed raw counters read at the window's ends counted pod-b's whole lifetime, crashes of its bad hour
    included (84% crash-free: a rollback); per-series increases see the 0.1% of the last 30 minutes."""
    now = gapped_prometheus.now
    analyzer = PrometheusAnalyzer(connect(PrometheusSettings(url=gapped_prometheus.url)))
    request = build_request(
        QuerySettings(),
        f"{NAMESPACE}/web-hotfix",
        ((NAMESPACE, "web"),),
        Analysis.model_validate({"errorRate": {"enabled": False}, "latencyP95": {"enabled": False}}),
        now - HISTORY_SECONDS,
    )
    report = analyzer.analyze([request], now=now)[request.key]
    result = next(r for r in report.metrics[f"{NAMESPACE}/web"] if r.metric == CRASH_FREE_SESSIONS)
    assert result.state == AnalysisState.HEALTHY, result.reason
