"""Verdicts from Prometheus' answers: each target's series sliced out of a batched answer, judged by the
pure threshold functions, and gathered into one report per Hotfix."""

from __future__ import annotations

import math
from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from hotfix_operator.analysis.presets.base import DEPLOYMENT, NAMESPACE, Target
from hotfix_operator.analysis.queries import AnalysisRequest
from hotfix_operator.analysis.thresholds import (
    CRASH_FREE_SESSIONS,
    MetricResult,
    Point,
    crash_free_window,
    evaluate_crash_free,
    evaluate_error_rate,
    evaluate_latency_p95,
    evaluate_restarts,
)
from hotfix_operator.api.durations import format_duration
from hotfix_operator.api.status import AnalysisState

Matrix = list[dict[str, object]]


def _points(series: dict[str, object]) -> list[Point]:
    return [(float(t), float(v)) for t, v in series.get("values") or []]  # type: ignore[union-attr]


# A batched answer's series by the target they belong to.
SeriesByTarget = dict[Target, dict[str, object]]


def by_target(matrix: Matrix) -> SeriesByTarget:
    """A batched answer's series keyed by (namespace, deployment), whatever the preset's own labels: each
    target's series is then found at once, where scanning the answer for each target was quadratic (about
    a minute or two of one core for 10,000 Hotfixes, every interval)."""
    indexed: SeriesByTarget = {}
    for series in matrix:
        labels = series.get("metric") or {}
        assert isinstance(labels, dict)
        indexed.setdefault((labels.get(NAMESPACE), labels.get(DEPLOYMENT)), series)
    return indexed


def series_for(answer: SeriesByTarget, target: Target) -> list[Point] | None:
    """The points of one target's series in a batched answer; None when it has no series."""
    series = answer.get(target)
    return None if series is None else _points(series)


def only_series(matrix: Matrix) -> list[Point] | None:
    """The points of a per-target (override) answer, which should hold one series."""
    return _points(matrix[0]) if matrix else None


def evaluate_error_rate_points(points: list[Point] | None, request: AnalysisRequest, now: float) -> MetricResult:
    threshold = request.analysis.error_rate
    return evaluate_error_rate(
        points or [],
        max_ratio=threshold.max,
        hold_for=threshold.for_,
        step=request.analysis.interval,
        now=now,
        active_since=request.active_since,
    )


def evaluate_latency_points(points: list[Point] | None, request: AnalysisRequest, now: float) -> MetricResult:
    threshold = request.analysis.latency_p95
    return evaluate_latency_p95(
        points or [],
        max_ms=threshold.max_ms,
        window=threshold.window,
        consecutive_windows=threshold.consecutive_windows,
        now=now,
        active_since=request.active_since,
    )


def increase_within(points: list[Point] | None, since: float, step: timedelta) -> float | None:
    """How much a counter grew since ``since``, from points ``step`` apart that are each the increase over
    the step that ends at them (PromQL's ``increase()`` per series, then summed: resets and failed scrapes are
    handled there); None when there is no series. ``since`` falls on a step's start (see ``counted_window``).

    The point at ``since`` ends the step before it, wherever the server put it: a point counts only when more
    than half a step after ``since``, so a grid moved by a rounded start or step is still read right.
    """
    if points is None:
        return None
    after = since + max(step.total_seconds() / 2, 1e-3)
    return float(sum(v for t, v in points if t > after and not math.isnan(v)))


def counted_window(request: AnalysisRequest, now: float, step: timedelta) -> timedelta:
    """The part of the crash-free window that whole counting steps cover: the steps end at ``now`` and tile
    back from it, and only those that began inside the window count. A step that began before the window
    opened would count what ran before it: right after an undo, the crashes of the revision just undone (a
    false "did not recover"); right after a rollout, the sessions of the revision it replaced."""
    window = crash_free_window(request.analysis.crash_free_sessions.over, timedelta(seconds=now - request.active_since))
    if step <= timedelta(0):
        return window
    # The epsilon keeps a window of exactly n steps at n despite float division.
    return step * math.floor(window / step + 1e-6)


