"""PromQL for the temporary alert thresholds, batched across Hotfixes, and the verdicts from the answers.

Every threshold is one range query per *shape* (metric, step and rate window), grouped by namespace and
Deployment, so an analysis cycle costs the same number of queries for one Hotfix as for a thousand that
share a Prometheus. The answers are sliced per Deployment and handed to the pure threshold functions.
A Hotfix that overrides a query gets a query of its own (its PromQL cannot be shared).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from hotfix_operator.analysis.thresholds import CRASH_FREE_SESSIONS, ERROR_RATE, LATENCY_P95, crash_free_window
from hotfix_operator.api.models import Analysis

Target = tuple[str, str]  # (namespace, deployment)


@dataclass(frozen=True)
class MetricNames:
    """Operator-wide names of the metrics and labels the default queries use."""

    requests: str = "http_requests_total"
    error_matcher: str = 'code=~"5.."'
    latency_buckets: str = "http_request_duration_seconds_bucket"
    sessions: str = "app_sessions_total"
    crashed_sessions: str = "app_sessions_crashed_total"
    namespace_label: str = "namespace"
    deployment_label: str = "deployment"
    # The shortest rate() window: it must hold at least two scrapes.
    min_rate_window: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class AnalysisRequest:
    """One Hotfix's analysis: its Deployments, thresholds, and since when the hotfix runs."""

    key: str  # namespace/name of the Hotfix
    targets: tuple[Target, ...]
    analysis: Analysis
    active_since: float


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


def _seconds(value: timedelta) -> str:
    # PromQL durations need integer units; milliseconds cover every window this API admits.
    milliseconds = round(value.total_seconds() * 1000)
    return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"


_REGEX_SPECIAL = set("\\.+*?()|[]{}^$")


def _promql_regex_literal(value: str) -> str:
    """``value`` as a literal inside a PromQL regex string: RE2 escapes, written with PromQL's own escaping."""
    return "".join(f"\\\\{char}" if char in _REGEX_SPECIAL else char for char in value)


def _regex_alternatives(values: Iterable[str]) -> str:
    return "|".join(_promql_regex_literal(value) for value in sorted(set(values)))


def selector(names: MetricNames, targets: Iterable[Target]) -> str:
    """A selector matching every target (and possibly more pairs; the answer is sliced per target)."""
    targets = list(targets)
    namespaces = _regex_alternatives(namespace for namespace, _ in targets)
    deployments = _regex_alternatives(deployment for _, deployment in targets)
    return f'{names.namespace_label}=~"{namespaces}",{names.deployment_label}=~"{deployments}"'


def rate_window(names: MetricNames, step: timedelta) -> timedelta:
    return max(step, names.min_rate_window)


def error_rate_promql(names: MetricNames, match: str, window: timedelta) -> str:
    by = f"{names.namespace_label}, {names.deployment_label}"
    errors = f"sum by ({by}) (rate({names.requests}{{{match},{names.error_matcher}}}[{_seconds(window)}]))"
    total = f"sum by ({by}) (rate({names.requests}{{{match}}}[{_seconds(window)}]))"
    return f"{errors} / {total}"


def latency_p95_promql(names: MetricNames, match: str, window: timedelta) -> str:
    by = f"{names.namespace_label}, {names.deployment_label}, le"
    return (
        f"1000 * histogram_quantile(0.95, sum by ({by}) (rate({names.latency_buckets}{{{match}}}[{_seconds(window)}])))"
    )


def sessions_promql(names: MetricNames, metric: str, match: str) -> str:
    """The summed counter itself: its increase over each Hotfix's own window is taken from the points,
    so Hotfixes with different windows still share one query."""
    by = f"{names.namespace_label}, {names.deployment_label}"
    return f"sum by ({by}) ({metric}{{{match}}})"


def render_override(query: str, namespace: str, deployment: str, window: timedelta) -> str:
    """A per-Hotfix query with ``{{namespace}}``, ``{{deployment}}`` and ``{{window}}`` filled in."""
    return (
        query.replace("{{namespace}}", namespace)
        .replace("{{deployment}}", deployment)
        .replace("{{window}}", _seconds(window))
    )


def plan_queries(names: MetricNames, requests: list[AnalysisRequest], now: float) -> QueryPlan:
    """Group requests by query shape: one range query per group, covering the widest window in it."""
    plan = QueryPlan()
    groups: dict[tuple[str, object], list[AnalysisRequest]] = defaultdict(list)
    for request in requests:
        analysis = request.analysis
        interval = analysis.interval
        if analysis.error_rate.query is None:
            groups[(ERROR_RATE, (interval, rate_window(names, interval)))].append(request)
        if analysis.latency_p95.query is None:
            groups[(LATENCY_P95, analysis.latency_p95.window)].append(request)
        if analysis.crash_free_sessions.query is None:
            groups[(CRASH_FREE_SESSIONS, interval)].append(request)
    for (metric, _shape), members in sorted(groups.items(), key=lambda item: str(item[0])):
        targets = [target for member in members for target in member.targets]
        match = selector(names, targets)
        if metric == ERROR_RATE:
            step = members[0].analysis.interval
            window = rate_window(names, step)
            span = max(member.analysis.error_rate.for_ for member in members)
            queries = [RangeQuery(error_rate_promql(names, match, window), now - span.total_seconds(), now, step)]
        elif metric == LATENCY_P95:
            window = members[0].analysis.latency_p95.window
            span = max(window * (member.analysis.latency_p95.consecutive_windows - 1) for member in members)
            queries = [RangeQuery(latency_p95_promql(names, match, window), now - span.total_seconds(), now, window)]
        else:
            step = members[0].analysis.interval
            span = max(member.analysis.crash_free_sessions.over for member in members)
            start = now - span.total_seconds()
            queries = [
                RangeQuery(sessions_promql(names, names.sessions, match), start, now, step),
                RangeQuery(sessions_promql(names, names.crashed_sessions, match), start, now, step),
            ]
        for member in members:
            plan.routes[(metric, member.key)] = len(plan.queries)
        plan.queries.extend(queries)
    return plan


def override_queries(request: AnalysisRequest, target: Target, now: float) -> dict[str, RangeQuery]:
    """Range queries for the thresholds this Hotfix overrides, for one of its Deployments."""
    analysis, (namespace, deployment) = request.analysis, target
    queries = {}
    if analysis.error_rate.query is not None:
        step = analysis.interval
        queries[ERROR_RATE] = RangeQuery(
            render_override(analysis.error_rate.query, namespace, deployment, step),
            now - analysis.error_rate.for_.total_seconds(),
            now,
            step,
        )
    if analysis.latency_p95.query is not None:
        window = analysis.latency_p95.window
        queries[LATENCY_P95] = RangeQuery(
            render_override(analysis.latency_p95.query, namespace, deployment, window),
            now - (window * (analysis.latency_p95.consecutive_windows - 1)).total_seconds(),
            now,
            window,
        )
    if analysis.crash_free_sessions.query is not None:
        # An override returns the crash-free ratio itself, evaluated at `now` over the clipped window.
        window = crash_free_window(analysis.crash_free_sessions.over, timedelta(seconds=now - request.active_since))
        queries[CRASH_FREE_SESSIONS] = RangeQuery(
            render_override(analysis.crash_free_sessions.query, namespace, deployment, window),
            now,
            now,
            analysis.interval,
        )
    return queries
