"""The operator's /metrics as Prometheus reads them: phases, and whether the analyses keep up."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hotfix_operator.engine.metrics import OperatorMetrics


def scraped(metrics: OperatorMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_phases_and_analysis_lag_are_read_when_scraped() -> None:
    phases = {"shop/a": "Monitoring", "shop/b": "Monitoring", "shop/c": "RolledBack"}
    due = {"shop/a": 1030.0, "shop/b": 1000.0}
    now = [990.0]
    metrics = OperatorMetrics()
    metrics.track(lambda: phases, lambda: due, clock=lambda: now[0])
    first = scraped(metrics)
    assert first[("hotfix_operator_hotfixes", (("phase", "Monitoring"),))] == 2
    assert first[("hotfix_operator_hotfixes", (("phase", "RolledBack"),))] == 1
    assert first[("hotfix_operator_hotfixes", (("phase", "Escalated"),))] == 0
    assert first[("hotfix_operator_analysed_hotfixes", ())] == 2
    assert first[("hotfix_operator_analysis_lag_seconds", ())] == 0  # b is due in 10 s: nobody is late

    phases["shop/b"] = "Escalated"
    del due["shop/b"]
    now[0] = 1042.5  # a is 12.5 s past its due analysis
    later = scraped(metrics)
    assert later[("hotfix_operator_hotfixes", (("phase", "Monitoring"),))] == 1
    assert later[("hotfix_operator_hotfixes", (("phase", "Escalated"),))] == 1
    assert later[("hotfix_operator_analysed_hotfixes", ())] == 1
    assert later[("hotfix_operator_analysis_lag_seconds", ())] == 12.5


def test_no_hotfix_under_analysis_is_no_lag() -> None:
    metrics = OperatorMetrics()
    metrics.track(dict, dict)
    assert scraped(metrics)[("hotfix_operator_analysis_lag_seconds", ())] == 0
