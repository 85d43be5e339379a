"""PromQL for the temporary alert thresholds, batched across Hotfixes.

Every threshold is one range query per *shape* (telemetry preset, metric, step and rate window), summed
per namespace and Deployment, so an analysis cycle costs the same number of queries for one Hotfix as
for a thousand that share a Prometheus and a preset. The answers are sliced per Deployment and handed
to the pure threshold functions. A Hotfix that overrides a query gets a query of its own (its PromQL
cannot be shared), and a threshold that is switched off costs no query at all.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from hotfix_operator.analysis.presets import LabelNames, TelemetryPreset, presets
from hotfix_operator.analysis.presets.base import Target
from hotfix_operator.analysis.tenant_queries import OverrideRefused, render_override
from hotfix_operator.analysis.thresholds import CRASH_FREE_SESSIONS, ERROR_RATE, LATENCY_P95, crash_free_window
from hotfix_operator.api.models import Analysis, CrashFreeSource

THRESHOLDS = (ERROR_RATE, LATENCY_P95, CRASH_FREE_SESSIONS)


@dataclass(frozen=True)
class QuerySettings:
    """Operator-wide: the presets (``labels`` with the configured names) and the default one."""

    label_names: LabelNames = field(default_factory=LabelNames)
    default_preset: str = "labels"
    # Thresholds off unless a Hotfix switches them on (for example crashFreeSessions on a backend fleet).
    disabled_by_default: frozenset[str] = frozenset()
    # The shortest rate() window: it must hold at least two scrapes.
    min_rate_window: timedelta = timedelta(minutes=1)
    # False: a Hotfix's own PromQL (spec.analysis.*.query) is never run (HOTFIX_ALLOW_QUERY_OVERRIDES).
    allow_overrides: bool = True

    def preset(self, name: str | None) -> TelemetryPreset:
        return presets(self.label_names)[name or self.default_preset]

    def enabled(self, analysis: Analysis) -> frozenset[str]:
        """The thresholds judged for a Hotfix: its own ``enabled`` where set, else the operator's default."""
        flags = {
            ERROR_RATE: analysis.error_rate.enabled,
            LATENCY_P95: analysis.latency_p95.enabled,
            CRASH_FREE_SESSIONS: analysis.crash_free_sessions.enabled,
        }
        return frozenset(
            metric
            for metric, flag in flags.items()
            if flag is True or (flag is None and metric not in self.disabled_by_default)
        )


@dataclass(frozen=True)
class AnalysisRequest:
    """One Hotfix's analysis: its Deployments, thresholds, and since when the hotfix runs."""

    key: str  # namespace/name of the Hotfix
    targets: tuple[Target, ...]
    analysis: Analysis
    active_since: float
    # The effective preset and thresholds (the Hotfix's choice or the operator's default); see QuerySettings.
    telemetry: str = "labels"
    enabled: frozenset[str] = frozenset(THRESHOLDS)


def build_request(
    settings: QuerySettings, key: str, targets: tuple[Target, ...], analysis: Analysis, active_since: float
) -> AnalysisRequest:
    return AnalysisRequest(
        key=key,
        targets=targets,
        analysis=analysis,
        active_since=active_since,
        telemetry=analysis.telemetry or settings.default_preset,
        enabled=settings.enabled(analysis),
    )


@dataclass(frozen=True)
class RangeQuery:
    promql: str
    start: float
    end: float
    step: timedelta


@dataclass
class QueryPlan:
    """Which range queries to run, and which requests each answers (by metric)."""

    queries: list[RangeQuery] = field(default_factory=list)
    # (metric, request key) -> index of the query in ``queries``
    routes: dict[tuple[str, str], int] = field(default_factory=dict)


def rate_window(settings: QuerySettings, step: timedelta) -> timedelta:
    return max(step, settings.min_rate_window)


def _shape(metric: str, request: AnalysisRequest, settings: QuerySettings) -> object:
    analysis = request.analysis
    if metric == ERROR_RATE:
        return (analysis.interval, rate_window(settings, analysis.interval))
    if metric == LATENCY_P95:
        return analysis.latency_p95.window
    return (analysis.interval, analysis.crash_free_sessions.source, analysis.crash_free_sessions.over)


_MILLISECOND = timedelta(milliseconds=1)


def counter_step(interval: timedelta, over: timedelta, min_window: timedelta) -> timedelta:
    """The step of a counter's range query over ``over``, each point the increase over the step before it: a
    whole fraction of ``over`` to the millisecond (the steps tile the window and the last ends now), at most
    the interval where that leaves a step of at least ``min_window`` (two scrapes, for ``increase()`` to see a
    rise), else the whole window as one step."""
    most_steps = math.ceil(over / interval) if interval > timedelta(0) else 1
    widest_steps = math.floor(over / min_window) if min_window > timedelta(0) else most_steps
    # Whole milliseconds, as Prometheus reads a step: a third of 200 s sent as 66.667 s put its last point past
    # the end of the range, where Prometheus left it out (the freshest step of the window).
    return timedelta(milliseconds=math.floor(over / max(1, min(most_steps, widest_steps)) / _MILLISECOND))


