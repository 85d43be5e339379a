"""The incident report: every Hotfix of one incident in one document, in Markdown and in one self-contained
HTML file, following the postmortem template's sections.

The facts come from what the operator recorded and from Prometheus (charts, user impact); what only people
know (root cause, why it was not caught, what was skipped, lessons learned) is left as marked prompts.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import markdown

from hotfix_operator.api.durations import format_duration
from hotfix_operator.api.history import HotfixHistory
from hotfix_operator.report.charts import Chart
from hotfix_operator.report.facts import TargetImpact, ended_at, hotfix_status, impact, started_at
from hotfix_operator.report.postmortem import FOLLOW_UPS, alert_triggers, gitops_section, table_cell
from hotfix_operator.rules.revert import revert_text

PROMPT = "> **To fill in:**"
# Which part of the response each timeline entry belongs to, in the template's words.
STAGES = {
    "BreachDuringRollout": "detection",
    "Decision": "detection",
    "TelemetryMissing": "detection",
    "RolloutStarted": "response",
    "ForwardFixRollout": "response",
    "Approved": "response",
    "RollbackRequested": "response",
    "RollbackPatched": "response",
    "Escalated": "response",
    "RolledOut": "resolution",
    "RollbackComplete": "resolution",
    "RolledBack": "verification",
    "Checkpoint": "verification",
    "Stable": "verification",
}
QUIET_RULES = {None, "healthy", "analysis-pending", "no-traffic"}
METRIC_NAMES = {"errorRate": "error rate", "latencyP95": "p95 latency", "crashFreeSessions": "crash-free sessions"}


@dataclass(frozen=True)
class IncidentReport:
    markdown: str
    html: str
    charts: tuple[Chart, ...]
    impacts: tuple[TargetImpact, ...]
    # Why a Hotfix has no charts: no Prometheus given, or it did not answer.
    unavailable: tuple[str, ...] = ()


def _name(hotfix: dict[str, Any]) -> str:
    metadata = hotfix.get("metadata") or {}
    return f"{metadata.get('namespace')}/{metadata.get('name')}"


def _time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _count(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


def _summary(incident_id: str, hotfixes: Sequence[dict[str, Any]], impacts: Sequence[TargetImpact]) -> list[str]:
    incident = ((hotfixes[0].get("spec") or {}).get("incident") or {}) if hotfixes else {}
    starts = [t for t in (started_at(h) for h in hotfixes) if t]
    ends = [ended_at(h) for h in hotfixes]
    start = min(starts, default=None)
    end = max(ends) if ends and all(ends) else None  # type: ignore[type-var]
    excess = [i.excess_failed for i in impacts if i.excess_failed is not None]
    breached = max((max(i.breached_seconds.values(), default=0.0) for i in impacts), default=0.0)
    lines = [
        f"# Incident report: {incident_id}",
        "",
        "## Summary",
        "",
        f"- **Date and time:** {_time(start)}",
        f"- **Duration:** {format_duration_seconds((end - start).total_seconds()) if start and end else 'ongoing'}",
        f"- **Severity:** {incident.get('severity', '?')}",
        f"- **User impact:** {_count(sum(excess)) if excess else 'unknown (no request data)'} failed requests "
        f"above the pre-hotfix error rate; a threshold was breached for {format_duration_seconds(breached)} "
        "at the longest (see User impact)",
        f"- **Root cause (declared):** {incident.get('rootCause', 'unknown')}",
        "- **Hotfixes:**",
    ]
    for hotfix in hotfixes:
        status = hotfix_status(hotfix)
        decision = f", rule `{status.decision.rule}`" if status.decision else ""
        targets = ", ".join(t.get("deployment", "?") for t in (hotfix.get("spec") or {}).get("targets") or [])
        phase = status.phase.value if status.phase else "Pending"
        lines.append(f"  - `{_name(hotfix)}` on {targets}: **{phase}**{decision}")
    return lines


def format_duration_seconds(seconds: float) -> str:
    return format_duration(timedelta(seconds=round(seconds)))


def _impact_section(impacts: Sequence[TargetImpact]) -> list[str]:
    lines = ["", "## User impact", ""]
    if not impacts:
        return [*lines, "No request data: Prometheus was not queried or did not answer."]
    lines += [
        "| Deployment | requests | failed | pre-hotfix error rate | failed above it | time breached |",
        "|---|---|---|---|---|---|",
    ]
    for one in impacts:
        ratio = "unknown" if one.baseline_ratio is None else f"{one.baseline_ratio:.3%}"
        breached = ", ".join(
            f"{METRIC_NAMES.get(metric, metric)} {format_duration_seconds(seconds)}"
            for metric, seconds in sorted(one.breached_seconds.items())
            if seconds > 0
        )
        lines.append(
            f"| {one.target} | {_count(one.requests)} | {_count(one.failed)} | {ratio} | "
            f"{_count(one.excess_failed)} | {breached or 'none'} |"
        )
    lines += [
        "",
        "Failed above the pre-hotfix error rate = failed - requests x (failed / requests in as long a span just "
        "before the rollout), counted from the rollout to the end of the Hotfix. The queries are in the appendix.",
    ]
    missing = [f"- {one.target}: {one.missing}" for one in impacts if one.missing]
    return [*lines, "", *missing] if missing else lines


def _queries_appendix(impacts: Sequence[TargetImpact], histories: Sequence[HotfixHistory]) -> list[str]:
    """Every query behind a figure or a chart, each once; they run as printed (pinned in time with @)."""
    counts = dict.fromkeys((name, query) for one in impacts for name, query in one.queries.items())
    series = dict.fromkeys(
        (f"{one.target} {METRIC_NAMES.get(one.metric, one.metric)}", one.query)
        for history in histories
        for one in history.series
        if one.query
    )
    if not counts and not series:
        return []
    lines = ["", "## Appendix: queries", "", "User impact (each pinned to its moment with `@`):", ""]
    for name, query in counts:
        lines += [f"- `{name}`: `{query}`"]
    if series:
        lines += ["", "Charts (over the chart's span, at its step):", ""]
        lines += [f"- {name}: `{query}`" for name, query in series]
    return lines


def _stage(entry_type: str, rule: str | None) -> str:
    # A decision to carry on (healthy, pending data, no traffic) detects nothing.
    if entry_type == "Decision" and rule in QUIET_RULES:
        return "record"
    return STAGES.get(entry_type, "record")


def _timeline(hotfixes: Sequence[dict[str, Any]]) -> list[str]:
    entries = sorted(
        ((entry, _name(hotfix)) for hotfix in hotfixes for entry in hotfix_status(hotfix).timeline),
        key=lambda pair: pair[0].at,
    )
    lines = ["", "## Timeline", "", "| time (UTC) | stage | Hotfix | event | details |", "|---|---|---|---|---|"]
    for entry, name in entries:
        lines.append(
            f"| {entry.at.strftime('%Y-%m-%d %H:%M:%S')} | {_stage(entry.type, entry.rule)} | {name} | "
            f"{entry.type} | {table_cell(entry.message)} |"
        )
    return lines


def _charts_section(histories: Sequence[HotfixHistory], charts: Sequence[Chart]) -> list[str]:
    lines = ["", "## Charts", ""]
    unavailable = [h for h in histories if h.unavailable]
    lines += [f"- {h.hotfix}: no charts: {h.unavailable}" for h in unavailable]
    for chart in charts:
        label = f"{chart.target} {METRIC_NAMES.get(chart.metric, chart.metric)}"
        if chart.missing:
            lines.append(f"- {label}: {chart.missing}")
        lines += ["", f"![{label}](charts/{chart.file_name})"]
    if not charts and not unavailable:
        lines.append("No threshold is enabled for these Hotfixes.")
    return lines


def _git_section(hotfixes: Sequence[dict[str, Any]]) -> list[str]:
    """Per Hotfix that rolled back: the change to revert in Git and the GitOps owners held for it."""
    lines: list[str] = []
    for hotfix in hotfixes:
        section = gitops_section(hotfix_status(hotfix), (hotfix.get("metadata") or {}).get("name", "?"))
        lines += [f"### `{_name(hotfix)}`" if line == "## Git" else line for line in section]
    return ["", "## Git", *lines] if lines else []


def _people_sections(hotfixes: Sequence[dict[str, Any]]) -> list[str]:
    in_flight = ["Keep watching: the hotfix is still in flight."]
    reverts = [revert_text(status.targets) for status in map(hotfix_status, hotfixes) if status.rollback_completed_at]
    follow_ups = dict.fromkeys(
        [f"Revert the rolled-back change in Git: {text}" for text in reverts if text]
        + [item for hotfix in hotfixes for item in FOLLOW_UPS.get(hotfix_status(hotfix).phase, in_flight)]
    )
    return [
        "",
        "## Root cause",
        "",
        f"{PROMPT} what broke, why it broke, and why it was not caught before production.",
        "",
        "## What was skipped during the hotfix",
        "",
        f"{PROMPT} the usual steps left out to ship fast (review, tests, staging, a canary), and whether "
        "to do them now.",
        "",
        "## Follow-up actions",
        "",
        *[f"- [ ] {item}" for item in follow_ups],
        "",
        "## Lessons learned",
        "",
        f"{PROMPT} what went well, what went badly, where we were lucky.",
    ]


def incident_report(
    incident_id: str,
    hotfixes: Sequence[dict[str, Any]],
    histories: Sequence[HotfixHistory],
    charts: Sequence[Chart],
) -> IncidentReport:
    impacts = tuple(one for history in histories for one in impact(history))
    lines = _summary(incident_id, hotfixes, impacts)
    lines += _impact_section(impacts)
    lines += _timeline(hotfixes)
    lines += ["", "## Alert triggers", ""]
    for hotfix in hotfixes:
        lines += [f"- `{_name(hotfix)}`:", *(f"  {line}" for line in alert_triggers(hotfix_status(hotfix)))]
    lines += _charts_section(histories, charts)
    lines += _git_section(hotfixes)
    lines += _people_sections(hotfixes)
    lines += _queries_appendix(impacts, histories)
    text = "\n".join(lines) + "\n"
    return IncidentReport(
        markdown=text,
        html=_html(incident_id, text, charts),
        charts=tuple(charts),
        impacts=impacts,
        unavailable=tuple(history.unavailable for history in histories if history.unavailable),
    )


TASK_ITEM = re.compile(r"<li>\[([ xX])\] ")
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; font-size: 0.9rem; } td, th { border: 1px solid #ccc; padding: 0.2rem 0.5rem; }
blockquote { background: #fff6d5; border-left: 4px solid #e0b400; margin: 0; padding: 0.4rem 0.8rem; }
code { font-size: 0.85rem; word-break: break-all; } figure.chart svg { width: 100%; height: auto; }
li input[type=checkbox] { margin-right: 0.4rem; }
"""


def _html(incident_id: str, text: str, charts: Sequence[Chart]) -> str:
    # The Markdown nests lists by two spaces (as GitHub reads it); task items become check boxes there too.
    body = markdown.markdown(text, extensions=["tables"], tab_length=2)
    body = TASK_ITEM.sub(
        lambda match: f'<li><input type="checkbox" disabled{" checked" if match[1] != " " else ""}> ', body
    )
    for chart in charts:
        # Each chart's image link, as Markdown rendered it, becomes the chart itself: one self-contained file.
        image = re.compile(rf'<img[^>]*src="charts/{re.escape(chart.file_name)}"[^>]*>')
        figure = f'<figure class="chart">{chart.inline_svg}</figure>'
        body = image.sub(lambda _, figure=figure: figure, body, count=1)  # a function: the SVG is taken as is
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f"<title>Incident report: {html.escape(incident_id)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
