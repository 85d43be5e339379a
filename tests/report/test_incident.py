"""The incident report's sections, facts and prompts, in Markdown and self-contained HTML."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from hotfix_operator.api.history import HotfixHistory, Marker, MetricSeries, RequestCounts
from hotfix_operator.cli.report_command import ReportOptions, build_report
from hotfix_operator.report.charts import render_chart
from hotfix_operator.report.incident import PROMPT, incident_report


def hotfix(name: str, deployment: str, phase: str, rule: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "prod", "creationTimestamp": "2026-11-22T10:00:00Z"},
        "spec": {"incident": {"id": "INC-9", "severity": "SEV1"}, "targets": [{"deployment": deployment}]},
        "status": {
            "phase": phase,
            "decision": {"action": "rollback-all", "rule": rule, "reason": "r", "at": "2026-11-22T10:03:00Z"},
            "timeline": [
                {"at": "2026-11-22T10:00:05Z", "type": "RolloutStarted", "message": f"{deployment}: set app=x"},
                {"at": "2026-11-22T10:01:00Z", "type": "Decision", "message": "continue", "rule": "healthy"},
                {"at": "2026-11-22T10:03:00Z", "type": "Decision", "message": "rollback-all", "rule": rule},
                {"at": "2026-11-22T10:03:01Z", "type": "RollbackPatched", "message": f"{deployment}: undo"},
                {"at": "2026-11-22T10:05:00Z", "type": "RolledBack", "message": "recovered"},
            ],
        },
    }


class Resources(HTMLParser):
    """Every attribute of the page that would load something from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.external += [
            value or "" for key, value in attrs
            if key in ("src", "href") and tag != "a" and not (value or "").startswith("data:")
        ]  # fmt: skip


def test_one_document_for_every_hotfix_of_the_incident() -> None:
    hotfixes = [hotfix("auth-fix", "auth", "RolledBack", "multi-service-unclear"),
                hotfix("cart-fix", "cart", "RolledBack", "multi-service-unclear")]  # fmt: skip
    start = 1795428000.0
    error_rate = MetricSeries(
        "prod/auth", "errorRate", 0.01, True, "the query", 10, tuple((start + 10 * i, 0.05) for i in range(6))
    )
    counts = RequestCounts("prod/auth", failed=500, requests=10_000, baseline_failed=10, baseline_requests=10_000,
                           queries={"failed": "sum(failed) @ 1"})  # fmt: skip
    histories = [
        HotfixHistory(
            "prod/auth-fix",
            start,
            start + 600,
            series=(error_rate,),
            counts=(counts,),
            markers=(Marker(start + 5, "rollout"),),
        ),
        HotfixHistory("prod/cart-fix", start, start + 600, unavailable="no Prometheus given"),
    ]
    charts = [render_chart(error_rate, histories[0].markers, start, start + 600)]
    report = incident_report("INC-9", hotfixes, histories, charts)
    text = report.markdown
    for heading in ("# Incident report: INC-9", "## Summary", "## User impact", "## Timeline", "## Alert triggers",
                    "## Charts", "## Root cause", "## What was skipped during the hotfix", "## Follow-up actions",
                    "## Lessons learned"):  # fmt: skip
        assert heading in text, heading
    assert "**Severity:** SEV1" in text and "**Duration:** 5m" in text
    assert "`prod/auth-fix` on auth: **RolledBack**, rule `multi-service-unclear`" in text
    assert "`prod/cart-fix` on cart: **RolledBack**" in text
    assert "| prod/auth | 10,000 | 500 | 0.100% | 490 | error rate 1m |" in text
    assert "`failed`: `sum(failed) @ 1`" in text
    assert "prod/cart-fix: no charts: no Prometheus given" in text
    assert text.count(PROMPT) == 3
    assert "| 2026-11-22 10:03:01 | response | prod/cart-fix | RollbackPatched | cart: undo |" in text
    assert "| 2026-11-22 10:03:00 | detection | prod/auth-fix | Decision | rollback-all |" in text
    assert "| 2026-11-22 10:01:00 | record | prod/auth-fix | Decision | continue |" in text
    assert "![prod/auth error rate](charts/prod_auth-errorRate.svg)" in text
    page = Resources()
    page.feed(report.html)
    assert page.external == []  # self-contained: the chart is inline
    assert report.html.count("<svg") == 1 and "<img" not in report.html
    assert "<table>" in report.html
    # Queries in an appendix at the end, not in the impact section.
    appendix = text.index("## Appendix: queries")
    assert appendix > text.index("## Lessons learned") and text.index("sum(failed) @ 1") > appendix
    assert "prod/auth error rate: `the query`" in text[appendix:]
    # Nested lists and task lists render as such in the HTML.
    assert "<ul>\n<li><code>prod/auth-fix</code>" in report.html
    assert '<input type="checkbox" disabled>' in report.html and "[ ]" not in report.html


def test_durations_are_for_people() -> None:
    quick = hotfix("auth-fix", "auth", "RolledBack", "root-cause-unknown")
    quick["status"]["timeline"][-1]["at"] = "2026-11-22T10:00:29.014Z"
    text = incident_report("INC-9", [quick], [], []).markdown
    assert "**Duration:** 29s" in text


def test_a_hotfix_whose_spec_failed_still_has_its_place_in_the_report() -> None:
    broken = hotfix("odd-fix", "odd", "Failed", "healthy")
    broken["spec"]["targets"] = [{"deployment": "Not A Name"}]
    report = build_report("INC-9", [broken], ReportOptions(prometheus_url="http://127.0.0.1:9"))
    assert report.charts == () and report.unavailable and report.unavailable[0].startswith("invalid spec:")
    assert "prod/odd-fix: no charts: invalid spec:" in report.markdown
