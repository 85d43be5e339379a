"""Which boundary a Monitoring Hotfix's next analysis is for, and how long its daemon sleeps towards it."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from hotfix_operator.analysis.prometheus import PrometheusSettings
from hotfix_operator.analysis.queries import AnalysisRequest
from hotfix_operator.analysis.scheduler import AnalysisScheduler
from hotfix_operator.analysis.verdicts import AnalysisReport
from hotfix_operator.api.status import AnalysisState
from hotfix_operator.engine.config import DEFAULT_ENDPOINT, OperatorConfig
from hotfix_operator.engine.controller import HotfixController
from hotfix_operator.engine.metrics import OperatorMetrics
from operator_support import hotfix_manifest

INTERVAL = 2.0


class RecordingAnalyzer:
    """Stands in for Prometheus: every request healthy at the moment asked; the moments are kept."""

    def __init__(self) -> None:
        self.moments: list[float] = []

    def analyze(self, requests: list[AnalysisRequest], now: float | None = None) -> dict[str, AnalysisReport]:
        assert now is not None
        self.moments.append(now)
        return {r.key: AnalysisReport(key=r.key, at=now, result=AnalysisState.HEALTHY, metrics={}) for r in requests}


def controller(analyzer: RecordingAnalyzer) -> HotfixController:
    return HotfixController(
        tenants=None, prometheus_rules=None, alertmanager=None, hotfixes=None,  # type: ignore[arg-type]
        scheduler=AnalysisScheduler(lambda endpoint: analyzer), notifier=None, post_event=None,  # type: ignore[arg-type]
        metrics=OperatorMetrics(),
        config=OperatorConfig(prometheus_endpoints={DEFAULT_ENDPOINT: PrometheusSettings(url="http://127.0.0.1:9")}),
    )  # fmt: skip


def monitoring_body() -> dict[str, Any]:
    body = hotfix_manifest("api-fix", ["api"])
    body["spec"]["analysis"]["interval"] = f"{INTERVAL:g}s"
    body["metadata"].update(namespace="shop", generation=1)
    body["status"] = {"phase": "Monitoring", "observedGeneration": 1, "rolloutCompletedAt": "2026-12-03T08:00:00Z"}
    return body


def test_a_hotfix_whose_last_analysis_came_back_late_is_analysed_at_the_newest_boundary_at_once() -> None:
    """After a restart a thousand resumed analyses are recorded after the next boundary has passed: the next
    analysis is that boundary's (the newest passed), at once, rather than one a whole interval later."""
    analyzer = RecordingAnalyzer()
    hotfixes = controller(analyzer)
    now = time.time()
    newest_passed = math.floor(now / INTERVAL) * INTERVAL
    # Due two intervals ago: its analysis was recorded that late.
    hotfixes.analysis_due["shop/api-fix"] = newest_passed - 2 * INTERVAL

    async def scenario() -> float:
        started = time.monotonic()
        prefetched = await hotfixes.analysis_first(monitoring_body())
        assert prefetched is not None
        assert prefetched.report.at == newest_passed
        return time.monotonic() - started

    waited = asyncio.run(scenario())
    assert analyzer.moments == [newest_passed]
    assert waited < INTERVAL / 2  # at once (the late batch's short gathering), not at the next boundary


def test_a_hotfix_on_time_waits_for_the_boundary_it_is_due_at() -> None:
    analyzer = RecordingAnalyzer()
    hotfixes = controller(analyzer)
    due = math.floor(time.time() / INTERVAL) * INTERVAL + INTERVAL
    hotfixes.analysis_due["shop/api-fix"] = due

    async def scenario() -> float:
        prefetched = await hotfixes.analysis_first(monitoring_body())
        assert prefetched is not None
        return prefetched.report.at

    assert asyncio.run(scenario()) == due
    assert time.time() >= due
