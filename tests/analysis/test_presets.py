"""Every telemetry preset against a real Prometheus holding its real shape: absent 5xx series, no
traffic, prefix-sharing names, noise, missing labels."""

from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hotfix_operator.analysis.preset_trial import trial_questions
from hotfix_operator.analysis.prometheus import PrometheusAnalyzer, PrometheusSettings, check_telemetry, connect
from hotfix_operator.analysis.queries import AnalysisRequest, QuerySettings, build_request, rate_window
from hotfix_operator.analysis.telemetry_check import diagnosis_queries, probes
from hotfix_operator.analysis.thresholds import CRASH_FREE_SESSIONS, ERROR_RATE
from hotfix_operator.api.models import Analysis
from hotfix_operator.api.status import AnalysisState
from prometheus_history import BackfilledPrometheus
from telemetry_history import SHAPE_NAMESPACES

PRESETS = ["istio", "linkerd", "otel", "otel-legacy", "otel-target-info", "kube-prometheus", "labels"]
# Production-like thresholds; the history scrapes every 15 s, so every window holds several scrapes.
ANALYSIS = {"interval": "30s", "errorRate": {"max": 0.01, "for": "5m"}}


def analyzer_for(server: BackfilledPrometheus) -> PrometheusAnalyzer:
    return PrometheusAnalyzer(connect(PrometheusSettings(url=server.url)), QuerySettings())


def request(preset: str, deployment: str, now: float, namespace: str | None = None, **analysis: Any) -> AnalysisRequest:
    namespace = namespace or SHAPE_NAMESPACES[preset]
    spec = Analysis.model_validate({**ANALYSIS, "telemetry": preset, **analysis})
    return build_request(
        QuerySettings(), f"{namespace}/{deployment}-hotfix", ((namespace, deployment),), spec, now - 7200
    )


def verdicts(analyzer: PrometheusAnalyzer, req: AnalysisRequest, now: float) -> dict[str, Any]:
    report = analyzer.analyze([req], now=now)[req.key]
    results = report.metrics[f"{req.targets[0][0]}/{req.targets[0][1]}"]
    return {"overall": report.result} | {result.metric: result for result in results}


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_judges_real_shapes(preset_prometheus: BackfilledPrometheus, preset: str) -> None:
    analyzer, now = analyzer_for(preset_prometheus), preset_prometheus.now
    healthy = verdicts(analyzer, request(preset, "checkout", now), now)
    # Never a 5xx, so no 5xx series exists: the ratio is 0, not missing.
    assert healthy[ERROR_RATE].state is AnalysisState.HEALTHY, healthy[ERROR_RATE].reason
    assert healthy[ERROR_RATE].value == 0.0
    assert healthy["overall"] is AnalysisState.HEALTHY, healthy
    failing = verdicts(analyzer, request(preset, "checkout-v2", now), now)
    assert failing[ERROR_RATE].state is AnalysisState.BREACHED, failing[ERROR_RATE].reason
    # The lowest point of the window, with noise: 3% errors read between 1.5% and 4.5%.
    assert 0.015 < (failing[ERROR_RATE].value or 0) < 0.045
    idle = verdicts(analyzer, request(preset, "idle", now), now)
    assert idle[ERROR_RATE].state is AnalysisState.NO_TRAFFIC, idle[ERROR_RATE].reason
    assert idle["overall"] is AnalysisState.NO_TRAFFIC


@pytest.mark.parametrize("preset", PRESETS)
def test_prefix_sharing_deployments_never_leak(preset_prometheus: BackfilledPrometheus, preset: str) -> None:
    """`checkout` and `checkout-v2` batched together: each verdict is its own."""
    analyzer, now = analyzer_for(preset_prometheus), preset_prometheus.now
    both = [request(preset, "checkout", now), request(preset, "checkout-v2", now)]
    reports = analyzer.analyze(both, now=now)
    assert reports[both[0].key].result is AnalysisState.HEALTHY
    assert reports[both[1].key].result is AnalysisState.BREACHED
    assert analyzer.stats.queries == 4


