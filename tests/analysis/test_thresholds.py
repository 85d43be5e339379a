"""Threshold evaluation over time series: the boundaries of every window."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from hotfix_operator.analysis.thresholds import (
    MetricResult,
    combine,
    crash_free_window,
    evaluate_crash_free,
    evaluate_error_rate,
    evaluate_latency_p95,
    evaluate_restarts,
)
from hotfix_operator.api.status import AnalysisState

NOW = 1_800_000_000.0
STEP = timedelta(seconds=1)
FIVE_MINUTES = timedelta(minutes=5)


def ratio_series(
    bad_for: float, bad: float = 0.012, good: float = 0.002, span: float = 900
) -> list[tuple[float, float]]:
    """One point a second for ``span`` seconds, ``bad`` for the last ``bad_for`` seconds and ``good`` before."""
    return [(NOW - age, bad if age <= bad_for else good) for age in range(int(span), -1, -1)]


def error_rate(points: list[tuple[float, float]], active_for: float = 900) -> MetricResult:
    return evaluate_error_rate(
        points, max_ratio=0.01, hold_for=FIVE_MINUTES, step=STEP, now=NOW, active_since=NOW - active_for
    )


def test_error_rate_above_for_just_under_the_window_is_not_a_breach() -> None:
    assert error_rate(ratio_series(bad_for=299)).state == AnalysisState.HEALTHY


def test_error_rate_above_for_the_whole_window_is_a_breach() -> None:
    result = error_rate(ratio_series(bad_for=300))
    assert result.state == AnalysisState.BREACHED
    assert result.value == pytest.approx(0.012)
    assert result.threshold == 0.01
    assert (result.window_start, result.window_end) == (NOW - 300, NOW)
    assert "1.20%" in result.reason


def test_error_rate_below_max_never_breaches() -> None:
    assert error_rate(ratio_series(bad_for=900, bad=0.009)).state == AnalysisState.HEALTHY


def test_error_rate_exactly_at_max_is_not_above() -> None:
    assert error_rate(ratio_series(bad_for=900, bad=0.01)).state == AnalysisState.HEALTHY


def test_error_rate_is_pending_until_the_hotfix_ran_the_whole_window() -> None:
    result = error_rate(ratio_series(bad_for=900), active_for=299)
    assert result.state == AnalysisState.PENDING
    assert "4m59s" in result.reason


def test_error_rate_without_series_is_inconclusive() -> None:
    result = error_rate([])
    assert result.state == AnalysisState.INCONCLUSIVE
    assert "no series" in result.reason


def test_error_rate_of_only_nan_is_no_traffic() -> None:
    # The ratio's series exist but say 0/0: not one request in the window, its own outcome.
    result = error_rate([(t, math.nan) for t, _ in ratio_series(bad_for=0)])
    assert result.state == AnalysisState.NO_TRAFFIC
    assert "no requests" in result.reason


def test_a_gap_never_completes_an_error_rate_breach() -> None:
    points = [(t, v) for t, v in ratio_series(bad_for=900) if not NOW - 200 < t < NOW - 100]
    assert error_rate(points).state == AnalysisState.INCONCLUSIVE


def test_a_nan_point_breaks_nothing_when_the_rest_is_healthy() -> None:
    points = ratio_series(bad_for=0)
    points[-10] = (points[-10][0], math.nan)
    assert error_rate(points).state == AnalysisState.HEALTHY


def latency(values_ms: list[float], active_for: float = 600) -> MetricResult:
    """``values_ms`` are the p95 of the last windows, newest last, one a minute."""
    points = [(NOW - 60 * (len(values_ms) - 1 - index), value) for index, value in enumerate(values_ms)]
    return evaluate_latency_p95(
        points,
        max_ms=1200,
        window=timedelta(minutes=1),
        consecutive_windows=3,
        now=NOW,
        active_since=NOW - active_for,
    )


def test_latency_over_the_limit_in_two_of_three_windows_is_not_a_breach() -> None:
    result = latency([900, 1500, 1500])
    assert result.state == AnalysisState.HEALTHY
    assert "2 of the last 3" in result.reason


def test_latency_over_the_limit_in_three_of_three_windows_is_a_breach() -> None:
    result = latency([1500, 1300, 1600])
    assert result.state == AnalysisState.BREACHED
    assert result.value == 1300


def test_latency_older_windows_do_not_count() -> None:
    assert latency([1500, 1500, 1500, 1000]).state == AnalysisState.HEALTHY
    assert latency([1000, 1500, 1500, 1500]).state == AnalysisState.BREACHED


def test_latency_is_pending_before_three_windows_have_passed() -> None:
    assert latency([1500, 1500, 1500], active_for=179).state == AnalysisState.PENDING


def test_latency_with_a_missing_window_is_inconclusive_not_breached() -> None:
    assert latency([1500, 1500]).state == AnalysisState.INCONCLUSIVE


def test_latency_of_only_nan_is_no_traffic() -> None:
    assert latency([math.nan, math.nan, math.nan]).state == AnalysisState.NO_TRAFFIC


def test_latency_without_series_is_inconclusive() -> None:
    assert latency([]).state == AnalysisState.INCONCLUSIVE


@pytest.mark.parametrize(
    ("pods", "restarts", "expected"),
    [(4, 0, AnalysisState.HEALTHY), (4, 1, AnalysisState.BREACHED), (None, 0, AnalysisState.INCONCLUSIVE)],
)
def test_restarts_substitute(pods: float | None, restarts: float, expected: AnalysisState) -> None:
    result = evaluate_restarts(pods=pods, restarts=restarts, min_ratio=0.98, window=timedelta(minutes=30), now=NOW)
    assert result.state == expected


def crash_free(total: float | None, crashed: float | None, window: float = 1800) -> MetricResult:
    return evaluate_crash_free(
        total_sessions=total,
        crashed_sessions=crashed,
        min_ratio=0.98,
        min_sessions=100,
        window=timedelta(seconds=window),
        now=NOW,
    )


def test_crash_free_below_minimum_is_a_breach() -> None:
    result = crash_free(1000, 30)
    assert result.state == AnalysisState.BREACHED
    assert result.value == pytest.approx(0.97)


def test_crash_free_exactly_at_minimum_is_healthy() -> None:
    assert crash_free(1000, 20).state == AnalysisState.HEALTHY


def test_crash_free_with_too_few_sessions_is_pending() -> None:
    result = crash_free(99, 50)
    assert result.state == AnalysisState.PENDING
    assert "99 sessions" in result.reason


def test_crash_free_window_is_clipped_to_time_since_rollout() -> None:
    assert crash_free_window(timedelta(minutes=30), timedelta(minutes=7)) == timedelta(minutes=7)
    assert crash_free_window(timedelta(minutes=30), timedelta(hours=2)) == timedelta(minutes=30)
    assert crash_free(1000, 5, window=420).window_start == NOW - 420


@pytest.mark.parametrize(("total", "crashed"), [(None, 1), (100, None), (math.nan, 1)])
def test_crash_free_without_data_is_inconclusive(total: float | None, crashed: float | None) -> None:
    assert crash_free(total, crashed).state == AnalysisState.INCONCLUSIVE


def _result(state: AnalysisState) -> MetricResult:
    return MetricResult(metric="m", state=state, reason="r")


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([AnalysisState.HEALTHY, AnalysisState.HEALTHY], AnalysisState.HEALTHY),
        ([AnalysisState.HEALTHY, AnalysisState.PENDING], AnalysisState.PENDING),
        ([AnalysisState.PENDING, AnalysisState.INCONCLUSIVE], AnalysisState.INCONCLUSIVE),
        ([AnalysisState.INCONCLUSIVE, AnalysisState.BREACHED], AnalysisState.BREACHED),
        ([], AnalysisState.PENDING),
    ],
)
def test_combine_prefers_breach_then_missing_data_then_waiting(
    states: list[AnalysisState], expected: AnalysisState
) -> None:
    assert combine(_result(state) for state in states) == expected
