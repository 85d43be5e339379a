"""The temporary alert thresholds as Prometheus alerting rules that fire exactly when the analysis says
breached, so that the routes a team already has (pager, chat, tickets) see the hotfix window too.

Each rule is built from the same query the analysis runs (the Hotfix's preset, or its override), and
the window opens where the analysis' window opens (the rollout's start):

- error rate: the ratio above ``max`` with ``for: <for>``; the rule is published when the window
  opens, so its pending state cannot start earlier, as the analysis needs the hotfix to have run
  ``for`` too;
- p95 latency: "above the limit in each of the last N windows of W" is not a ``for`` (that would
  need it above at every evaluation); it is the same query at offsets 0, W, ..., (N-1)W, all above the
  limit, once N windows have passed since the window opened;
- crash-free sessions: the increases of the session counters since the window opened (``@``), or
  over the last ``over`` once that much time has passed, with the session minimum.

Pure: the engine publishes the result as a PrometheusRule, ``hotfix-operator rules`` prints it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hotfix_operator.analysis.presets.base import Target, TelemetryPreset, promql_duration
from hotfix_operator.analysis.queries import AnalysisRequest, QuerySettings, rate_window
from hotfix_operator.analysis.tenant_queries import render_override
from hotfix_operator.analysis.thresholds import CRASH_FREE_SESSIONS, ERROR_RATE, LATENCY_P95
from hotfix_operator.api.models import CrashFreeSource, Severity

ALERT_NAMES = {
    ERROR_RATE: "HotfixErrorRateHigh",
    LATENCY_P95: "HotfixLatencyP95High",
    CRASH_FREE_SESSIONS: "HotfixCrashFreeSessionsLow",
}
DEFAULT_SEVERITIES = {
    Severity.SEV1: "critical",
    Severity.SEV2: "critical",
    Severity.SEV3: "warning",
    Severity.SEV4: "info",
}


@dataclass(frozen=True)
class RuleContext:
    """Who the rules are for: the Hotfix, its incident, and where its window opened."""

    hotfix: str
    namespace: str
    incident: str
    severity: Severity
    window_open: float  # unix seconds
    team: str = ""
    severities: dict[Severity, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITIES))


def _time_at_least(moment: float) -> str:
    """A filter that keeps a vector only once ``time()`` has reached ``moment``."""
    return f"on() (vector(time()) >= {moment:.0f})"


def _time_before(moment: float) -> str:
    return f"on() (vector(time()) < {moment:.0f})"


def _modified(sum_expression: str, metric: str, modifier: str) -> str:
    """``sum_expression`` with ``modifier`` (``@ T`` or ``offset D``) on the selector of ``metric``: PromQL
    takes modifiers on selectors only."""
    return re.sub(rf"({re.escape(metric)}\{{[^}}]*\}})", rf"\1 {modifier}", sum_expression)


def _increase_since_open(sum_expression: str, metric: str, over: timedelta, window_open: float) -> str:
    """How much a summed counter grew over ``over``, clipped to the time since the window opened. The
    analysis takes per-series increases instead (a target's failed scrape at either end cannot distort
    them); a rule keeps the summed form because a range cannot be clipped to the window's opening, so a
    pod missing at the window's start can still move this rule where it does not move the analysis."""
    full_after = window_open + over.total_seconds()
    at_open = _modified(sum_expression, metric, f"@ {window_open:.0f}")
    clipped = f"({sum_expression} - {at_open})"
    full = f"({sum_expression} - {_modified(sum_expression, metric, f'offset {promql_duration(over)}')})"
    return f"(({clipped} and {_time_before(full_after)}) or ({full} and {_time_at_least(full_after)}))"


def _error_rate_rule(
    preset: TelemetryPreset, request: AnalysisRequest, target: Target, settings: QuerySettings
) -> dict[str, Any]:
    analysis = request.analysis
    window = rate_window(settings, analysis.interval)
    if analysis.error_rate.query is not None:
        ratio = render_override(analysis.error_rate.query, *target, analysis.interval, preset.namespace_label)
    else:
        ratio = preset.error_ratio(preset.selector([target]), window)
    return {"expr": f"({ratio}) > {analysis.error_rate.max:g}", "for": promql_duration(analysis.error_rate.for_)}


