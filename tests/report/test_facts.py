"""Breach periods, user impact and the query window, from recorded facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotfix_operator.api.history import HotfixHistory, MetricSeries, RequestCounts
from hotfix_operator.report.facts import breach_periods, impact, markers, query_window


def series(values: list[float], threshold: float = 0.01, breach_above: bool = True, step: float = 10) -> MetricSeries:
    points = tuple((1000 + step * index, value) for index, value in enumerate(values))
    return MetricSeries("prod/auth", "errorRate", threshold, breach_above, "q", step, points)


def test_breach_periods_are_runs_on_the_wrong_side_of_the_line() -> None:
    assert breach_periods(series([0.0, 0.05, 0.05, 0.0, 0.02])) == [(1010, 1030), (1040, 1050)]
    assert breach_periods(series([0.0, 0.01, 0.0])) == []  # on the line is not above it
    # Crash-free sessions breach below the line.
    assert breach_periods(series([0.99, 0.95, 0.99], threshold=0.98, breach_above=False)) == [(1010, 1020)]


def test_a_gap_in_the_data_ends_a_breach_period() -> None:
    gappy = MetricSeries("prod/auth", "errorRate", 0.01, True, "q", 10, ((1000, 0.05), (1010, 0.05), (1100, 0.05)))
    assert breach_periods(gappy) == [(1000, 1020), (1100, 1110)]


def test_impact_counts_failures_above_the_pre_hotfix_rate() -> None:
    counts = RequestCounts("prod/auth", failed=150, requests=10_000, baseline_failed=10, baseline_requests=10_000)
    history = HotfixHistory("prod/auth-fix", 0, 2000, series=(series([0.0, 0.05, 0.05]),), counts=(counts,))
    (only,) = impact(history)
    assert only.baseline_ratio == pytest.approx(0.001)
    assert only.excess_failed == pytest.approx(140)
    assert only.breached_seconds == {"errorRate": 20}


def test_impact_without_request_data_says_unknown() -> None:
    counts = RequestCounts("prod/auth", None, None, None, None, missing="failed: no data")
    (only,) = impact(HotfixHistory("prod/auth-fix", 0, 1, counts=(counts,)))
    assert (only.excess_failed, only.baseline_ratio, only.missing) == (None, None, "failed: no data")


def hotfix(phase: str, timeline: list[tuple[str, str]]) -> dict:
    return {
        "metadata": {"name": "auth-fix", "namespace": "prod", "creationTimestamp": "2026-11-22T10:00:00Z"},
        "spec": {"incident": {"id": "INC-1", "severity": "SEV1"}},
        "status": {"phase": phase, "timeline": [{"at": at, "type": kind, "message": ""} for at, kind in timeline]},
    }


def test_query_window_runs_from_a_little_before_the_hotfix_to_a_little_after_its_end() -> None:
    ended = hotfix("RolledBack", [("2026-11-22T10:00:05Z", "RolloutStarted"), ("2026-11-22T10:10:00Z", "RolledBack")])
    now = datetime(2026, 11, 23, tzinfo=UTC)
    window = query_window(ended, now)
    created, last = datetime(2026, 11, 22, 10, tzinfo=UTC), datetime(2026, 11, 22, 10, 10, tzinfo=UTC)
    # A 10-minute story: a quarter of it each side, within 5 minutes before and 2 after.
    assert window.start == (created - timedelta(seconds=150)).timestamp()
    assert window.end == (last + timedelta(minutes=2)).timestamp()
    # The impact is counted to the end of the Hotfix, not of the chart: the same figures at any later time.
    assert window.impact_until == last.timestamp()
    assert query_window(ended, now + timedelta(days=3)) == window
    in_flight = hotfix("Monitoring", [("2026-11-22T10:00:05Z", "RolloutStarted")])
    assert query_window(in_flight, now).end == query_window(in_flight, now).impact_until == now.timestamp()


def test_a_short_incident_fills_its_chart() -> None:
    short = hotfix("RolledBack", [("2026-11-22T10:00:05Z", "RolloutStarted"), ("2026-11-22T10:00:29Z", "RolledBack")])
    window = query_window(short, datetime(2026, 11, 23, tzinfo=UTC))
    story = 29.0
    assert window.end - window.start == story + 2 * 15  # at least 15 s each side, not 7 minutes
    assert window.rate_window is None


def test_the_recorded_rate_window_is_the_one_charted() -> None:
    ended = hotfix("RolledBack", [("2026-11-22T10:00:05Z", "RolloutStarted")])
    ended["status"]["lastAnalysis"] = {"rateWindow": "4s"}
    assert query_window(ended, datetime(2026, 11, 23, tzinfo=UTC)).rate_window == timedelta(seconds=4)


def test_markers_are_the_actions_on_the_timeline() -> None:
    timeline = [("2026-11-22T10:00:01Z", "BaselineRecorded"), ("2026-11-22T10:00:05Z", "RolloutStarted"),
                ("2026-11-22T10:01:00Z", "Decision"), ("2026-11-22T10:01:01Z", "RollbackPatched")]  # fmt: skip
    assert [m.label for m in markers(hotfix("RollingBack", timeline))] == ["rollout", "decision", "undo"]
