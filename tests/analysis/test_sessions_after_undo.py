"""Crash-free sessions right after an undo, against a real Prometheus (backfilled history): only data from
after the undo may judge the recovery, however the counting steps fall."""

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

NAMESPACE = "undo"
SCRAPE_SECONDS = 15
HISTORY_SECONDS = 3600
SESSIONS_PER_SCRAPE = 150.0
# The bad revision crashed 20% of its sessions until the undo, 90 seconds before `now`; the one rolled back
# to crashes 0.1%. At the default 1-minute rate window, sessions are counted in steps of a minute.
UNDO_AGE = 90


def history(now: int) -> str:
    labels = f'namespace="{NAMESPACE}",deployment="web"'
    sessions = crashed = 0.0
    total_rows, crashed_rows = [], []
    for at in range(now - HISTORY_SECONDS, now + 1, SCRAPE_SECONDS):
        sessions += SESSIONS_PER_SCRAPE
        crashed += SESSIONS_PER_SCRAPE * (0.2 if now - at > UNDO_AGE else 0.001)
        total_rows.append(f"app_sessions_total{{{labels}}} {sessions} {at}")
        crashed_rows.append(f"app_sessions_crashed_total{{{labels}}} {crashed} {at}")
    return "\n".join(
        ["# TYPE app_sessions counter", *total_rows, "# TYPE app_sessions_crashed counter", *crashed_rows, "# EOF", ""]
    )


@pytest.fixture(scope="module")
def undone_prometheus() -> Iterator[BackfilledPrometheus]:
    now = history_now()
    with backfilled(history(now), now, "hotfix-undo-") as server:
        yield server


@pytest.mark.parametrize(
    ("seconds_since", "expected", "said"),
    [
        # Only the step that straddles the undo has ended: before, its crashes read as "did not recover".
        (45, AnalysisState.PENDING, "none has ended"),
        # One whole step after the undo: before, the straddling one was counted too (95% crash-free).
        (UNDO_AGE, AnalysisState.HEALTHY, "over 1m"),
        # The bad revision's own window: the history does breach when the window opens before the undo.
        (HISTORY_SECONDS, AnalysisState.BREACHED, "over 30m"),
    ],
)
def test_only_steps_after_the_undo_judge_the_recovery(
    undone_prometheus: BackfilledPrometheus, seconds_since: int, expected: AnalysisState, said: str
) -> None:
    now = undone_prometheus.now
    analyzer = PrometheusAnalyzer(connect(PrometheusSettings(url=undone_prometheus.url)))
    request = build_request(
        QuerySettings(),
        f"{NAMESPACE}/web-hotfix",
        ((NAMESPACE, "web"),),
        Analysis.model_validate({"errorRate": {"enabled": False}, "latencyP95": {"enabled": False}}),
        now - seconds_since,
    )
    report = analyzer.analyze([request], now=now)[request.key]
    result = next(r for r in report.metrics[f"{NAMESPACE}/web"] if r.metric == CRASH_FREE_SESSIONS)
    assert result.state == expected, result.reason
    assert said in result.reason
