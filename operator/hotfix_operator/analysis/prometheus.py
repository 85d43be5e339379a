"""The Prometheus adapter: runs the planned range queries and turns the answers into verdicts.

Synchronous (prometheus-api-client uses requests); the operator calls it off the event loop. Every
failure becomes an ``inconclusive`` result with a reason a person can act on, never an exception out of
``analyze``: a broken query or an unreachable Prometheus must hold a decision, not crash the operator.
"""

from __future__ import annotations

import functools
import json
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from hotfix_operator.analysis.preset_trial import working_presets
from hotfix_operator.analysis.presets.base import Target
from hotfix_operator.analysis.queries import (
    AnalysisRequest,
    QuerySettings,
    RangeQuery,
    crash_free_step,
    override_queries,
    plan_queries,
    rate_window,
)
from hotfix_operator.analysis.telemetry_check import (
    Finding,
    SeriesQuestion,
    diagnose,
    diagnosis_queries,
    probes,
    ready_message,
)
from hotfix_operator.analysis.tenant_queries import OverrideRefused
from hotfix_operator.analysis.thresholds import (
    CRASH_FREE_SESSIONS,
    ERROR_RATE,
    LATENCY_P95,
    MetricResult,
    Point,
    combine,
)
from hotfix_operator.analysis.verdicts import (
    AnalysisReport,
    Matrix,
    SeriesByTarget,
    by_target,
    evaluate_crash_free_override,
    evaluate_error_rate_points,
    evaluate_latency_points,
    evaluate_restarts_points,
    evaluate_sessions_points,
    only_series,
    series_for,
)
from hotfix_operator.api.models import CrashFreeSource
from hotfix_operator.api.status import AnalysisState
from hotfix_operator.rules.baseline import SpanStats

T = TypeVar("T")


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
    # One quick retry for a blip (a refused connection, a 502-504); the analysis runs again next interval anyway,
    # so no long backoff here. Not for a read timeout: a query that did not finish in time is a heavy one, and
    # asking again doubles an overloaded Prometheus' work while the analysis' deadline has passed already.
    # (read=False raises the timeout itself, so that it reads as one, not as "unreachable").
    retry = Retry(total=1, read=False, backoff_factor=0.2, status_forcelist=[502, 503, 504], allowed_methods=None)
    connection = PrometheusConnect(
        url=settings.url,
        headers=headers,
        auth=auth,
        session=session,
        timeout=settings.timeout_seconds,
        retry=retry,
        # POST: a batched selector naming a thousand Deployments is too long for a URL.
        method="POST",
    )
    # prometheus-api-client mounts an adapter keeping requests' default 10 connections; the analyses' and the
    # side queries' threads hold up to 16 at once, and each one over that was closed after its answer and opened
    # again for the next query (74 times in a 10,000-Hotfix run; a TLS handshake each on a real Prometheus).
    session.mount(settings.url, HTTPAdapter(max_retries=retry, pool_maxsize=QUERY_WORKERS + SIDE_QUERY_WORKERS))
    return connection


def describe_failure(error: Exception) -> str:
    if isinstance(error, OverrideRefused):
        return f"query override refused (never sent): {error}"
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
    if isinstance(error, requests.exceptions.Timeout | TimeoutError):
        return "Prometheus did not answer in time"
    if isinstance(error, requests.exceptions.RequestException):
        return f"Prometheus is unreachable: {type(error).__name__}"
    return f"analysis failed: {error}"