def crash_free_step(settings: QuerySettings, analysis: Analysis) -> timedelta:
    """The step the crash-free counters are read in, planned and judged alike."""
    return counter_step(analysis.interval, analysis.crash_free_sessions.over, settings.min_rate_window)


def _planned(metric: str, request: AnalysisRequest) -> bool:
    """A threshold is planned into the shared queries when it is on and its query is not overridden."""
    threshold = {
        ERROR_RATE: request.analysis.error_rate,
        LATENCY_P95: request.analysis.latency_p95,
        CRASH_FREE_SESSIONS: request.analysis.crash_free_sessions,
    }[metric]
    return metric in request.enabled and threshold.query is None


def _group_queries(
    settings: QuerySettings, preset: TelemetryPreset, metric: str, members: list[AnalysisRequest], now: float
) -> list[RangeQuery]:
    targets = [target for member in members for target in member.targets]
    match = preset.selector(targets)
    first = members[0].analysis
    if metric == ERROR_RATE:
        step = first.interval
        span = max(member.analysis.error_rate.for_ for member in members)
        promql = preset.error_ratio(match, rate_window(settings, step))
        return [RangeQuery(promql, now - span.total_seconds(), now, step)]
    if metric == LATENCY_P95:
        window = first.latency_p95.window
        span = max(window * (member.analysis.latency_p95.consecutive_windows - 1) for member in members)
        return [RangeQuery(preset.latency_p95_ms(match, window), now - span.total_seconds(), now, window)]
    # The group shares its window (see _shape), so its steps tile every member's, the last ending now.
    over = first.crash_free_sessions.over
    step = crash_free_step(settings, first)
    # A window shorter than two scrapes is one step; its increase() is taken over two scrapes all the same,
    # or a series with one sample in it reads as no session metrics at all. The steps never overlap: only a
    # single step is ever shorter than the shortest rate window.
    counted = max(step, settings.min_rate_window)
    if first.crash_free_sessions.source is CrashFreeSource.RESTARTS:
        pair = preset.restarts_increase_queries(targets, counted)
    else:
        pair = preset.sessions_increase_queries(targets, counted)
    # Anchored at now: a step rounded down to the millisecond tiles a hair less than the window.
    first_step_end = now - (math.floor(over / step) - 1) * step.total_seconds()
    return [RangeQuery(promql, first_step_end, now, step) for promql in pair]


def plan_queries(settings: QuerySettings, requests: list[AnalysisRequest], now: float) -> QueryPlan:
    """Group requests by preset and query shape: one range query per group, covering its widest window."""
    plan = QueryPlan()
    groups: dict[tuple[str, str, object], list[AnalysisRequest]] = defaultdict(list)
    for request in requests:
        for metric in THRESHOLDS:
            if _planned(metric, request):
                groups[(request.telemetry, metric, _shape(metric, request, settings))].append(request)
    for (telemetry, metric, _shape_key), members in sorted(groups.items(), key=lambda item: str(item[0])):
        queries = _group_queries(settings, settings.preset(telemetry), metric, members, now)
        for member in members:
            plan.routes[(metric, member.key)] = len(plan.queries)
        plan.queries.extend(queries)
    return plan


def override_queries(
    settings: QuerySettings, request: AnalysisRequest, target: Target, now: float
) -> dict[str, RangeQuery | OverrideRefused]:
    """Range queries for the enabled thresholds this Hotfix overrides, for one of its Deployments; a refusal
    instead of the query where it could read another namespace or overrides are off (never sent)."""
    analysis, (namespace, deployment) = request.analysis, target
    namespace_label = settings.preset(request.telemetry).namespace_label
    # Each override: its query, the window it is rendered with, and the range it is evaluated over.
    planned: dict[str, tuple[str, timedelta, float, float, timedelta]] = {}
    if analysis.error_rate.query is not None and ERROR_RATE in request.enabled:
        step = analysis.interval
        planned[ERROR_RATE] = (analysis.error_rate.query, step, now - analysis.error_rate.for_.total_seconds(), now,
                               step)  # fmt: skip
    if analysis.latency_p95.query is not None and LATENCY_P95 in request.enabled:
        window = analysis.latency_p95.window
        start = now - (window * (analysis.latency_p95.consecutive_windows - 1)).total_seconds()
        planned[LATENCY_P95] = (analysis.latency_p95.query, window, start, now, window)
    if analysis.crash_free_sessions.query is not None and CRASH_FREE_SESSIONS in request.enabled:
        # An override returns the crash-free ratio itself, evaluated at `now` over the clipped window.
        window = crash_free_window(analysis.crash_free_sessions.over, timedelta(seconds=now - request.active_since))
        planned[CRASH_FREE_SESSIONS] = (analysis.crash_free_sessions.query, window, now, now, analysis.interval)
    queries: dict[str, RangeQuery | OverrideRefused] = {}
    for metric, (query, window, start, end, step) in planned.items():
        if not settings.allow_overrides:
            queries[metric] = OverrideRefused("query overrides are off (HOTFIX_ALLOW_QUERY_OVERRIDES=false)")
            continue
        try:
            queries[metric] = RangeQuery(render_override(query, namespace, deployment, window, namespace_label),
                                         start, end, step)  # fmt: skip
        except OverrideRefused as refused:
            queries[metric] = refused
    return queries