def _no_whole_step_yet(request: AnalysisRequest, now: float, step: timedelta) -> MetricResult:
    elapsed = timedelta(seconds=max(now - request.active_since, 0.0))
    return MetricResult(
        metric=CRASH_FREE_SESSIONS,
        state=AnalysisState.PENDING,
        reason=f"crash-free sessions: counted in steps of {format_duration(step)}, and none has ended since the "
        f"window opened {format_duration(elapsed)} ago",
        threshold=request.analysis.crash_free_sessions.min,
        window_start=request.active_since,
        window_end=now,
    )


def evaluate_sessions_points(
    total_points: list[Point] | None,
    crashed_points: list[Point] | None,
    request: AnalysisRequest,
    now: float,
    step: timedelta,
) -> MetricResult:
    threshold = request.analysis.crash_free_sessions
    window = counted_window(request, now, step)
    since = now - window.total_seconds()
    total = increase_within(total_points, since, step)
    crashed = increase_within(crashed_points, since, step)
    if total is None:
        # Backends have no session metrics: say so and judge the hotfix on the other thresholds.
        return MetricResult(
            metric=CRASH_FREE_SESSIONS,
            state=AnalysisState.INCONCLUSIVE,
            judged=False,
            reason="crash-free sessions: not judged, this target has no session metrics "
            "(switch it off with crashFreeSessions.enabled: false, or use source: restarts)",
            threshold=threshold.min,
        )
    if window <= timedelta(0):
        return _no_whole_step_yet(request, now, step)
    if crashed is None:
        # No crash series at all means no crash has been counted yet, not missing telemetry.
        crashed = 0.0
    return evaluate_crash_free(
        total_sessions=total,
        crashed_sessions=crashed,
        min_ratio=threshold.min,
        min_sessions=threshold.min_sessions,
        window=window,
        now=now,
    )


def evaluate_restarts_points(
    pod_points: list[Point] | None,
    restart_points: list[Point] | None,
    request: AnalysisRequest,
    now: float,
    step: timedelta,
) -> MetricResult:
    window = counted_window(request, now, step)
    if window <= timedelta(0) and pod_points:
        return _no_whole_step_yet(request, now, step)
    pods = next((v for _, v in reversed(pod_points or []) if not math.isnan(v)), None)
    return evaluate_restarts(
        pods=pods,
        restarts=increase_within(restart_points, now - window.total_seconds(), step),
        min_ratio=request.analysis.crash_free_sessions.min,
        window=window,
        now=now,
    )


def evaluate_crash_free_override(points: list[Point] | None, request: AnalysisRequest, now: float) -> MetricResult:
    """An override query returns the crash-free ratio itself; its author owns the session minimum."""
    threshold = request.analysis.crash_free_sessions
    common = {"metric": CRASH_FREE_SESSIONS, "threshold": threshold.min, "window_end": now}
    if not points or math.isnan(points[-1][1]):
        return MetricResult(state=AnalysisState.INCONCLUSIVE, reason="crash-free override query: no data", **common)
    ratio = points[-1][1]
    state = AnalysisState.BREACHED if ratio < threshold.min else AnalysisState.HEALTHY
    relation = "<" if state is AnalysisState.BREACHED else ">="
    return MetricResult(
        state=state,
        value=ratio,
        reason=f"crash-free sessions {ratio * 100:.2f}% {relation} {threshold.min * 100:.2f}% (override query)",
        **common,
    )


class AnalysisReport(BaseModel):
    """One Hotfix's analysis at one moment: the overall verdict and every metric of every target."""

    model_config = ConfigDict(frozen=True)

    key: str
    at: float
    result: AnalysisState
    metrics: dict[str, list[MetricResult]]  # "namespace/deployment" -> results

    def breaches(self) -> list[tuple[str, MetricResult]]:
        return [
            (target, metric)
            for target, results in self.metrics.items()
            for metric in results
            if metric.state is AnalysisState.BREACHED
        ]

    def summary(self) -> str:
        interesting = [
            f"{target} {metric.reason}"
            for target, results in self.metrics.items()
            for metric in results
            if metric.state is self.result or not metric.judged
        ]
        return "; ".join(interesting) or self.result.value
