"""The Prometheus adapter for reports: each enabled threshold's series over a Hotfix's whole story, and the
request counts its user impact is worked out from.

The same preset queries as the live analysis (one per threshold for all targets, sliced per target), over a
longer range and at a step that keeps a chart readable; a Hotfix's own query overrides are used as is.
"""

from __future__ import annotations

import math
from datetime import timedelta

from hotfix_operator.analysis.presets.base import Target, promql_duration
from hotfix_operator.analysis.prometheus import PrometheusAnalyzer, describe_failure
from hotfix_operator.analysis.queries import THRESHOLDS, RangeQuery, rate_window
from hotfix_operator.analysis.tenant_queries import OverrideRefused, render_override
from hotfix_operator.analysis.thresholds import ERROR_RATE, LATENCY_P95
from hotfix_operator.analysis.verdicts import Matrix, by_target, only_series, series_for
from hotfix_operator.api.history import HistoryWindow, HotfixHistory, Marker, MetricSeries, RequestCounts
from hotfix_operator.api.models import Analysis, CrashFreeSource, HotfixSpec

# Enough points for a chart a person reads, few enough for one query per threshold over hours.
MAX_POINTS = 400
ONE_SECOND = timedelta(seconds=1)


def at_time(promql: str, unix_seconds: int) -> str:
    """The query's value at that moment, as a query of its own: a one-point subquery pinned with ``@`` (which
    applies to selectors and subqueries, not to a whole expression)."""
    return f"last_over_time(({promql})[1s:1s] @ {unix_seconds})"


def _step(analysis: Analysis, start: float, end: float) -> timedelta:
    seconds = max(analysis.interval.total_seconds(), math.ceil((end - start) / MAX_POINTS), 1.0)
    return timedelta(seconds=seconds)


def _points(matrix: Matrix | Exception, target: Target, per_target: bool) -> tuple[tuple[float, float], ...] | str:
    """The target's finite points, or why there are none."""
    if isinstance(matrix, Exception):
        return f"Prometheus did not answer: {describe_failure(matrix)}"
    found = only_series(matrix) if per_target else series_for(by_target(matrix), target)
    points = tuple(point for point in found or [] if math.isfinite(point[1]))
    if not points:
        return "no data in this range (never scraped, or gone with Prometheus' retention)"
    return points


