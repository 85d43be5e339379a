"""The temporary alert thresholds, evaluated as pure functions over time series.

A series is what a Prometheus range query returns for one Deployment, as ``(unix seconds, value)``
pairs. Every function is told ``now`` and when the rollout completed, so the same history always gives
the same verdict, and a restarted operator re-reads history from Prometheus instead of keeping samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from hotfix_operator.api.durations import format_duration
from hotfix_operator.api.status import AnalysisState

Point = tuple[float, float]

ERROR_RATE = "errorRate"
LATENCY_P95 = "latencyP95"
CRASH_FREE_SESSIONS = "crashFreeSessions"

# Float noise in timestamps from Prometheus' step alignment must not move a point out of its window.
_TIME_EPSILON = 1e-3


class MetricResult(BaseModel):
    """One threshold's verdict, with the evidence a person needs to check it."""

    model_config = ConfigDict(frozen=True)

    metric: str
    state: AnalysisState
    reason: str
    value: float | None = None
    threshold: float | None = None
    window_start: float | None = None
    window_end: float | None = None
    # False: this threshold could not be judged for this target and is left out of the verdict, saying so
    # (crash-free sessions of a backend that has no session metrics).
    judged: bool = True


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.2f}%"


def _finite(points: Iterable[Point]) -> list[Point]:
    return [(t, v) for t, v in points if not math.isnan(v)]


def _pending_until_elapsed(metric: str, needed: timedelta, elapsed: timedelta, threshold: float) -> MetricResult:
    return MetricResult(
        metric=metric,
        state=AnalysisState.PENDING,
        threshold=threshold,
        reason=f"{format_duration(elapsed)} of data since the window opened; this threshold needs "
        f"{format_duration(needed)}",
    )


def evaluate_error_rate(
    points: Sequence[Point],
    *,
    max_ratio: float,
    hold_for: timedelta,
    step: timedelta,
    now: float,
    active_since: float,
) -> MetricResult:
    """Breached when the ratio is above ``max_ratio`` at every evaluation point of the last ``hold_for``.

    ``points`` are the ratio at each evaluation step; ``active_since`` is when the hotfix started to run.
    A missing or NaN point is not evidence of a breach, so a gap never completes one.
    """
    elapsed = timedelta(seconds=now - active_since)
    if elapsed < hold_for:
        return _pending_until_elapsed(ERROR_RATE, hold_for, elapsed, max_ratio)
    window_start = now - hold_for.total_seconds()
    in_window = [(t, v) for t, v in points if window_start - _TIME_EPSILON <= t <= now + _TIME_EPSILON]
    common = {"metric": ERROR_RATE, "threshold": max_ratio, "window_start": window_start, "window_end": now}
    finite = _finite(in_window)
    if not finite and in_window:
        # The series exist and say 0/0: not one request in the window.
        return MetricResult(
            state=AnalysisState.NO_TRAFFIC,
            reason=f"error rate: no requests in the last {format_duration(hold_for)}",
            **common,
        )
    if not finite:
        return MetricResult(
            state=AnalysisState.INCONCLUSIVE,
            reason=f"error rate: no series in the last {format_duration(hold_for)}",
            **common,
        )
    latest = finite[-1][1]
    at_or_below = [v for _, v in finite if v <= max_ratio]
    if at_or_below:
        return MetricResult(
            state=AnalysisState.HEALTHY,
            value=latest,
            reason=f"error rate {_percent(latest)} now; not above {_percent(max_ratio)} for all of the last "
            f"{format_duration(hold_for)}",
            **common,
        )
    expected_points = int(hold_for / step) + 1
    lowest = min(v for _, v in finite)
    if len(finite) < expected_points or finite[0][0] > window_start + step.total_seconds() / 2:
        return MetricResult(
            state=AnalysisState.INCONCLUSIVE,
            value=lowest,
            reason=f"error rate above {_percent(max_ratio)} wherever measured, but {expected_points - len(finite)} "
            f"of {expected_points} evaluation points in the last {format_duration(hold_for)} have no data",
            **common,
        )
    return MetricResult(
        state=AnalysisState.BREACHED,
        value=lowest,
        reason=f"error rate above {_percent(max_ratio)} at every point of the last {format_duration(hold_for)} "
        f"(lowest {_percent(lowest)}, latest {_percent(latest)})",
        **common,
    )