@pytest.mark.parametrize("preset", PRESETS)
def test_noise_never_breaches_below_and_always_above(preset_prometheus: BackfilledPrometheus, preset: str) -> None:
    """0.8% and 3% errors at 20 requests a second, with Poisson noise, judged at 25 successive minutes."""
    analyzer, now = analyzer_for(preset_prometheus), preset_prometheus.now
    moments = [now - 60 * minute for minute in range(25)]
    low = [verdicts(analyzer, request(preset, "noisy-low", at), at)[ERROR_RATE].state for at in moments]
    high = [verdicts(analyzer, request(preset, "noisy-high", at), at)[ERROR_RATE].state for at in moments]
    assert AnalysisState.BREACHED not in low, low
    assert set(high) == {AnalysisState.BREACHED}, high


def test_backend_without_sessions_is_judged_on_the_other_thresholds(preset_prometheus: BackfilledPrometheus) -> None:
    analyzer, now = analyzer_for(preset_prometheus), preset_prometheus.now
    backend = verdicts(analyzer, request("kube-prometheus", "backend", now), now)
    assert backend["overall"] is AnalysisState.HEALTHY
    assert not backend[CRASH_FREE_SESSIONS].judged and "no session metrics" in backend[CRASH_FREE_SESSIONS].reason
    off = verdicts(analyzer, request("kube-prometheus", "backend", now, crashFreeSessions={"enabled": False}), now)
    assert CRASH_FREE_SESSIONS not in off and off["overall"] is AnalysisState.HEALTHY


def test_restarts_substitute_reads_kube_state_metrics(preset_prometheus: BackfilledPrometheus) -> None:
    analyzer, now = analyzer_for(preset_prometheus), preset_prometheus.now
    req = request("istio", "backend", now, crashFreeSessions={"source": "restarts"})
    result = verdicts(analyzer, req, now)[CRASH_FREE_SESSIONS]
    assert result.state is AnalysisState.HEALTHY and "0 container restarts among 2 pods" in result.reason


def messages(analyzer: PrometheusAnalyzer, req: AnalysisRequest, at: float) -> list[str]:
    return [finding.message for finding in check_telemetry(analyzer, req, at) if not finding.ready]


def test_telemetry_check_passes_where_data_is(preset_prometheus: BackfilledPrometheus) -> None:
    analyzer = analyzer_for(preset_prometheus)
    for preset in PRESETS:
        now = preset_prometheus.now
        findings = check_telemetry(analyzer, request(preset, "checkout", now), now)
        assert findings and all(finding.ready for finding in findings), (preset, findings)


def test_diagnosis_names_the_missing_workload_label(preset_prometheus: BackfilledPrometheus) -> None:
    """Plain scraped metrics read with the `labels` preset: there is no `deployment` label."""
    analyzer = analyzer_for(preset_prometheus)
    found = messages(
        analyzer, request("labels", "checkout", preset_prometheus.now, namespace="scraped"), preset_prometheus.now
    )
    error_rate = next(message for message in found if message.startswith("errorRate"))
    assert "`http_requests_total` has series in namespace scraped but no label `deployment`" in error_rate
    assert "its labels are code, job, namespace, pod, service" in error_rate
    # Suggested because its own query found data here, not guessed from the labels.
    assert "`telemetry: kube-prometheus` finds data for it" in error_rate
    assert "1 - (" in error_rate  # the query it ran


