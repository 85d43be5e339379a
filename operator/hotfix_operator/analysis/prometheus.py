"""The Prometheus adapter: runs the planned range queries and turns the answers into verdicts.

Synchronous (prometheus-api-client uses requests); the operator calls it off the event loop. Every
failure becomes an ``inconclusive`` result with a reason a person can act on, never an exception out of
``analyze``: a broken query or an unreachable Prometheus must hold a decision, not crash the operator.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from hotfix_operator.analysis.queries import (
    AnalysisRequest,
    MetricNames,
    RangeQuery,
    Target,
    error_rate_promql,
    latency_p95_promql,
    override_queries,
    plan_queries,
    selector,
)
from hotfix_operator.analysis.thresholds import CRASH_FREE_SESSIONS, ERROR_RATE, LATENCY_P95, MetricResult, combine
from hotfix_operator.analysis.verdicts import (
    AnalysisReport,
    Matrix,
    evaluate_crash_free_override,
    evaluate_error_rate_points,
    evaluate_latency_points,
    evaluate_sessions_points,
    only_series,
    series_for,
)
from hotfix_operator.api.status import AnalysisState


@dataclass(frozen=True)
class PrometheusSettings:
    """How to reach a Prometheus; credentials come from files (mounted Secrets), never from the spec."""

    url: str
    timeout_seconds: float = 10.0
    bearer_token_file: Path | None = None
    basic_auth_username_file: Path | None = None
    basic_auth_password_file: Path | None = None
    ca_file: Path | None = None


def connect(settings: PrometheusSettings) -> PrometheusConnect:
    session = requests.Session()
    session.verify = str(settings.ca_file) if settings.ca_file else True
    headers = None
    if settings.bearer_token_file:
        headers = {"Authorization": f"Bearer {settings.bearer_token_file.read_text().strip()}"}
    auth = None
    if settings.basic_auth_username_file and settings.basic_auth_password_file:
        auth = (
            settings.basic_auth_username_file.read_text().strip(),
            settings.basic_auth_password_file.read_text().strip(),
        )
    # One quick retry for a blip; the analysis runs again next interval anyway, so no long backoff here.
    retry = Retry(total=1, backoff_factor=0.2, status_forcelist=[502, 503, 504], allowed_methods=None)
    return PrometheusConnect(
        url=settings.url,
        headers=headers,
        auth=auth,
        session=session,
        timeout=settings.timeout_seconds,
        retry=retry,
        # POST: a batched selector naming a thousand Deployments is too long for a URL.
        method="POST",
    )


def _describe_failure(error: Exception) -> str:
    if isinstance(error, PrometheusApiClientException):
        text = str(error)
        # The client only keeps Prometheus' JSON error inside the message string.
        start = text.find("{")
        if start != -1:
            try:
                payload = json.loads(text[start : text.rfind("}") + 1].encode().decode("unicode_escape"))
                return f"Prometheus refused the query ({payload.get('errorType')}): {payload.get('error')}"
            except ValueError:
                pass
        return f"Prometheus refused the query: {text}"
    if isinstance(error, requests.exceptions.Timeout):
        return "Prometheus did not answer in time"
    if isinstance(error, requests.exceptions.RequestException):
        return f"Prometheus is unreachable: {type(error).__name__}"
    return f"analysis failed: {error}"


@dataclass
class QueryStats:
    """What the analyzer asked of Prometheus: for /metrics and for the benchmark."""

    queries: int = 0
    errors: int = 0
    seconds: list[float] = field(default_factory=list)


class PrometheusAnalyzer:
    def __init__(
        self,
        connection: PrometheusConnect,
        names: MetricNames | None = None,
        on_query: Callable[[float, bool], None] | None = None,
    ) -> None:
        self.connection = connection
        self.names = names or MetricNames()
        self.stats = QueryStats()
        self.on_query = on_query

    def query_range(self, query: RangeQuery) -> Matrix | Exception:
        started = time.monotonic()
        failed = False
        try:
            return self.connection.custom_query_range(
                query.promql,
                start_time=datetime.fromtimestamp(query.start, UTC),
                end_time=datetime.fromtimestamp(query.end, UTC),
                step=f"{query.step.total_seconds():g}",
            )
        except (PrometheusApiClientException, requests.exceptions.RequestException, ValueError) as error:
            failed = True
            return error
        finally:
            elapsed = time.monotonic() - started
            self.stats.queries += 1
            self.stats.errors += failed
            self.stats.seconds.append(elapsed)
            if self.on_query is not None:
                self.on_query(elapsed, failed)

    def analyze(self, requests_: list[AnalysisRequest], now: float | None = None) -> dict[str, AnalysisReport]:
        """Evaluate every request's thresholds at ``now`` (whole seconds: the query API rounds to them)."""
        now = float(math.floor(time.time() if now is None else now))
        plan = plan_queries(self.names, requests_, now)
        answers = [self.query_range(query) for query in plan.queries]
        reports = {}
        for request in requests_:
            metrics = {
                f"{namespace}/{deployment}": self._target_results(
                    request, (namespace, deployment), plan.routes, answers, now
                )
                for namespace, deployment in request.targets
            }
            overall = combine(result for results in metrics.values() for result in results)
            reports[request.key] = AnalysisReport(key=request.key, at=now, result=overall, metrics=metrics)
        return reports

    def _target_results(
        self,
        request: AnalysisRequest,
        target: Target,
        routes: dict[tuple[str, str], int],
        answers: list[Matrix | Exception],
        now: float,
    ) -> list[MetricResult]:
        overrides = {
            metric: self.query_range(query) for metric, query in override_queries(request, target, now).items()
        }

        def answer(metric: str, offset: int = 0) -> Matrix | Exception:
            if metric in overrides:
                return overrides[metric]
            return answers[routes[(metric, request.key)] + offset]

        results = []
        for metric, evaluate in (
            (ERROR_RATE, evaluate_error_rate_points),
            (LATENCY_P95, evaluate_latency_points),
        ):
            matrix = answer(metric)
            if isinstance(matrix, Exception):
                results.append(self._failed(metric, matrix))
                continue
            points = only_series(matrix) if metric in overrides else series_for(self.names, matrix, target)
            results.append(evaluate(points, request, now))
        results.append(self._crash_free(request, target, overrides, answer, now))
        return results

    def _crash_free(
        self,
        request: AnalysisRequest,
        target: Target,
        overrides: dict[str, Matrix | Exception],
        answer: Callable[..., Matrix | Exception],
        now: float,
    ) -> MetricResult:
        if CRASH_FREE_SESSIONS in overrides:
            matrix = overrides[CRASH_FREE_SESSIONS]
            if isinstance(matrix, Exception):
                return self._failed(CRASH_FREE_SESSIONS, matrix)
            return evaluate_crash_free_override(only_series(matrix), request, now)
        total, crashed = answer(CRASH_FREE_SESSIONS), answer(CRASH_FREE_SESSIONS, 1)
        for matrix in (total, crashed):
            if isinstance(matrix, Exception):
                return self._failed(CRASH_FREE_SESSIONS, matrix)
        assert not isinstance(total, Exception) and not isinstance(crashed, Exception)
        return evaluate_sessions_points(
            series_for(self.names, total, target), series_for(self.names, crashed, target), request, now
        )

    @staticmethod
    def _failed(metric: str, error: Exception) -> MetricResult:
        return MetricResult(metric=metric, state=AnalysisState.INCONCLUSIVE, reason=_describe_failure(error))


