"""The alert rules fire exactly when the analysis says breached: promtool on the boundary histories.

The input series are the ones the threshold boundary tests backfill into a real Prometheus
(``prometheus_history.BEHAVIOURS``: 1.2% errors for 4m45s and for 6m of a 5m window, p95 above the
limit in 2 and in 3 of 3 windows, crash-free sessions below the minimum with too few and with enough
sessions), written in promtool's notation; the rules are generated for those Deployments as the
operator publishes them. ``test_prometheus.py`` asserts the analysis' verdicts on the same histories.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotfix_operator.analysis.alert_rules import RuleContext, alert_rule_group, rule_file
from hotfix_operator.analysis.queries import QuerySettings, build_request
from hotfix_operator.api.models import Analysis, Severity
from prometheus_history import BEHAVIOURS, BUCKETS, NAMESPACE, SCRAPE_SECONDS

HISTORY_SECONDS = 40 * 60
# The analysis' verdict at the end of the history for each Deployment (test_prometheus.py asserts them
# on a real Prometheus): the rule of that threshold must be firing exactly for the breached ones.
BREACHED = {
    "err-whole": {"errorRate"},
    "err-under": set(),
    "err-below": set(),
    "lat-three": {"latencyP95"},
    "lat-two": set(),
    "crash-few": set(),
    "crash-bad": {"crashFreeSessions"},
    "healthy": set(),
}
ANALYSIS = {"interval": "15s", "errorRate": {"max": 0.01, "for": "5m"}}


def input_series() -> list[dict[str, str]]:
    """Each Deployment's counters at every 15 s from 0 to the end of the history."""
    times = range(0, HISTORY_SECONDS + 1, SCRAPE_SECONDS)
    series: list[dict[str, str]] = []
    for deployment, behaviour in BEHAVIOURS.items():
        labels = f'namespace="{NAMESPACE}",deployment="{deployment}"'
        ok = errors = sessions = crashed = 0.0
        buckets = [0.0] * len(BUCKETS)
        rows: dict[str, list[float]] = {}
        for index, at in enumerate(times):
            if index:
                age = HISTORY_SECONDS - at + SCRAPE_SECONDS / 2
                requests = behaviour.requests_per_second * SCRAPE_SECONDS
                errors += requests * behaviour.error_ratio(age)
                ok += requests * (1 - behaviour.error_ratio(age))
                buckets[next(i for i, upper in enumerate(BUCKETS) if upper >= 0.01)] += requests * 0.9
                slow = behaviour.p95_seconds(age)
                buckets[next(i for i, upper in enumerate(BUCKETS) if slow <= upper)] += requests * 0.1
                sessions += behaviour.sessions_per_second * SCRAPE_SECONDS
                crashed += behaviour.sessions_per_second * SCRAPE_SECONDS * behaviour.crash_ratio
            values = {
                f'http_requests_total{{{labels},code="200"}}': ok,
                f'http_requests_total{{{labels},code="500"}}': errors,
                f"app_sessions_total{{{labels}}}": sessions,
                f"app_sessions_crashed_total{{{labels}}}": crashed,
            }
            cumulative = 0.0
            for upper, count in zip(BUCKETS, buckets, strict=True):
                cumulative += count
                le = "+Inf" if upper == float("inf") else repr(upper)
                values[f'http_request_duration_seconds_bucket{{{labels},le="{le}"}}'] = cumulative
            for name, value in values.items():
                rows.setdefault(name, []).append(value)
        series += [{"series": name, "values": " ".join(f"{v:.6f}" for v in row)} for name, row in rows.items()]
    return series


def rule_group(deployments: list[str]) -> dict[str, Any]:
    settings = QuerySettings()
    request = build_request(
        settings,
        f"{NAMESPACE}/boundaries",
        tuple((NAMESPACE, d) for d in deployments),
        Analysis.model_validate(ANALYSIS),
        0,
    )
    context = RuleContext(
        hotfix="boundaries",
        namespace=NAMESPACE,
        incident="INC-1",
        severity=Severity.SEV1,
        window_open=0,
        team="payments",
    )
    return alert_rule_group(settings, request, context)


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: make test installs Debian's prometheus package"
    return found


@pytest.mark.real
def test_rule_file_passes_promtool_check(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rule_file([rule_group(list(BEHAVIOURS))])))
    completed = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "SUCCESS: 24 rules found" in completed.stdout


@pytest.mark.real
def test_rules_fire_exactly_when_the_analysis_says_breached(tmp_path: Path) -> None:
    group = rule_group(list(BEHAVIOURS))
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_file([group])))
    alert_tests = []
    for threshold, alertname in (
        ("errorRate", "HotfixErrorRateHigh"),
        ("latencyP95", "HotfixLatencyP95High"),
        ("crashFreeSessions", "HotfixCrashFreeSessionsLow"),
    ):
        expected = []
        for rule in group["rules"]:
            deployment = rule["annotations"]["summary"].rsplit("/", 1)[1]
            if rule["alert"] == alertname and threshold in BREACHED[deployment]:
                labels = {**rule["labels"], "namespace": NAMESPACE, "deployment": deployment}
                expected.append({"exp_labels": labels, "exp_annotations": rule["annotations"]})
        alert_tests.append({"eval_time": f"{HISTORY_SECONDS}s", "alertname": alertname, "exp_alerts": expected})
    # One evaluation step earlier the error-rate breach has lasted one step less than `for`: pending only.
    alert_tests.append({"eval_time": f"{HISTORY_SECONDS - 45}s", "alertname": "HotfixErrorRateHigh", "exp_alerts": []})
    test_file = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "15s",
        "tests": [{"interval": "15s", "input_series": input_series(), "alert_rule_test": alert_tests}],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test_file))
    completed = subprocess.run([promtool(), "test", "rules", "test.yaml"], capture_output=True, text=True, cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