def _latency_rule(
    preset: TelemetryPreset, request: AnalysisRequest, target: Target, context: RuleContext
) -> dict[str, Any]:
    threshold = request.analysis.latency_p95
    window = threshold.window
    if threshold.query is not None:
        p95 = f"({render_override(threshold.query, *target, window, preset.namespace_label)})"
    else:
        p95 = f"({preset.latency_p95_ms(preset.selector([target]), window)})"
    # PromQL's offset applies to every selector inside the expression: the whole query, W earlier.
    terms = [f"{p95} > {threshold.max_ms}"] + [
        f"({_offset_all(p95, window * index)}) > {threshold.max_ms}"
        for index in range(1, threshold.consecutive_windows)
    ]
    needed = context.window_open + (window * threshold.consecutive_windows).total_seconds()
    return {"expr": " and ".join(terms) + f" and {_time_at_least(needed)}"}


def _offset_all(expression: str, by: timedelta) -> str:
    """``expression`` evaluated ``by`` earlier: an offset on each range selector of it (every selector
    of a latency query is a ``rate(...[W])``)."""
    return expression.replace("])", f"] offset {promql_duration(by)})")


def _crash_free_rule(
    preset: TelemetryPreset, request: AnalysisRequest, target: Target, context: RuleContext
) -> dict[str, Any]:
    threshold = request.analysis.crash_free_sessions
    if threshold.query is not None:
        ratio = render_override(threshold.query, *target, threshold.over, preset.namespace_label)
        return {"expr": f"({ratio}) < {threshold.min:g}"}
    if threshold.source is CrashFreeSource.RESTARTS:
        pods, restarts = preset.restarts_queries([target])
        restarted = _increase_since_open(restarts, preset.restarts, threshold.over, context.window_open)
        return {"expr": f"(1 - clamp_max({restarted} / {pods}, 1)) < {threshold.min:g}"}
    total, crashed = preset.sessions_queries([target])
    sessions = _increase_since_open(total, preset.sessions, threshold.over, context.window_open)
    crashes = _increase_since_open(crashed, preset.crashed_sessions, threshold.over, context.window_open)
    # No crash series at all means no crash yet, as in the analysis.
    crashes = f"({crashes} or 0 * {sessions})"
    return {"expr": f"((1 - {crashes} / {sessions}) < {threshold.min:g}) and ({sessions} >= {threshold.min_sessions})"}


def alert_rule_group(settings: QuerySettings, request: AnalysisRequest, context: RuleContext) -> dict[str, Any]:
    """One rule group: every enabled threshold of every target of the Hotfix."""
    preset = settings.preset(request.telemetry)
    rules = []
    for target in request.targets:
        for threshold in (ERROR_RATE, LATENCY_P95, CRASH_FREE_SESSIONS):
            if threshold not in request.enabled:
                continue
            if threshold == ERROR_RATE:
                rule = _error_rate_rule(preset, request, target, settings)
            elif threshold == LATENCY_P95:
                rule = _latency_rule(preset, request, target, context)
            else:
                rule = _crash_free_rule(preset, request, target, context)
            rules.append({"alert": ALERT_NAMES[threshold], **rule, **_labelled(context, target, threshold)})
    interval = promql_duration(request.analysis.interval)
    return {"name": f"hotfix.{context.namespace}.{context.hotfix}", "interval": interval, "rules": rules}


def _labelled(context: RuleContext, target: Target, threshold: str) -> dict[str, Any]:
    labels = {
        "severity": context.severities.get(context.severity, "warning"),
        "hotfix": context.hotfix,
        "hotfix_namespace": context.namespace,
        "incident": context.incident,
        "incident_severity": context.severity.value,
        "threshold": threshold,
        # The series carry namespace and deployment too; this label keeps one rule per target distinct.
        "target": f"{target[0]}/{target[1]}",
    }
    if context.team:
        labels["team"] = context.team
    namespace, deployment = target
    return {
        "labels": labels,
        "annotations": {
            "summary": f"hotfix {context.namespace}/{context.hotfix} ({context.incident}): {threshold} breached "
            f"on {namespace}/{deployment}",
            "description": "A temporary alert threshold of the hotfix window; the operator decides on it too.",
            "runbook": f"kubectl hotfix status {context.hotfix} -n {context.namespace}",
        },
    }


def rule_file(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """A plain Prometheus rule file (``rule_files:``), for people without the prometheus-operator."""
    return {"groups": groups}