class HistoryReader:
    """Reads what a report needs of one Hotfix from the Prometheus its analysis used."""

    def __init__(self, analyzer: PrometheusAnalyzer) -> None:
        self.analyzer = analyzer

    def history(
        self,
        key: str,
        namespace: str,
        spec: HotfixSpec,
        window: HistoryWindow,
        markers: tuple[Marker, ...] = (),
    ) -> HotfixHistory:
        targets = [(namespace, target.deployment) for target in spec.targets]
        start, end = window.start, window.end
        step = _step(spec.analysis, start, end)
        series = [
            one
            for metric in self.analyzer.settings.enabled(spec.analysis)
            for one in self._metric_series(metric, spec.analysis, targets, window, step)
        ]
        # The user impact counts from the first rollout (before it, the old version served) to the Hotfix's
        # end, not to the chart's: the same figures whenever the report is made.
        impact_from = min((marker.at for marker in markers if marker.label == "rollout"), default=start)
        counts = self._counts(spec.analysis, targets, impact_from, window.impact_until)
        return HotfixHistory(
            hotfix=key,
            start=start,
            end=end,
            series=tuple(sorted(series, key=lambda one: (one.target, THRESHOLDS.index(one.metric)))),
            counts=tuple(counts),
            markers=markers,
        )

    # -- the thresholds' series ------------------------------------------------------------------

    def _metric_series(
        self, metric: str, analysis: Analysis, targets: list[Target], window_of: HistoryWindow, step: timedelta
    ) -> list[MetricSeries]:
        start, end = window_of.start, window_of.end
        preset = self.analyzer.settings.preset(analysis.telemetry)
        match = preset.selector(targets)
        settings = self.analyzer.settings
        if metric == ERROR_RATE:
            threshold, breach_above, override = analysis.error_rate.max, True, analysis.error_rate.query
            # The operator's own rate window when the status records it: the chart shows what was judged.
            window = window_of.rate_window or rate_window(settings, step)
            shared = preset.error_ratio(match, window)
        elif metric == LATENCY_P95:
            threshold, breach_above, override = analysis.latency_p95.max_ms, True, analysis.latency_p95.query
            window = max(analysis.latency_p95.window, step)
            shared = preset.latency_p95_ms(match, window)
        else:
            threshold, breach_above = analysis.crash_free_sessions.min, False
            override, window = analysis.crash_free_sessions.query, analysis.crash_free_sessions.over
            shared = self._crash_free_query(analysis, targets, step)
        made = []
        shared_answer = None if override or shared is None else self._range(shared, start, end, step)
        for target in targets:
            found: tuple[tuple[float, float], ...] | str
            try:
                query = render_override(override, *target, window, preset.namespace_label) if override else shared
            except OverrideRefused as refused:
                # Another namespace's series are never charted, whoever asks for the report.
                query, found = None, f"not charted: query override refused: {refused}"
            if query is None:
                if override is None:
                    found = "not charted: crash-free from container restarts is judged per pod, not as one series"
            else:
                answer = self._range(query, start, end, step) if override else shared_answer
                assert answer is not None
                found = _points(answer, target, per_target=bool(override))
            made.append(
                MetricSeries(
                    target=f"{target[0]}/{target[1]}",
                    metric=metric,
                    threshold=threshold,
                    breach_above=breach_above,
                    query=query or "",
                    step_seconds=step.total_seconds(),
                    points=found if isinstance(found, tuple) else (),
                    missing=found if isinstance(found, str) else "",
                )
            )
        return made

    def _crash_free_query(self, analysis: Analysis, targets: list[Target], step: timedelta) -> str | None:
        if analysis.crash_free_sessions.source is CrashFreeSource.RESTARTS:
            return None
        total, crashed = self.analyzer.settings.preset(analysis.telemetry).sessions_queries(targets)
        # The session counters are summed per target before the increase, so take it over a subquery.
        over = f"[{promql_duration(analysis.crash_free_sessions.over)}:{promql_duration(step)}]"
        return f"1 - increase(({crashed}){over}) / increase(({total}){over})"

    def _range(self, promql: str, start: float, end: float, step: timedelta) -> Matrix | Exception:
        return self.analyzer.query_range(RangeQuery(promql, start, end, step))

    # -- the request counts ----------------------------------------------------------------------

    def _counts(self, analysis: Analysis, targets: list[Target], since: float, end: float) -> list[RequestCounts]:
        """Requests and failures from the hotfix's start to its end, and in a span as long just before."""
        preset = self.analyzer.settings.preset(analysis.telemetry)
        match = preset.selector(targets)
        span = timedelta(seconds=max(math.ceil(end - since), 1))
        during_at, before_at = math.floor(end), math.floor(since)
        queries = {
            "failed": at_time(preset.failed_in(match, span), during_at),
            "requests": at_time(preset.requests_in(match, span), during_at),
            "baseline_failed": at_time(preset.failed_in(match, span), before_at),
            "baseline_requests": at_time(preset.requests_in(match, span), before_at),
        }
        # Pinned to their time with @, the queries answer the same whenever they run: what is printed is what
        # was asked, and runs as printed (Prometheus' UI, its API, promtool).
        answers = {name: self._range(promql, end, end, ONE_SECOND) for name, promql in queries.items()}
        shown = queries
        counts = []
        for target in targets:
            figures: dict[str, float | None] = {}
            missing = ""
            for name, answer in answers.items():
                found = _points(answer, target, per_target=False)
                figures[name] = found[-1][1] if isinstance(found, tuple) else None
                missing = missing or (f"{name}: {found}" if isinstance(found, str) else "")
            counts.append(
                RequestCounts(target=f"{target[0]}/{target[1]}", queries=shown, missing=missing, **figures)  # type: ignore[arg-type]
            )
        return counts
