"""The operator's own Prometheus metrics, served on /metrics."""

from __future__ import annotations

from collections.abc import Callable

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

    def set_phases(self, phases: Callable[[], dict[str, str]]) -> None:
        """Report the current phase of every Hotfix the operator handles."""
        self.hotfixes.clear()
        counts: dict[str, int] = {phase.value: 0 for phase in Phase}
        for phase in phases().values():
            counts[phase] = counts.get(phase, 0) + 1
        for phase, count in counts.items():
            self.hotfixes.labels(phase=phase).set(count)

    def serve(self, address: str, port: int) -> None:
        start_http_server(port, addr=address, registry=self.registry)
