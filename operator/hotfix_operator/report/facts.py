"""The facts a report states, worked out from a Hotfix and its history: pure functions, no I/O.

When to query (a little before the hotfix to a little after it ended), which moments to mark on the charts,
when each threshold was on the wrong side of its line, and the user impact: failed requests above what the
pre-hotfix error rate would have given, and the time each threshold was breached.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hotfix_operator.api.durations import parse_duration
from hotfix_operator.api.history import HistoryWindow, HotfixHistory, Marker, MetricSeries
from hotfix_operator.api.status import HotfixStatus, Phase

# Shown before the hotfix so the chart has the normal level to compare with, and after it so the recovery
# (or its absence) is visible: a quarter of the story each side, within these bounds, so that a 30 s
# incident is not a sliver in a 7-minute chart.
LEAD_SHARE = 0.25
MIN_MARGIN = timedelta(seconds=15)
MAX_LEAD = timedelta(minutes=5)
MAX_TAIL = timedelta(minutes=2)
ENDED_PHASES = {Phase.STABLE, Phase.ROLLED_BACK, Phase.ESCALATED, Phase.FAILED, Phase.SUPERSEDED}
# Timeline entries drawn as vertical lines, with the short label they get on a chart.
MARKED = {
    "RolloutStarted": "rollout",
    "Decision": "decision",
    "RollbackPatched": "undo",
    "RollbackComplete": "rolled back",
    "Checkpoint": "checkpoint",
    "Escalated": "escalated",
}


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def hotfix_status(hotfix: dict[str, Any]) -> HotfixStatus:
    return HotfixStatus.from_api(hotfix.get("status"))


def started_at(hotfix: dict[str, Any]) -> datetime | None:
    """When the incident started, as declared, else when the Hotfix was created."""
    incident = (hotfix.get("spec") or {}).get("incident") or {}
    created = (hotfix.get("metadata") or {}).get("creationTimestamp")
    return _parse_time(incident.get("startedAt")) or _parse_time(created)


def ended_at(hotfix: dict[str, Any]) -> datetime | None:
    """The last timeline entry of a Hotfix that needs no more steps; None while it is in flight."""
    status = hotfix_status(hotfix)
    return status.timeline[-1].at if status.phase in ENDED_PHASES and status.timeline else None


def _margin(story: timedelta, bound: timedelta) -> timedelta:
    return min(max(story * LEAD_SHARE, MIN_MARGIN), bound)


def query_window(hotfix: dict[str, Any], now: datetime) -> HistoryWindow:
    """From a little before the hotfix to a little after its end (or now, while it is in flight); the impact
    is counted to its end only, so a finished Hotfix's figures do not change with the time of the report."""
    status = hotfix_status(hotfix)
    first = min([t for t in [started_at(hotfix), *(e.at for e in status.timeline[:1])] if t], default=now)
    last = ended_at(hotfix)
    until = max(last or now, first)
    story = until - first
    end = min(until + _margin(story, MAX_TAIL), now) if last else now
    return HistoryWindow(
        start=(first - _margin(story, MAX_LEAD)).timestamp(),
        end=max(end, first).timestamp(),
        impact_until=until.timestamp(),
        rate_window=recorded_rate_window(status),
    )


def recorded_rate_window(status: HotfixStatus) -> timedelta | None:
    """The error rate's window the operator judged with (``status.lastAnalysis.rateWindow``)."""
    recorded = status.last_analysis.get("rateWindow")
    try:
        return parse_duration(str(recorded)) if recorded else None
    except ValueError:
        return None


def markers(hotfix: dict[str, Any]) -> tuple[Marker, ...]:
    return tuple(
        Marker(at=entry.at.timestamp(), label=MARKED[entry.type])
        for entry in hotfix_status(hotfix).timeline
        if entry.type in MARKED
    )


def breach_periods(series: MetricSeries) -> list[tuple[float, float]]:
    """Runs of consecutive points on the wrong side of the line, each as (first point, last point + step)."""
    periods: list[tuple[float, float]] = []
    run_start: float | None = None
    previous: float | None = None
    for at, value in series.points:
        gap = previous is not None and at - previous > 1.5 * series.step_seconds
        if run_start is not None and (gap or not series.breached(value)):
            assert previous is not None
            periods.append((run_start, previous + series.step_seconds))
            run_start = None
        if run_start is None and series.breached(value):
            run_start = at
        previous = at
    if run_start is not None and previous is not None:
        periods.append((run_start, previous + series.step_seconds))
    return periods


@dataclass(frozen=True)
class TargetImpact:
    target: str
    # Failed requests during the hotfix above the number the pre-hotfix error rate would have given.
    excess_failed: float | None
    failed: float | None
    requests: float | None
    baseline_ratio: float | None
    # metric -> seconds on the wrong side of the threshold
    breached_seconds: dict[str, float]
    queries: dict[str, str]
    missing: str


def impact(history: HotfixHistory) -> list[TargetImpact]:
    impacts = []
    for counts in history.counts:
        baseline_ratio = (
            counts.baseline_failed / counts.baseline_requests
            if counts.baseline_failed is not None and counts.baseline_requests
            else (0.0 if counts.baseline_requests == 0 else None)
        )
        excess = None
        if counts.failed is not None and counts.requests is not None:
            expected = (baseline_ratio or 0.0) * counts.requests
            excess = max(counts.failed - expected, 0.0)
        breached = {
            series.metric: sum(end - start for start, end in breach_periods(series))
            for series in history.series
            if series.target == counts.target and series.points
        }
        impacts.append(
            TargetImpact(
                target=counts.target,
                excess_failed=excess,
                failed=counts.failed,
                requests=counts.requests,
                baseline_ratio=baseline_ratio,
                breached_seconds=breached,
                queries=counts.queries,
                missing=counts.missing,
            )
        )
    return impacts