def evaluate_latency_p95(
    points: Sequence[Point],
    *,
    max_ms: float,
    window: timedelta,
    consecutive_windows: int,
    now: float,
    active_since: float,
) -> MetricResult:
    """Breached when p95 is above ``max_ms`` in each of the last N non-overlapping windows.

    ``points`` hold, at each window's end, the p95 in milliseconds over the ``window`` before it (a range
    query with ``step = window`` ending at ``now``).
    """
    needed = window * consecutive_windows
    elapsed = timedelta(seconds=now - active_since)
    if elapsed < needed:
        return _pending_until_elapsed(LATENCY_P95, needed, elapsed, max_ms)
    width = window.total_seconds()
    common = {
        "metric": LATENCY_P95,
        "threshold": max_ms,
        "window_start": now - needed.total_seconds(),
        "window_end": now,
    }
    in_windows = [(t, v) for t, v in points if t >= now - needed.total_seconds() - _TIME_EPSILON]
    finite = _finite(in_windows)
    if not finite and in_windows:
        return MetricResult(
            state=AnalysisState.NO_TRAFFIC,
            reason=f"p95 latency: no requests in the last {consecutive_windows} windows of {format_duration(window)}",
            **common,
        )
    window_values: list[float | None] = []
    for index in range(consecutive_windows):
        window_end = now - index * width
        nearest = [v for t, v in finite if abs(t - window_end) <= width / 2]
        window_values.append(nearest[-1] if nearest else None)
    measured = [v for v in window_values if v is not None]
    if not measured:
        return MetricResult(
            state=AnalysisState.INCONCLUSIVE,
            reason=f"p95 latency: no series in the last {consecutive_windows} windows of {format_duration(window)}",
            **common,
        )
    latest = measured[0]
    within = sum(1 for v in measured if v <= max_ms)
    if within:
        above = len(measured) - within
        return MetricResult(
            state=AnalysisState.HEALTHY,
            value=latest,
            reason=f"p95 {latest:.0f} ms now; above {max_ms:.0f} ms in {above} of the last {consecutive_windows} "
            f"windows of {format_duration(window)}",
            **common,
        )
    if len(measured) < consecutive_windows:
        return MetricResult(
            state=AnalysisState.INCONCLUSIVE,
            value=min(measured),
            reason=f"p95 above {max_ms:.0f} ms wherever measured, but {consecutive_windows - len(measured)} of the "
            f"last {consecutive_windows} windows have no data",
            **common,
        )
    return MetricResult(
        state=AnalysisState.BREACHED,
        value=min(measured),
        reason=f"p95 above {max_ms:.0f} ms in each of the last {consecutive_windows} windows of "
        f"{format_duration(window)} (lowest {min(measured):.0f} ms, latest {latest:.0f} ms)",
        **common,
    )


def crash_free_window(over: timedelta, elapsed: timedelta) -> timedelta:
    """The window crash-free sessions are measured over: ``over``, clipped to the time since rollout."""
    return max(min(over, elapsed), timedelta(0))


def evaluate_crash_free(
    *,
    total_sessions: float | None,
    crashed_sessions: float | None,
    min_ratio: float,
    min_sessions: int,
    window: timedelta,
    now: float,
) -> MetricResult:
    """Breached when ``1 - crashed/total`` over the window is below ``min_ratio``, given enough sessions.

    The session counts are increases over the ``window`` that ends ``now``.
    """
    common = {
        "metric": CRASH_FREE_SESSIONS,
        "threshold": min_ratio,
        "window_start": now - window.total_seconds(),
        "window_end": now,
    }
    if total_sessions is None or crashed_sessions is None:
        return MetricResult(state=AnalysisState.INCONCLUSIVE, reason="crash-free sessions: no session series", **common)
    if math.isnan(total_sessions) or math.isnan(crashed_sessions):
        return MetricResult(
            state=AnalysisState.INCONCLUSIVE, reason="crash-free sessions: NaN session counts", **common
        )
    if total_sessions <= 0 or total_sessions < min_sessions:
        return MetricResult(
            state=AnalysisState.PENDING,
            reason=f"only {total_sessions:.0f} sessions in the last {format_duration(window)}; "
            f"at least {min_sessions} are needed to judge",
            **common,
        )
    crash_free = 1 - min(crashed_sessions, total_sessions) / total_sessions
    if crash_free < min_ratio:
        return MetricResult(
            state=AnalysisState.BREACHED,
            value=crash_free,
            reason=f"crash-free sessions {_percent(crash_free)} < {_percent(min_ratio)} over "
            f"{format_duration(window)} ({total_sessions:.0f} sessions)",
            **common,
        )
    return MetricResult(
        state=AnalysisState.HEALTHY,
        value=crash_free,
        reason=f"crash-free sessions {_percent(crash_free)} over {format_duration(window)} "
        f"({total_sessions:.0f} sessions)",
        **common,
    )


def evaluate_restarts(
    *,
    pods: float | None,
    restarts: float | None,
    min_ratio: float,
    window: timedelta,
    now: float,
) -> MetricResult:
    """The substitute for crash-free sessions on backends: the share of the target's pods whose containers
    did not restart in the ``window`` that ends ``now`` (kube-state-metrics), breached below ``min_ratio``.

    Restarts are counted as if each crashed one pod, so the share is a floor, not an exact pod count.
    """
    common = {
        "metric": CRASH_FREE_SESSIONS,
        "threshold": min_ratio,
        "window_start": now - window.total_seconds(),
        "window_end": now,
    }
    if pods is None or restarts is None or pods <= 0:
        return MetricResult(
            state=AnalysisState.INCONCLUSIVE,
            reason="pod restarts: no kube_pod_container_status_restarts_total series for the target's pods",
            **common,
        )
    crash_free = 1 - min(restarts, pods) / pods
    text = f"{restarts:.0f} container restarts among {pods:.0f} pods in the last {format_duration(window)}"
    if crash_free < min_ratio:
        return MetricResult(
            state=AnalysisState.BREACHED,
            value=crash_free,
            reason=f"pods without a restart {_percent(crash_free)} < {_percent(min_ratio)}: {text}",
            **common,
        )
    return MetricResult(
        state=AnalysisState.HEALTHY,
        value=crash_free,
        reason=f"pods without a restart {_percent(crash_free)}: {text}",
        **common,
    )


# A breach anywhere is acted on even when another metric has no data; missing data outranks waiting, and
# a target without traffic outranks one still waiting for its window (neither is healthy evidence).
_PRECEDENCE = (
    AnalysisState.BREACHED,
    AnalysisState.INCONCLUSIVE,
    AnalysisState.NO_TRAFFIC,
    AnalysisState.PENDING,
    AnalysisState.HEALTHY,
)


def combine(results: Iterable[MetricResult]) -> AnalysisState:
    """The overall verdict of several thresholds (of one or several Deployments); unjudged ones left out."""
    states = {result.state for result in results if result.judged}
    for state in _PRECEDENCE:
        if state in states:
            return state
    return AnalysisState.PENDING