# Queries of one analysis run side by side; more would only queue on Prometheus itself.
QUERY_WORKERS = 8
# The queries of a telemetry check or a baseline span, side by side on threads of their own: a Hotfix's first
# step waits for one round trip per stage instead of one per query (a dozen when telemetry is missing), and
# never for a thread of the analyses.
SIDE_QUERY_WORKERS = 8
# The telemetry check's follow-up questions are about a metric in a namespace, not about one Deployment: a
# thousand Hotfixes starting in one namespace share one answer this long instead of asking a thousand times.
SHARED_ANSWER_SECONDS = 15.0
# How far back an instant query looks for a series' latest sample (Prometheus' default lookback delta): the
# index questions of the telemetry check look as far.
LOOKBACK_SECONDS = 300.0


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
        settings: QuerySettings | None = None,
        on_query: Callable[[float, bool], None] | None = None,
        deadline_seconds: float = 10.0,
    ) -> None:
        self.connection = connection
        self.settings = settings or QuerySettings()
        # The whole analysis waits at most this long (the connection's own timeout per request).
        self.deadline_seconds = deadline_seconds
        self._pool = ThreadPoolExecutor(max_workers=QUERY_WORKERS, thread_name_prefix="prometheus-query")
        self._side_pool = ThreadPoolExecutor(max_workers=SIDE_QUERY_WORKERS, thread_name_prefix="prometheus-side-query")
        self.stats = QueryStats()
        self._shared: dict[tuple[SeriesQuestion, float | None], tuple[float, Future[list[str] | Exception]]] = {}
        self._shared_lock = threading.Lock()
        self.on_query = on_query

    def query_range(self, query: RangeQuery) -> Matrix | Exception:
        started = time.monotonic()
        failed = False
        try:
            # The client rounds start and end to whole seconds: with a step of a third of 200 s, the points then
            # fell up to half a second off the planned ones, and the last could fall past the end and be left
            # out (the freshest crash-free step). So they are sent to the millisecond, as the step is.
            return self.connection.custom_query_range(
                query.promql,
                start_time=datetime.fromtimestamp(query.start, UTC),
                end_time=datetime.fromtimestamp(query.end, UTC),
                step=f"{query.step.total_seconds():.3f}",
                params={"start": f"{query.start:.3f}", "end": f"{query.end:.3f}"},
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

    def _run_all(self, queries: list[RangeQuery]) -> list[Matrix | Exception]:
        futures = [self._pool.submit(self.query_range, query) for query in queries]
        done, _ = wait(futures, timeout=self.deadline_seconds)
        late = TimeoutError(f"no answer within {self.deadline_seconds:g}s")
        return [future.result() if future in done else late for future in futures]

    def side_by_side(self, calls: list[Callable[[], T]]) -> list[T]:
        """Queries outside an analysis, all at once; each call returns its failure rather than raise it, and
        each is bounded by the connection's own timeout."""
        return [future.result() for future in [self._side_pool.submit(call) for call in calls]]

    def query_instant(self, promql: str, at: float | None = None) -> Matrix | Exception:
        """An instant query (the telemetry check's probes), failures returned like query_range's."""
        try:
            return self.connection.custom_query(promql, params={"time": at} if at is not None else None)
        except (PrometheusApiClientException, requests.exceptions.RequestException, ValueError) as error:
            return error

    def series_answer(self, question: SeriesQuestion, at: float | None = None) -> list[str] | Exception:
        """A question to Prometheus' index (label names or values of the matching series) over the instant
        query's five-minute lookback before ``at``; failures returned like query_range's."""
        end = time.time() if at is None else at
        params = {"match[]": question.match, "start": f"{end - LOOKBACK_SECONDS:.3f}", "end": f"{end:.3f}"}
        try:
            if question.label is None:
                return list(self.connection.get_label_names(params=params))
            return list(self.connection.get_label_values(question.label, params=params))
        except (PrometheusApiClientException, requests.exceptions.RequestException, ValueError) as error:
            return error

    def series_answer_shared(self, question: SeriesQuestion, at: float | None = None) -> list[str] | Exception:
        """``series_answer``, asked once for every caller that asks the same within SHARED_ANSWER_SECONDS; a
        caller arriving while it is in flight waits for that answer instead of asking again."""
        key = (question, at)
        now = time.monotonic()
        with self._shared_lock:
            entry = self._shared.get(key)
            asking = entry is None or entry[0] <= now
            if asking:
                self._shared = {k: v for k, v in self._shared.items() if v[0] > now}
                entry = self._shared[key] = (now + SHARED_ANSWER_SECONDS, Future())
        assert entry is not None
        answer = entry[1]
        if asking:
            try:
                answer.set_result(self.series_answer(question, at))
            except BaseException as error:  # never leave the callers waiting on it hanging
                answer.set_exception(error)
                raise
        return answer.result()

    def analyze(self, requests_: list[AnalysisRequest], now: float | None = None) -> dict[str, AnalysisReport]:
        """Evaluate every request's thresholds at ``now`` (whole seconds: the query API rounds to them)."""
        now = float(math.floor(time.time() if now is None else now))
        plan = plan_queries(self.settings, requests_, now)
        overrides = [
            (request.key, target, metric, query)
            for request in requests_
            for target in request.targets
            for metric, query in override_queries(self.settings, request, target, now).items()
        ]
        # A refused override is never sent: its refusal is the answer, as a failed query's error would be.
        sent = [query for *_, query in overrides if isinstance(query, RangeQuery)]
        # Every query at once, and the whole analysis bounded by one timeout: a hung Prometheus is
        # reported within one interval plus one timeout, however many queries there are.
        answered = self._run_all([*plan.queries, *sent])
        # Each batched answer indexed once by target, not scanned once per target.
        answers = [
            answer if isinstance(answer, Exception) else by_target(answer) for answer in answered[: len(plan.queries)]
        ]
        sent_answers = iter(answered[len(plan.queries) :])
        override_answers: dict[tuple[str, Target], dict[str, Matrix | Exception]] = {}
        for key, target, metric, query in overrides:
            answer = next(sent_answers) if isinstance(query, RangeQuery) else query
            override_answers.setdefault((key, target), {})[metric] = answer
        reports = {}
        for request in requests_:
            metrics = {
                f"{target[0]}/{target[1]}": self._target_results(
                    request, target, plan.routes, answers, override_answers.get((request.key, target), {}), now
                )
                for target in request.targets
            }
            overall = combine(result for results in metrics.values() for result in results)
            reports[request.key] = AnalysisReport(key=request.key, at=now, result=overall, metrics=metrics)
        return reports

    def _target_results(
        self,
        request: AnalysisRequest,
        target: Target,
        routes: dict[tuple[str, str], int],
        answers: list[SeriesByTarget | Exception],
        overrides: dict[str, Matrix | Exception],
        now: float,
    ) -> list[MetricResult]:
        def points(metric: str, offset: int = 0) -> list[Point] | Exception | None:
            """The target's points of ``metric`` (its own override's answer, or its slice of the batched
            one); the failure when Prometheus did not answer."""
            if metric in overrides:
                matrix = overrides[metric]
                return matrix if isinstance(matrix, Exception) else only_series(matrix)
            answer = answers[routes[(metric, request.key)] + offset]
            return answer if isinstance(answer, Exception) else series_for(answer, target)

        results = []
        for metric, evaluate in (
            (ERROR_RATE, evaluate_error_rate_points),
            (LATENCY_P95, evaluate_latency_points),
        ):
            if metric not in request.enabled:
                continue
            found = points(metric)
            results.append(
                self._failed(metric, found) if isinstance(found, Exception) else evaluate(found, request, now)
            )
        if CRASH_FREE_SESSIONS in request.enabled:
            results.append(self._crash_free(request, CRASH_FREE_SESSIONS in overrides, points, now))
        return results

    def _crash_free(
        self,
        request: AnalysisRequest,
        overridden: bool,
        points: Callable[..., list[Point] | Exception | None],
        now: float,
    ) -> MetricResult:
        if overridden:
            found = points(CRASH_FREE_SESSIONS)
            if isinstance(found, Exception):
                return self._failed(CRASH_FREE_SESSIONS, found)
            return evaluate_crash_free_override(found, request, now)
        first, second = points(CRASH_FREE_SESSIONS), points(CRASH_FREE_SESSIONS, 1)
        for found in (first, second):
            if isinstance(found, Exception):
                return self._failed(CRASH_FREE_SESSIONS, found)
        assert not isinstance(first, Exception) and not isinstance(second, Exception)
        step = crash_free_step(self.settings, request.analysis)
        if request.analysis.crash_free_sessions.source is CrashFreeSource.RESTARTS:
            return evaluate_restarts_points(first, second, request, now, step)
        return evaluate_sessions_points(first, second, request, now, step)

    @staticmethod
    def _failed(metric: str, error: Exception) -> MetricResult:
        return MetricResult(metric=metric, state=AnalysisState.INCONCLUSIVE, reason=describe_failure(error))


def capture_span(
    analyzer: PrometheusAnalyzer,
    telemetry: str | None,
    targets: list[Target],
    span: timedelta,
    latency_window: timedelta,
    end: float | None = None,
) -> dict[str, SpanStats]:
    """Requests, failures and p95 windows of each target over the ``span`` before ``end``: three queries for
    all targets. A target without data gets an empty SpanStats (nothing to compare), never an error."""
    end = float(math.floor(time.time() if end is None else end))
    preset = analyzer.settings.preset(telemetry)
    match = preset.selector(targets)
    first_window_end = end - span.total_seconds() + latency_window.total_seconds()
    queries = (
        RangeQuery(preset.requests_in(match, span), end, end, span),
        RangeQuery(preset.failed_in(match, span), end, end, span),
        RangeQuery(preset.latency_p95_ms(match, latency_window), min(first_window_end, end), end, latency_window),
    )
    requests_answer, failed_answer, latency_answer = analyzer.side_by_side(
        [functools.partial(analyzer.query_range, query) for query in queries]
    )

    indexed = [
        answer if isinstance(answer, Exception) else by_target(answer)
        for answer in (requests_answer, failed_answer, latency_answer)
    ]

    def points(answer: SeriesByTarget | Exception, target: Target) -> list[float]:
        if isinstance(answer, Exception):
            return []
        return [value for _, value in series_for(answer, target) or [] if not math.isnan(value)]

    stats = {}
    for target in targets:
        requests_, failed = points(indexed[0], target), points(indexed[1], target)
        stats[f"{target[0]}/{target[1]}"] = SpanStats(
            requests=requests_[-1] if requests_ else None,
            failed=failed[-1] if failed else None,
            p95_windows_ms=tuple(points(indexed[2], target)),
        )
    return stats


def check_telemetry(analyzer: PrometheusAnalyzer, request: AnalysisRequest, at: float | None = None) -> list[Finding]:
    """Does every enabled threshold return data for every target (now, or at ``at``)? If not, say what there
    is instead."""
    settings = analyzer.settings
    preset = settings.preset(request.telemetry)
    window = rate_window(settings, request.analysis.interval)
    found = probes(preset, request, window)
    answers = analyzer.side_by_side(
        [
            functools.partial(analyzer.query_instant, probe.query, at)
            if probe.refused is None
            else functools.partial(OverrideRefused, probe.refused)
            for probe in found
        ]
    )
    # The follow-ups of every probe that found nothing, in one round as well; an override's own query is all
    # the diagnosis there is (the raw metric it reads is the user's), so it asks none.
    follow_ups = [
        (index, name, query)
        for index, (probe, answer) in enumerate(zip(found, answers, strict=True))
        if not isinstance(answer, Exception) and not answer and not probe.override
        for name, query in diagnosis_queries(probe).items()
    ]
    follow_up_answers = analyzer.side_by_side(
        [functools.partial(analyzer.series_answer_shared, question, at) for _, _, question in follow_ups]
    )
    diagnosed: dict[int, dict[str, list[str] | None]] = {}
    for (index, name, _), result in zip(follow_ups, follow_up_answers, strict=True):
        diagnosed.setdefault(index, {})[name] = None if isinstance(result, Exception) else result
    failed = [probe for probe, answer in zip(found, answers, strict=True) if not answer and probe.refused is None]
    working = working_presets(analyzer, request, failed, window, at) if failed else {}
    findings = []
    for index, (probe, answer) in enumerate(zip(found, answers, strict=True)):
        if isinstance(answer, OverrideRefused):
            message = f"{probe.threshold}: query override refused: {answer}"
            findings.append(Finding(probe.threshold, probe.target, False, message))
        elif isinstance(answer, Exception):
            message = f"{probe.threshold}: {describe_failure(answer)}"
            findings.append(Finding(probe.threshold, probe.target, False, message))
        elif answer:
            findings.append(Finding(probe.threshold, probe.target, True, ready_message(probe, answer)))
        else:
            tried = working.get((probe.threshold, probe.target), [])
            findings.append(Finding(probe.threshold, probe.target, False,
                                    diagnose(probe, diagnosed.get(index, {}), tried)))  # fmt: skip
    return findings
