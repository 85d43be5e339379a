"""Threshold analysis against a real Prometheus, with exact timing from a backfilled history."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests

from hotfix_operator.analysis.preset_trial import trial_questions
from hotfix_operator.analysis.prometheus import (
    QUERY_WORKERS,
    SIDE_QUERY_WORKERS,
    PrometheusAnalyzer,
    PrometheusSettings,
    capture_span,
    check_telemetry,
    connect,
    describe_failure,
)
from hotfix_operator.analysis.queries import AnalysisRequest, QuerySettings, RangeQuery, build_request
from hotfix_operator.analysis.telemetry_check import probes
from hotfix_operator.analysis.thresholds import CRASH_FREE_SESSIONS, ERROR_RATE, LATENCY_P95
from hotfix_operator.api.models import Analysis
from hotfix_operator.api.status import AnalysisState
from hotfix_operator.testbed.fault_proxy import FaultProxy
from hotfix_operator.testbed.processes import free_port
from hotfix_operator.testbed.prometheus import LocalPrometheus
from prometheus_history import NAMESPACE, BackfilledPrometheus


def request(deployment: str, now: int, ran_for: float = 7200, **analysis: Any) -> AnalysisRequest:
    return build_request(
        QuerySettings(),
        f"{NAMESPACE}/{deployment}-hotfix",
        ((NAMESPACE, deployment),),
        Analysis.model_validate(analysis),
        now - ran_for,
    )


def metric_state(analyzer: PrometheusAnalyzer, req: AnalysisRequest, now: int, metric: str) -> tuple[str, str]:
    report = analyzer.analyze([req], now=now)[req.key]
    result = next(r for r in report.metrics[f"{NAMESPACE}/{req.targets[0][1]}"] if r.metric == metric)
    return result.state, result.reason


@pytest.fixture(scope="module")
def analyzer(backfilled_prometheus: BackfilledPrometheus) -> PrometheusAnalyzer:
    return PrometheusAnalyzer(connect(PrometheusSettings(url=backfilled_prometheus.url)))


@pytest.mark.parametrize(
    ("deployment", "metric", "expected"),
    [
        ("err-whole", ERROR_RATE, AnalysisState.BREACHED),
        ("err-under", ERROR_RATE, AnalysisState.HEALTHY),
        ("err-below", ERROR_RATE, AnalysisState.HEALTHY),
        ("lat-three", LATENCY_P95, AnalysisState.BREACHED),
        ("lat-two", LATENCY_P95, AnalysisState.HEALTHY),
        ("crash-bad", CRASH_FREE_SESSIONS, AnalysisState.BREACHED),
        ("crash-few", CRASH_FREE_SESSIONS, AnalysisState.PENDING),
        ("healthy", CRASH_FREE_SESSIONS, AnalysisState.HEALTHY),
    ],
)
def test_threshold_semantics_on_real_prometheus(
    analyzer: PrometheusAnalyzer, backfilled_prometheus: BackfilledPrometheus, deployment: str, metric: str,
    expected: AnalysisState,
) -> None:  # fmt: skip
    now = backfilled_prometheus.now
    state, reason = metric_state(analyzer, request(deployment, now), now, metric)
    assert state == expected, reason


def test_breach_reports_value_threshold_and_range(
    analyzer: PrometheusAnalyzer, backfilled_prometheus: BackfilledPrometheus
) -> None:
    now = backfilled_prometheus.now
    report = analyzer.analyze([request("err-whole", now)], now=now)[f"{NAMESPACE}/err-whole-hotfix"]
    assert report.result == AnalysisState.BREACHED
    [(target, breach)] = report.breaches()
    assert target == f"{NAMESPACE}/err-whole"
    assert breach.value == pytest.approx(0.012, rel=0.02)
    assert breach.threshold == 0.01
    assert (breach.window_start, breach.window_end) == (now - 300, now)


def test_pending_while_the_hotfix_is_younger_than_the_window(
    analyzer: PrometheusAnalyzer, backfilled_prometheus: BackfilledPrometheus
) -> None:
    now = backfilled_prometheus.now
    state, _ = metric_state(analyzer, request("err-whole", now, ran_for=240), now, ERROR_RATE)
    assert state == AnalysisState.PENDING


def test_crash_free_window_is_clipped_to_the_time_since_rollout(
    analyzer: PrometheusAnalyzer, backfilled_prometheus: BackfilledPrometheus
) -> None:
    now = backfilled_prometheus.now
    # 50 sessions in 30 minutes, so 5 minutes hold far fewer than the 100 needed.
    state, reason = metric_state(analyzer, request("crash-few", now, ran_for=300), now, CRASH_FREE_SESSIONS)
    assert state == AnalysisState.PENDING
    assert "in the last 5m" in reason


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ('label_replace(vector(1), "x", "$1", "y", "(")', "Prometheus refused the query (execution)"),
        (
            'sum(rate(http_requests_total{namespace="{{namespace}}"}[1m])',
            "query override refused (never sent): not PromQL",
        ),
        ('sum(rate(no_such_metric{namespace="{{namespace}}",deployment="{{deployment}}"}[1m]))', "no series"),
    ],
)
def test_broken_queries_are_inconclusive_with_the_reason(
    analyzer: PrometheusAnalyzer, backfilled_prometheus: BackfilledPrometheus, override: str, reason: str
) -> None:
    now = backfilled_prometheus.now
    req = request("healthy", now, errorRate={"query": override})
    state, why = metric_state(analyzer, req, now, ERROR_RATE)
    assert state == AnalysisState.INCONCLUSIVE
    assert reason in why


def test_stopped_prometheus_is_inconclusive(backfilled_prometheus: BackfilledPrometheus) -> None:
    now = backfilled_prometheus.now
    unreachable = PrometheusAnalyzer(
        connect(PrometheusSettings(url=f"http://127.0.0.1:{free_port()}", timeout_seconds=2))
    )
    report = unreachable.analyze([request("err-whole", now)], now=now)[f"{NAMESPACE}/err-whole-hotfix"]
    assert report.result == AnalysisState.INCONCLUSIVE
    assert all("Prometheus is unreachable" in r.reason for rs in report.metrics.values() for r in rs)


def test_override_query_is_used_and_templated(
    analyzer: PrometheusAnalyzer, backfilled_prometheus: BackfilledPrometheus
) -> None:
    now = backfilled_prometheus.now
    override = (
        'sum(rate(http_requests_total{namespace="{{namespace}}",deployment="{{deployment}}",code="500"}[{{window}}]))'
        ' / sum(rate(http_requests_total{namespace="{{namespace}}",deployment="{{deployment}}"}[{{window}}]))'
    )
    req = request("err-whole", now, interval="1m", errorRate={"query": override})
    state, _ = metric_state(analyzer, req, now, ERROR_RATE)
    assert state == AnalysisState.BREACHED


def test_batched_and_unbatched_agree_and_batching_keeps_query_count_flat(
    backfilled_prometheus: BackfilledPrometheus,
) -> None:
    now = backfilled_prometheus.now
    from prometheus_history import BEHAVIOURS

    requests_ = [request(deployment, now) for deployment in BEHAVIOURS]
    batched_analyzer = PrometheusAnalyzer(connect(PrometheusSettings(url=backfilled_prometheus.url)))
    batched = batched_analyzer.analyze(requests_, now=now)
    assert batched_analyzer.stats.queries == 4  # error rate, latency, sessions, crashed sessions
    single_analyzer = PrometheusAnalyzer(connect(PrometheusSettings(url=backfilled_prometheus.url)))
    for req in requests_:
        alone = single_analyzer.analyze([req], now=now)[req.key]
        assert alone == batched[req.key]
    assert single_analyzer.stats.queries == 4 * len(requests_)


def test_span_capture(analyzer: PrometheusAnalyzer, backfilled_prometheus: BackfilledPrometheus) -> None:
    now = backfilled_prometheus.now
    targets = [(NAMESPACE, "err-below"), (NAMESPACE, "lat-three"), (NAMESPACE, "ghost")]
    spans = capture_span(analyzer, None, targets, timedelta(minutes=5), timedelta(minutes=1), end=now - 1800)
    err_below = spans[f"{NAMESPACE}/err-below"]
    assert err_below.requests == pytest.approx(100 * 300, rel=0.06)
    assert err_below.error_rate == pytest.approx(0.009, rel=0.02)
    assert len(spans[f"{NAMESPACE}/lat-three"].p95_windows_ms) == 5
    assert 200 < (spans[f"{NAMESPACE}/lat-three"].p95_ms or 0) <= 300
    assert spans[f"{NAMESPACE}/ghost"].requests is None


def test_analyze_command(backfilled_prometheus: BackfilledPrometheus, tmp_path: Any) -> None:
    """`hotfix-operator analyze` prints one line per threshold; the live data is an hour old, so none."""
    import io

    import yaml

    from hotfix_operator.cli.main import main

    manifest = tmp_path / "hotfix.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "hotfix.dev/v1alpha1",
                "kind": "Hotfix",
                "metadata": {"name": "h", "namespace": NAMESPACE},
                "spec": {"incident": {"id": "INC-1", "severity": "SEV1"}, "targets": [{"deployment": "err-whole"}]},
            }
        )
    )
    out, err = io.StringIO(), io.StringIO()
    code = main(["analyze", "-f", str(manifest), "--prometheus", backfilled_prometheus.url], stdout=out, stderr=err)
    # Inconclusive is not healthy: exit 4 (could not judge), not 0, and not 3 (breached).
    assert code == 4, err.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{NAMESPACE}/h: inconclusive"
    assert len(lines) == 4


@pytest.mark.real
def test_hung_prometheus_is_inconclusive_within_one_timeout(tmp_path: Any) -> None:
    """A Prometheus that accepts connections but never answers (SIGSTOP): all queries run at once and
    the whole analysis is bounded by one timeout, not one per query."""
    server = LocalPrometheus(tmp_path / "hung", targets=[])
    server.start()
    assert server.pid is not None
    analyzer = PrometheusAnalyzer(
        connect(PrometheusSettings(url=server.url, timeout_seconds=2)), QuerySettings(), deadline_seconds=2
    )
    now = int(time.time())
    requests_ = [request(f"svc-{index}", now, errorRate={"query": f"vector({index})"}) for index in range(6)]
    os.kill(server.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        reports = analyzer.analyze(requests_, now=now)
        elapsed = time.monotonic() - started
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.stop()
    # Ten queries (4 batched, 6 overrides) one after another would take at least 20 s.
    assert elapsed < 6, elapsed
    for report in reports.values():
        assert report.result == AnalysisState.INCONCLUSIVE
        assert all("did not answer in time" in r.reason for rs in report.metrics.values() for r in rs)


@pytest.mark.real
def test_a_query_that_timed_out_is_not_asked_again_but_a_refusal_is(tmp_path: Any) -> None:
    """A read timeout means a heavy query: asking again would double an overloaded Prometheus' work after the
    analysis has given up on it. A 503 (a blip) is asked once more."""
    server = LocalPrometheus(tmp_path / "slow", targets=[])
    server.start()
    proxy = FaultProxy(server.url)
    proxy.start()
    try:
        analyzer = PrometheusAnalyzer(connect(PrometheusSettings(url=proxy.url, timeout_seconds=1)), QuerySettings())
        query = RangeQuery("vector(1)", time.time() - 60, time.time(), timedelta(seconds=30))
        proxy.hang(3)
        timed_out = analyzer.query_range(query)
        assert isinstance(timed_out, requests.exceptions.RequestException)
        assert describe_failure(timed_out) == "Prometheus did not answer in time"
        time.sleep(4.5)  # every request that reached the proxy has been answered (and counted) by now
        assert proxy.counts["passed-200"] == 1
        proxy.heal()
        proxy.fail(503, share=1.0, seconds=30)
        assert isinstance(analyzer.query_range(query), requests.exceptions.RequestException)
        assert proxy.counts["injected-503"] == 2
    finally:
        proxy.stop()
        server.stop()


@pytest.mark.real
def test_every_query_thread_keeps_its_connection_to_prometheus(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The analyses' and the side queries' threads all in flight at once, twice: each answer's connection goes back
    to the pool for the next query instead of being closed (urllib3 logs each one it has to drop)."""
    server = LocalPrometheus(tmp_path / "pooled", targets=[])
    server.start()
    proxy = FaultProxy(server.url)
    proxy.start()
    try:
        analyzer = PrometheusAnalyzer(connect(PrometheusSettings(url=proxy.url)), QuerySettings())
        query = RangeQuery("vector(1)", time.time() - 60, time.time(), timedelta(seconds=30))
        proxy.hang(0.5)  # every query still in flight when the last one starts
        threads = QUERY_WORKERS + SIDE_QUERY_WORKERS
        with caplog.at_level("WARNING", logger="urllib3.connectionpool"), ThreadPoolExecutor(threads) as pool:
            for _ in range(2):
                answers = list(pool.map(lambda _: analyzer.query_range(query), range(threads)))
                assert not [answer for answer in answers if isinstance(answer, Exception)]
        assert not [record.getMessage() for record in caplog.records if "pool is full" in record.getMessage()]
    finally:
        proxy.stop()
        server.stop()