def test_diagnosis_for_each_kind_of_gap(preset_prometheus: BackfilledPrometheus) -> None:
    analyzer, now = analyzer_for(preset_prometheus), preset_prometheus.now
    wrong_mesh = messages(analyzer, request("linkerd", "checkout", now, namespace="mesh-istio"), now)[0]
    assert "`response_total` has series" in wrong_mesh or "has no series at all" in wrong_mesh
    renamed = messages(analyzer, request("labels", "checkout", now, namespace="renamed"), now)[0]
    assert "carries the namespace in `exported_namespace`" in renamed
    unknown = messages(analyzer, request("kube-prometheus", "payments", now, namespace="scraped"), now)[0]
    assert "none for pods named payments-<hash>-<suffix>" in unknown and "checkout-5d8f7c9b6" in unknown
    istio_unknown = messages(analyzer, request("istio", "payments", now), now)[0]
    assert 'none for destination_workload="payments"' in istio_unknown and "checkout-v2" in istio_unknown


def test_diagnosis_of_unpromoted_resource_attributes(preset_prometheus: BackfilledPrometheus) -> None:
    """OTel series without k8s labels, read with the `otel` preset: the labels are on target_info."""
    analyzer, now = analyzer_for(preset_prometheus), preset_prometheus.now
    found = messages(analyzer, request("otel", "checkout", now, namespace="otel-info"), now)[0]
    assert "the resource attributes were not promoted; try `telemetry: otel-target-info`" in found, found


def requests_served(server: BackfilledPrometheus, *handlers: str) -> float:
    """How many requests Prometheus has answered on ``handlers``, by its own count."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "prometheus_http_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("handler") in handlers
    )


INDEX_HANDLERS = ("/api/v1/labels", "/api/v1/label/:name/values")


def test_checks_starting_together_share_the_follow_up_questions(preset_prometheus: BackfilledPrometheus) -> None:
    """Many new Deployments of one namespace without data yet, checked at once (a thousand Hotfixes applied
    together): each Deployment's own probes are queried, the follow-ups about the namespace asked of the
    index only once."""
    analyzer, now = analyzer_for(preset_prometheus), preset_prometheus.now
    requests = [request("kube-prometheus", f"new-{index}", now, namespace="scraped") for index in range(40)]
    window = rate_window(analyzer.settings, requests[0].analysis.interval)
    own = [probe for req in requests for probe in probes(analyzer.settings.preset("kube-prometheus"), req, window)]
    follow_ups = {question for probe in own for question in diagnosis_queries(probe).values()}
    # Which other preset finds each one: asked per namespace, so shared by the forty checks too.
    trials = {question for req in requests for _, question in trial_questions(
        analyzer.settings, req, [p for p in own if p.target == req.targets[0]], window).values()}  # fmt: skip
    queries_before = requests_served(preset_prometheus, "/api/v1/query")
    questions_before = requests_served(preset_prometheus, *INDEX_HANDLERS)
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda req: messages(analyzer, req, now), requests))
    assert requests_served(preset_prometheus, "/api/v1/query") - queries_before == len(own)
    assert requests_served(preset_prometheus, *INDEX_HANDLERS) - questions_before == len(follow_ups | trials)
    assert len(follow_ups | trials) < len(own)
    for index, messages_of_one in enumerate(found):
        error_rate = next(message for message in messages_of_one if message.startswith("errorRate"))
        assert f"none for pods named new-{index}-<hash>-<suffix>" in error_rate, error_rate
        assert "checkout-5d8f7c9b6" in error_rate


def test_the_diagnosis_suggests_only_a_preset_that_finds_data(preset_prometheus: BackfilledPrometheus) -> None:
    """An Istio mesh read with the default preset: the suggestion is the preset whose query returns data."""
    analyzer, now = analyzer_for(preset_prometheus), preset_prometheus.now
    found = messages(analyzer, request("labels", "checkout", now, namespace="mesh-istio"), now)
    error_rate = next(message for message in found if message.startswith("errorRate"))
    assert "`telemetry: istio` finds data for it" in error_rate, error_rate
    # Nothing finds a Deployment that serves nothing anywhere: no preset is suggested.
    nowhere = messages(analyzer, request("labels", "ghost", now, namespace="scraped"), now)
    assert nowhere and all("finds data for it" not in message for message in nowhere), nowhere