@dataclass(frozen=True)
class Baseline:
    """The pre-hotfix level of each metric, for the stability checkpoints' "back to baseline"."""

    error_rate: float | None
    latency_p95_ms: float | None


def capture_baseline(
    analyzer: PrometheusAnalyzer, targets: list[Target], window: timedelta, at: float | None = None
) -> dict[str, Baseline]:
    """Error rate and p95 of each target over ``window`` before ``at``: two queries for all targets."""
    at = float(math.floor(time.time() if at is None else at))
    names = analyzer.names
    match = selector(names, targets)
    step = window
    answers = {
        "error_rate": analyzer.query_range(RangeQuery(error_rate_promql(names, match, window), at, at, step)),
        "latency": analyzer.query_range(RangeQuery(latency_p95_promql(names, match, window), at, at, step)),
    }

    def last_value(matrix: Matrix | Exception, target: Target) -> float | None:
        if isinstance(matrix, Exception):
            return None
        points = series_for(names, matrix, target)
        if not points or math.isnan(points[-1][1]):
            return None
        return points[-1][1]

    return {
        f"{namespace}/{deployment}": Baseline(
            error_rate=last_value(answers["error_rate"], (namespace, deployment)),
            latency_p95_ms=last_value(answers["latency"], (namespace, deployment)),
        )
        for namespace, deployment in targets
    }
