"""The operator's own Prometheus metrics, served on /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from hotfix_operator.api.status import Phase


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.hotfixes = Gauge("hotfix_operator_hotfixes", "Hotfixes by phase", ["phase"], registry=self.registry)
        self.decisions = Counter(
            "hotfix_operator_decisions",
            "Decisions taken, by rule and action",
            ["rule", "action"],
            registry=self.registry,
        )
        self.rollbacks = Counter("hotfix_operator_rollbacks", "Deployment undos patched", registry=self.registry)
        self.escalations = Counter(
            "hotfix_operator_escalations", "Hotfixes escalated", ["reason"], registry=self.registry
        )
        self.query_seconds = Histogram(
            "hotfix_operator_analysis_query_seconds", "Prometheus query latency", registry=self.registry
        )
        self.query_errors = Counter(
            "hotfix_operator_analysis_query_errors", "Failed Prometheus queries", registry=self.registry
        )
        self.api_unavailable = Counter(
            "hotfix_operator_api_unavailable",
            "Hotfix steps postponed because the API server could not answer (429, 5xx, unreachable)",
            registry=self.registry,
        )
        self.breach_to_action = Histogram(
            "hotfix_operator_breach_to_action_seconds",
            "From the analysis that saw a breach to the first undo patch",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=self.registry,
        )

    def observe_query(self, seconds: float, failed: bool) -> None:
        self.query_seconds.observe(seconds)
        if failed:
            self.query_errors.inc()

    def track(
        self,
        phases: Callable[[], Mapping[str, str]],
        analysis_due: Callable[[], Mapping[str, float]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Report every Hotfix's phase and how far the analyses keep up, computed when /metrics is read (not
        at each status write: with thousands of Hotfixes that would count them all at every write)."""
        for phase in Phase:
            self.hotfixes.labels(phase=phase.value).set_function(
                # Read on the HTTP server's thread while the event loop changes the dict: copied in one C call
                # first (a generator over it raised "dictionary changed size" amid a restart of 10,000).
                lambda value=phase.value: list(phases().values()).count(value)
            )
        analysed = Gauge(
            "hotfix_operator_analysed_hotfixes",
            "Hotfixes this process analyses every interval (each one once it has had its first analysis)",
            registry=self.registry,
        )
        analysed.set_function(lambda: len(analysis_due()))
        lag = Gauge(
            "hotfix_operator_analysis_lag_seconds",
            "How far the most overdue Hotfix is behind its next analysis (0: every one on time)",
            registry=self.registry,
        )
        lag.set_function(lambda: max(0.0, clock() - min(analysis_due().values(), default=clock())))

    def serve(self, address: str, port: int) -> None:
        start_http_server(port, addr=address, registry=self.registry)
