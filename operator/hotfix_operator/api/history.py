"""What Prometheus said about a Hotfix after the fact: the facts a report draws and counts.

Plain data, filled by the Prometheus adapter (``analysis.history``) and read by the report and the
dashboard, so that neither needs to know how the series were queried, only which query to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

Point = tuple[float, float]  # (unix seconds, value)


@dataclass(frozen=True)
class MetricSeries:
    """One enabled threshold's series for one target, with the line it is judged against."""

    target: str  # namespace/deployment
    metric: str  # errorRate, latencyP95, crashFreeSessions
    threshold: float
    # Error rate and latency breach above their line; crash-free sessions below it.
    breach_above: bool
    query: str
    step_seconds: float
    points: tuple[Point, ...] = ()
    # Why there are no points: Prometheus unreachable, the series gone with its retention, not charted.
    missing: str = ""

    def breached(self, value: float) -> bool:
        return value > self.threshold if self.breach_above else value < self.threshold


@dataclass(frozen=True)
class RequestCounts:
    """Requests and failures of one target during the hotfix and in a span as long just before it."""

    target: str
    failed: float | None
    requests: float | None
    baseline_failed: float | None
    baseline_requests: float | None
    # The PromQL that gave each figure, and when it was evaluated, so a person can run it again.
    queries: dict[str, str] = field(default_factory=dict)
    missing: str = ""


@dataclass(frozen=True)
class Marker:
    """A moment worth a vertical line on every chart: the rollout, the decision, the undo, a checkpoint."""

    at: float
    label: str


@dataclass(frozen=True)
class HistoryWindow:
    """What a report asks Prometheus for: the charts' span, the end of the impact count (the Hotfix's end,
    before the chart's tail), and the error rate's window as the operator judged it (None: not recorded)."""

    start: float
    end: float
    impact_until: float
    rate_window: timedelta | None = None


@dataclass(frozen=True)
class HotfixHistory:
    """Everything queried for one Hotfix, from a little before it started to a little after it ended."""

    hotfix: str  # namespace/name
    start: float
    end: float
    series: tuple[MetricSeries, ...] = ()
    counts: tuple[RequestCounts, ...] = ()
    markers: tuple[Marker, ...] = ()
    # Set when nothing could be queried at all (no Prometheus given, or it did not answer).
    unavailable: str = ""
