"""deploy/grafana/hotfix-operator.json: every panel's query is valid PromQL for the real Prometheus and reads
metrics the operator really exports."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from pathlib import Path

from prometheus_client import generate_latest

from hotfix_operator.engine.metrics import OperatorMetrics
from testbed_support import PrometheusQuery

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "hotfix-operator.json"
# What Grafana puts in place of its variables before it sends a query.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$job": ".*"}
METRIC_NAME = re.compile(r"\bhotfix_operator_[a-z_]+")


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def expressions() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]


def as_grafana_sends(expression: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expression = expression.replace(variable, value)
    return expression


def test_the_dashboard_shows_what_the_issue_asks_for() -> None:
    titles = {panel["title"] for panel in dashboard()["panels"]}
    assert {"Hotfixes by phase", "Decisions by rule", "Rollbacks", "Escalations by reason",
            "Prometheus query latency", "Breach to action"} <= titles  # fmt: skip
    panels = dashboard()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    assert all(panel["datasource"]["uid"] == "${datasource}" for panel in panels)


def test_every_metric_in_the_dashboard_is_exported_by_the_operator() -> None:
    metrics = OperatorMetrics()
    metrics.track(lambda: {"prod/a": "Monitoring"}, lambda: {"prod/a": 0.0})
    metrics.decisions.labels(rule="root-cause-unknown", action="rollback").inc()
    metrics.escalations.labels(reason="RollbackFailed").inc()
    exported = set(METRIC_NAME.findall(generate_latest(metrics.registry).decode()))
    used = {name for expression in expressions() for name in METRIC_NAME.findall(expression)}
    assert used and used <= exported, used - exported


def test_every_query_is_accepted_by_prometheus(prometheus: PrometheusQuery) -> None:
    for expression in expressions():
        query = urllib.parse.urlencode({"query": as_grafana_sends(expression)})
        with urllib.request.urlopen(f"{prometheus.url}/api/v1/query?{query}", timeout=5) as response:
            assert json.loads(response.read())["status"] == "success", expression