class OverlapConnection:
    """Stands in for Prometheus where only concurrency matters: every query and index question takes a
    moment and finds nothing; records how many of each were in flight at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.asked: Counter[str] = Counter()

    def _ask(self, kind: str) -> list[Any]:
        with self.lock:
            self.asked[kind] += 1
            self.in_flight[kind] += 1
            self.most[kind] = max(self.most[kind], self.in_flight[kind])
        time.sleep(0.3)
        with self.lock:
            self.in_flight[kind] -= 1
        return []

    def custom_query(self, promql: str, params: Any = None) -> list[Any]:
        return self._ask("query")

    def get_label_names(self, params: dict[str, str]) -> list[str]:
        return self._ask("index")

    def get_label_values(self, label: str, params: dict[str, str]) -> list[str]:
        return self._ask("index")


def test_a_telemetry_check_asks_each_stage_side_by_side() -> None:
    """A new Deployment's first step waits for one round trip per stage of its check, not one per query: its
    three probes are in flight together, then its follow-up questions, as many at once as the threads allow."""
    connection = OverlapConnection()
    analyzer = PrometheusAnalyzer(connection)  # type: ignore[arg-type]
    req = request("new", int(time.time()), ran_for=0)
    findings = check_telemetry(analyzer, req)
    assert [finding.ready for finding in findings] == [False, False, False]
    assert all("has no series at all" in finding.message for finding in findings), findings
    assert connection.asked["query"] == connection.most["query"] == 3
    # Five questions about each probe's metric (the one about the namespace's target_info asked once), and one
    # per other preset that might find it, each asked once.
    failed = probes(analyzer.settings.preset(req.telemetry), req, timedelta(minutes=1))
    trials = {question for _, question in trial_questions(analyzer.settings, req, failed, timedelta(0)).values()}
    assert connection.asked["index"] == 3 * 4 + 1 + len(trials)
    assert connection.most["index"] == SIDE_QUERY_WORKERS


def test_an_override_that_finds_nothing_asks_no_follow_up_question() -> None:
    """The user's own query is all the diagnosis there is: nothing is asked of the index for it."""
    connection = OverlapConnection()
    analyzer = PrometheusAnalyzer(connection)  # type: ignore[arg-type]
    req = request(
        "new",
        int(time.time()),
        ran_for=0,
        errorRate={"query": 'my_ratio{namespace="{{namespace}}"}'},
        latencyP95={"enabled": False},
        crashFreeSessions={"enabled": False},
    )
    (finding,) = check_telemetry(analyzer, req)
    assert "an override query: check it in Prometheus" in finding.message
    assert connection.asked == {"query": 1}
