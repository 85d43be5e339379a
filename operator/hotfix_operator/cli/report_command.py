"""``kubectl hotfix report --incident ID`` (or one Hotfix with ``--output-dir``): gather the Hotfixes, ask
Prometheus for their history, draw the charts and write the report in Markdown and HTML.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotfix_operator.api.history import HotfixHistory
from hotfix_operator.api.models import SpecError, parse_spec
from hotfix_operator.report.charts import Chart, render_chart
from hotfix_operator.report.facts import markers, query_window
from hotfix_operator.report.incident import IncidentReport, incident_report

if TYPE_CHECKING:
    from hotfix_operator.analysis.history import HistoryReader

PROMETHEUS_ENV = "HOTFIX_PROMETHEUS_URL"


@dataclass(frozen=True)
class ReportOptions:
    prometheus_url: str = ""
    telemetry: str = "labels"


def incident_hotfixes(hotfixes: Sequence[dict[str, Any]], incident_id: str) -> list[dict[str, Any]]:
    """The Hotfixes of one incident, oldest first."""
    chosen = [h for h in hotfixes if ((h.get("spec") or {}).get("incident") or {}).get("id") == incident_id]
    return sorted(chosen, key=lambda h: (h.get("metadata") or {}).get("creationTimestamp") or "")


def _reader(options: ReportOptions) -> HistoryReader | None:
    """One Prometheus reader for the whole report; None when no Prometheus was given."""
    url = options.prometheus_url or os.environ.get(PROMETHEUS_ENV, "")
    if not url:
        return None
    # Imported here: the Prometheus client is needed only when there is a Prometheus to ask.
    from hotfix_operator.analysis.history import HistoryReader
    from hotfix_operator.analysis.prometheus import PrometheusAnalyzer, PrometheusSettings, connect
    from hotfix_operator.analysis.queries import QuerySettings

    settings = QuerySettings(default_preset=options.telemetry)
    return HistoryReader(PrometheusAnalyzer(connect(PrometheusSettings(url=url)), settings))


def _history(hotfix: dict[str, Any], reader: HistoryReader | None, now: datetime) -> HotfixHistory:
    metadata = hotfix.get("metadata") or {}
    key = f"{metadata.get('namespace')}/{metadata.get('name')}"
    window = query_window(hotfix, now)
    start, end = window.start, window.end
    marked = markers(hotfix)
    if reader is None:
        reason = f"no Prometheus given: pass --prometheus URL (or set {PROMETHEUS_ENV}) for charts and impact"
        return HotfixHistory(hotfix=key, start=start, end=end, markers=marked, unavailable=reason)
    try:
        spec = parse_spec(hotfix.get("spec") or {})
    except SpecError as error:
        # A Hotfix that failed on its spec still belongs in the report, without the queries it cannot name.
        return HotfixHistory(hotfix=key, start=start, end=end, markers=marked, unavailable=f"invalid spec: {error}")
    return reader.history(key, metadata.get("namespace", "default"), spec, window, marked)


def build_report(
    incident_id: str, hotfixes: Sequence[dict[str, Any]], options: ReportOptions, now: datetime | None = None
) -> IncidentReport:
    now = now or datetime.now(UTC)
    reader = _reader(options)
    histories = [_history(hotfix, reader, now) for hotfix in hotfixes]
    charts: list[Chart] = [
        render_chart(series, history.markers, history.start, history.end)
        for history in histories
        for series in history.series
    ]
    return incident_report(incident_id, hotfixes, histories, charts)


def write_report(report: IncidentReport, directory: Path) -> list[Path]:
    """report.md, report.html (self-contained) and charts/*.svg (which report.md links)."""
    charts_dir = directory / "charts"
    charts_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in report.charts:
        path = charts_dir / chart.file_name
        path.write_text(chart.svg)
        written.append(path)
    for name, text in (("report.md", report.markdown), ("report.html", report.html)):
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written
