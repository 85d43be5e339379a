"""Crash-free verdicts from counted steps: only the steps that began inside the window judge it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hotfix_operator.analysis.queries import AnalysisRequest, QuerySettings, build_request, crash_free_step
from hotfix_operator.analysis.verdicts import counted_window, evaluate_restarts_points, evaluate_sessions_points
from hotfix_operator.api.models import Analysis
from hotfix_operator.api.status import AnalysisState

NOW = 1_800_000_000.0
STEP = timedelta(minutes=1)


def request(seconds_since: float, **crash_free: object) -> AnalysisRequest:
    analysis = Analysis.model_validate({"crashFreeSessions": crash_free})
    return build_request(QuerySettings(), "ns/hf", (("ns", "web"),), analysis, NOW - seconds_since)


def steps(values: list[float]) -> list[tuple[float, float]]:
    """Per-step increases, the last step ending now."""
    return [(NOW - (len(values) - 1 - index) * 60, value) for index, value in enumerate(values)]


def test_the_default_window_is_read_in_steps_of_the_rate_window() -> None:
    assert crash_free_step(QuerySettings(), request(0).analysis) == STEP


@pytest.mark.parametrize(
    ("seconds_since", "counted"),
    [(45, 0), (60, 60), (119, 60), (150, 120), (7200, 1800)],
)
def test_the_counted_window_is_the_whole_steps_since_it_opened(seconds_since: float, counted: float) -> None:
    assert counted_window(request(seconds_since), NOW, STEP) == timedelta(seconds=counted)


def test_a_window_of_one_short_step_counts_once_it_is_whole() -> None:
    """A 30 s window read over two 30 s scrapes is one step of 30 s: counted once 30 s have passed."""
    step = crash_free_step(QuerySettings(), request(0, over="30s").analysis)
    assert counted_window(request(29, over="30s"), NOW, step) == timedelta(0)
    assert counted_window(request(3600, over="30s"), NOW, step) == timedelta(seconds=30)


def test_crashes_of_the_step_that_straddles_the_undo_are_not_evidence() -> None:
    # 600 sessions a step; the step before the undo 90 s ago crashed 20% of them, the one after 0.1%.
    total, crashed = steps([600.0, 600.0]), steps([120.0, 0.6])
    result = evaluate_sessions_points(total, crashed, request(90), NOW, STEP)
    assert result.state == AnalysisState.HEALTHY, result.reason
    assert result.window_start == NOW - 60
    # 45 s after the undo, the only step that has ended began before it.
    early = evaluate_sessions_points(steps([600.0]), steps([120.0]), request(45), NOW, STEP)
    assert early.state == AnalysisState.PENDING
    assert "none has ended since the window opened" in early.reason


def test_a_restart_before_the_window_opened_is_not_counted() -> None:
    pods, restarts = steps([4.0, 4.0]), steps([2.0, 0.0])
    result = evaluate_restarts_points(pods, restarts, request(90, source="restarts"), NOW, STEP)
    assert result.state == AnalysisState.HEALTHY, result.reason
    early = evaluate_restarts_points(pods, restarts, request(45, source="restarts"), NOW, STEP)
    assert early.state == AnalysisState.PENDING


def test_without_session_series_the_threshold_is_not_judged_even_before_a_whole_step() -> None:
    result = evaluate_sessions_points(None, None, request(10), NOW, STEP)
    assert result.state == AnalysisState.INCONCLUSIVE
    assert not result.judged
