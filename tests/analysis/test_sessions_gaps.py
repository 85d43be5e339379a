"""Crash-free sessions over series with gaps, against a real Prometheus (backfilled history): a pod whose
series is missing at the window's start and back before its end, as after failed scrapes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hotfix_operator.api.status import AnalysisState
from prometheus_history import (
    BackfilledPrometheus,
    SessionSeries,
    backfilled,
    crash_free_of,
    history_now,
    sessions_history,
)

pytestmark = pytest.mark.real

NAMESPACE = "gaps"
HISTORY_SECONDS = 2 * 3600
SESSIONS_PER_SCRAPE = 150.0
# pod-b crashed 30% of its sessions until 40 minutes ago and 0.1% since; its series is missing from 36 to 29
# minutes ago (more than Prometheus' 5-minute lookback), so the 30-minute window opens without it.
BAD_UNTIL_AGE = 40 * 60
GAP_AGES = (29 * 60, 36 * 60)


def history(now: int) -> str:
    labels = f'namespace="{NAMESPACE}",deployment="web",instance='
    return sessions_history(
        now,
        [
            SessionSeries(labels + '"web-a"', lambda age: 0.001),
            SessionSeries(labels + '"web-b"', lambda age: 0.3 if age > BAD_UNTIL_AGE else 0.001, GAP_AGES),
        ],
        SESSIONS_PER_SCRAPE,
        HISTORY_SECONDS,
    )


@pytest.fixture(scope="module")
def gapped_prometheus() -> Iterator[BackfilledPrometheus]:
    now = history_now()
    with backfilled(history(now), now, "hotfix-gaps-") as server:
        yield server


def test_a_pod_back_from_a_gap_adds_only_what_it_served_in_the_window(gapped_prometheus: BackfilledPrometheus) -> None:
    """Summed raw counters read at the window's ends counted pod-b's whole lifetime, crashes of its bad hour
    included (84% crash-free: a rollback); per-series increases see the 0.1% of the last 30 minutes."""
    result = crash_free_of(gapped_prometheus, NAMESPACE, "web", gapped_prometheus.now - HISTORY_SECONDS)
    assert result.state == AnalysisState.HEALTHY, result.reason
