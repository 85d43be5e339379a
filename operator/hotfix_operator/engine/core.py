"""The controller's core: one step of one Hotfix, and the plumbing every phase uses.

Each step reads the Hotfix fresh, does the work of its phase through the adapters, and writes the whole
status back. Actions are idempotent (images already set patch nothing; an undo to a template already
running is skipped) and intents are written before the action, so an operator killed at any point
resumes without a second rollout or a second undo. The phases live in their own modules
(``start``, ``monitoring``, ``rollback``) as mixins over this core.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hotfix_operator.analysis.prometheus import capture_span
from hotfix_operator.analysis.queries import AnalysisRequest, build_request, rate_window
from hotfix_operator.analysis.scheduler import AnalysisScheduler
from hotfix_operator.analysis.verdicts import AnalysisReport
from hotfix_operator.api.durations import format_duration
from hotfix_operator.api.models import HotfixSpec
from hotfix_operator.api.significance import detail_due, detail_period, needs_write
from hotfix_operator.api.status import AnalysisState, HotfixStatus, Phase, append_timeline, set_condition
from hotfix_operator.engine.config import DEFAULT_ENDPOINT, OperatorConfig
from hotfix_operator.engine.first_steps import EventSink, FirstSteps
from hotfix_operator.engine.guarding import PolicyGuarding
from hotfix_operator.engine.metrics import OperatorMetrics
from hotfix_operator.engine.slots import Slot, StepSlots
from hotfix_operator.kube.deployments import DeploymentClient
from hotfix_operator.kube.hotfixes import HotfixClient
from hotfix_operator.kube.identity import TenantClients
from hotfix_operator.kube.prometheus_rules import PrometheusRuleClient
from hotfix_operator.notify.alertmanager import AlertmanagerNotifier
from hotfix_operator.notify.notifier import Notifier
from hotfix_operator.notify.people_alerts import people_alerts
from hotfix_operator.rules.baseline import SpanStats
from hotfix_operator.rules.claims import ClaimBook
from hotfix_operator.rules.lifecycle import kstatus_conditions

# How often to look again while waiting on something that is not Prometheus: the analysis interval,
# but at least every 5 s and at most every second, so that a thousand Hotfixes rolling out at once do
# not poll the API server a thousand times a second.
MIN_POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 5.0
# Threads for the Prometheus work that is not an analysis (the telemetry check before a rollout, baseline
# and checkpoint spans). Their own few: a thousand Hotfixes starting at once queue here, on Prometheus'
# pace, instead of taking every thread of the pool that reads and patches Deployments (an undo among them).
PROMETHEUS_SIDE_WORKERS = 4
# Steps doing their work at once (engine/slots.py): enough to keep the API server and the thread pool busy.
STEPS_AT_ONCE = 50
# Phases whose steps analyse at every interval: /metrics' lag counts a Hotfix only while it is in one.
ANALYSING_PHASES = frozenset({Phase.ROLLING_OUT, Phase.MONITORING, Phase.FORWARD_FIX_PENDING, Phase.ROLLING_BACK})
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PlannedRequest:
    """A Hotfix's analysis request, kept between its analyses for as long as its spec and window stay."""

    generation: int | None
    opened: str
    active_since: datetime
    endpoint: str
    request: AnalysisRequest


@dataclass(frozen=True)
class Prefetched:
    """An analysis waited for before the step was built (``HotfixController.analysis_first``), and what for."""

    generation: int | None
    active_since: datetime
    report: AnalysisReport


@dataclass
class Step:
    """One reconcile of one Hotfix: what it is, what it says, and what to tell the world."""

    body: dict[str, Any]
    spec: HotfixSpec
    status: HotfixStatus
    now: datetime
    logger: logging.Logger
    written: dict[str, Any] = field(default_factory=dict)
    # The boundary of the analysis this step recorded (epoch seconds), if it recorded one.
    analysed_at: float | None = None
    slot: Slot | None = None
    prefetched: Prefetched | None = None

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def labels(self) -> dict[str, str]:
        return self.body["metadata"].get("labels") or {}

    @property
    def annotations(self) -> dict[str, str]:
        return self.body["metadata"].get("annotations") or {}

    @property
    def generation(self) -> int | None:
        return self.body["metadata"].get("generation")

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.body["metadata"]["creationTimestamp"].replace("Z", "+00:00"))


class ControllerCore:
    def __init__(
        self,
        tenants: TenantClients,
        prometheus_rules: PrometheusRuleClient,
        alertmanager: AlertmanagerNotifier | None,
        hotfixes: HotfixClient,
        scheduler: AnalysisScheduler,
        notifier: Notifier,
        post_event: EventSink,
        metrics: OperatorMetrics,
        config: OperatorConfig,
    ) -> None:
        self.tenants = tenants
        self.prometheus_rules = prometheus_rules
        self.alertmanager = alertmanager
        self.hotfixes = hotfixes
        self.scheduler = scheduler
        self.notifier = notifier
        # Steps post their Events through the start-up steps' holder (engine/first_steps.py).
        self.first_steps = FirstSteps(post_event)
        self.post_event: EventSink = self.first_steps.post_event
        self.metrics = metrics
        self.config = config
        self.phases: dict[str, str] = {}
        self.claims = ClaimBook()
        self.guarding = PolicyGuarding(tenants, hotfixes, self.claims, post_event, config)
        # When each Hotfix's status was last written by this process (monotonic seconds), and the boundary of
        # the analysis that write recorded (None: it recorded none).
        self._last_writes: dict[str, tuple[float, float | None]] = {}
        # The object as our last write returned it, until the watch has delivered that version or a newer.
        self._own_writes: dict[str, dict[str, Any]] = {}
        # The newest resourceVersion the watch delivered, per Hotfix.
        self._watched_versions: dict[str, int] = {}
        # When each Hotfix under analysis is due for its next one (epoch seconds): /metrics' lag and resume.
        self.analysis_due: dict[str, float] = {}
        self.step_slots = StepSlots(STEPS_AT_ONCE)
        # Per Hotfix between its steps: its analysis request, planned once per spec and window.
        self._planned_requests: dict[str, PlannedRequest] = {}
        metrics.track(lambda: self.phases, lambda: self.analysis_due)
        self._prometheus_side_pool = ThreadPoolExecutor(PROMETHEUS_SIDE_WORKERS, thread_name_prefix="prometheus-side")

    # -- plumbing --------------------------------------------------------------------------

    @staticmethod
    async def _io(function: Callable[..., T], *args: Any) -> T:
        """Run a blocking adapter call off the event loop."""
        return await asyncio.to_thread(function, *args)

    async def _prometheus_io(self, function: Callable[..., T], *args: Any) -> T:
        """Run a blocking Prometheus call that is not an analysis on the side pool."""
        call = functools.partial(function, *args)
        return await asyncio.get_running_loop().run_in_executor(self._prometheus_side_pool, call)

    async def _save(self, step: Step) -> None:
        step.status.observed_generation = step.generation
        self._kstatus_conditions(step)
        status = step.status.to_api()
        written_at, written_boundary = self._last_writes.get(step.key, (None, None))
        age = None if written_at is None else time.monotonic() - written_at
        period = detail_period(
            self.config.status_detail_seconds, len(self.analysis_due), self.config.status_detail_writes_per_second
        )
        interval = step.spec.analysis.interval.total_seconds() if step.analysed_at is not None else None
        detail_is_due = detail_due(step.key, age, period, step.analysed_at, interval, written_boundary)
        if needs_write(step.written, status, detail_is_due):
            written = await self._io(self.hotfixes.write_status, step.body, status)
            # The watch may deliver this write before the step resumes here: keep a copy only if it did not.
            if _resource_version(written) > self._watched_versions.get(step.key, 0):
                self._own_writes[step.key] = written
            step.written = status
            self._last_writes[step.key] = (time.monotonic(), step.analysed_at)
        if step.status.phase is not None:
            self.phases[step.key] = step.status.phase.value
        if step.analysed_at is None or step.status.phase not in ANALYSING_PHASES:
            self.analysis_due.pop(step.key, None)

    def freshest(self, live: dict[str, Any]) -> dict[str, Any]:
        """The newest known version of a Hotfix: the watch's live body, or our own last write when the watch
        has not delivered it yet (a step right after a write must see what that write said). No GET."""
        key = f"{live['metadata']['namespace']}/{live['metadata']['name']}"
        own = self._own_writes.get(key)
        if own is None:
            return live
        if _resource_version(own) > _resource_version(live):
            return own
        del self._own_writes[key]
        return live

    def watched(self, namespace: str, name: str, body: Mapping[str, Any]) -> None:
        """The watch delivered this version: drop our own last write if it is no newer, rather than keep a
        second copy of every Hotfix until its next step (one interval, for thousands of Hotfixes)."""
        key = f"{namespace}/{name}"
        phase = (body.get("status") or {}).get("phase")
        if phase is not None and key in self.phases:
            # The gauge follows the Hotfix itself: a step cancelled in its terminal write never records it.
            self.phases[key] = phase
        if key not in self._last_writes:
            return  # not written by this process, or settled: nothing to compare, nothing to keep
        version = self._watched_versions[key] = _resource_version(body)
        own = self._own_writes.get(key)
        if own is not None and _resource_version(own) <= version:
            del self._own_writes[key]

    def _kstatus_conditions(self, step: Step) -> None:
        """Ready, Reconciling and Stalled from the phase, in the shape kstatus (Flux) reads."""
        if step.status.phase is None:
            return
        succeeded = next((c for c in step.status.conditions if c.type == "Succeeded"), None)
        reason, message = (succeeded.reason, succeeded.message) if succeeded else ("", "")
        for type_, status, why, text in kstatus_conditions(step.status.phase, reason, message):
            self._condition(step, type_, status, why, text)

    def _note(
        self,
        step: Step,
        kind: str,
        message: str,
        *,
        rule: str | None = None,
        warning: bool = False,
        notify: bool = False,
    ) -> None:
        """Timeline entry, Kubernetes Event, log line and (optionally) a war-room notification."""
        step.status.timeline = append_timeline(step.status.timeline, step.now, kind, message, rule)
        # Event messages must be one line.
        self.post_event(step.body, type="Warning" if warning else "Normal", reason=kind, message=message[:1000])
        (step.logger.warning if warning else step.logger.info)("%s: %s", kind, message)
        if notify:
            self.notifier.notify(step.body, step.spec, kind, message, step.logger)

    def _condition(self, step: Step, type_: str, status: str, reason: str, message: str = "") -> None:
        step.status.conditions = set_condition(
            step.status.conditions, type_, status, reason, message, step.now, step.generation
        )

    def _set_phase(self, step: Step, phase: Phase) -> None:
        if step.status.phase is not phase:
            step.logger.info("phase %s -> %s", step.status.phase.value if step.status.phase else "-", phase.value)
        step.status.phase = phase

    def _escalate(self, step: Step, reason: str, message: str) -> None:
        self._set_phase(step, Phase.ESCALATED)
        self._condition(step, "Succeeded", "False", reason, message)
        self.metrics.escalations.labels(reason=reason).inc()
        self._note(step, "Escalated", f"{message}; a person must act, no further automatic action", warning=True,
                   notify=True)  # fmt: skip

    def _superseded(self, step: Step, newer: str) -> None:
        deployments = ", ".join(target.deployment for target in step.spec.targets)
        message = f"{deployments} changed again: Hotfix {newer} guards the newer revision"
        self._set_phase(step, Phase.SUPERSEDED)
        self._condition(step, "Succeeded", "False", "Superseded", message)
        self._note(step, "Superseded", message)

    def _fail(self, step: Step, reason: str, message: str) -> None:
        self._set_phase(step, Phase.FAILED)
        self._condition(step, "Succeeded", "False", reason, message)
        self._note(step, "Failed", message, warning=True)

    def settled(self, namespace: str, name: str) -> None:
        """The Hotfix needs no more steps: keep nothing of its writes (thousands may finish in a day)."""
        self._last_writes.pop(f"{namespace}/{name}", None)
        self._own_writes.pop(f"{namespace}/{name}", None)
        self._watched_versions.pop(f"{namespace}/{name}", None)
        self.analysis_due.pop(f"{namespace}/{name}", None)
        self._planned_requests.pop(f"{namespace}/{name}", None)

    def forget(self, namespace: str, name: str) -> None:
        """The Hotfix is gone: resolve its alerts and drop it from the phase gauge."""
        self.phases.pop(f"{namespace}/{name}", None)
        self.settled(namespace, name)
        self.first_steps.forget(namespace, name)
        if self.alertmanager is not None:
            self.alertmanager.forget(f"{namespace}/{name}")

    def _sync_people_alerts(self, body: dict[str, Any], spec: HotfixSpec, status: HotfixStatus) -> None:
        """Hand Alertmanager the decisions of this Hotfix that need people now (when configured)."""
        if self.alertmanager is None:
            return
        metadata = body["metadata"]
        alerts = people_alerts(metadata, spec, status, dict(self.config.alert_severities))
        self.alertmanager.sync(f"{metadata['namespace']}/{metadata['name']}", alerts)

    def _deployments(self, step: Step) -> DeploymentClient:
        """Deployments as the Hotfix's ServiceAccount (impersonated) when it names one."""
        return self.tenants.deployments(step.namespace, step.spec.service_account_name or None)

    def _identity_problem(self, step: Step) -> str | None:
        """Why the Hotfix may not be acted on for lack of a tenant identity; None when it may."""
        if self.config.require_service_account and not step.spec.service_account_name:
            return (
                "spec.serviceAccountName: this operator acts only with the tenant's rights; name a ServiceAccount "
                f"of namespace {step.namespace} that may patch the target Deployments"
            )
        return None

    def _endpoint(self, spec: HotfixSpec) -> str:
        """The Prometheus endpoint a Hotfix names (or the default); only the operator's own exist."""
        return spec.analysis.prometheus or DEFAULT_ENDPOINT

    def _unknown_endpoint(self, spec: HotfixSpec) -> str | None:
        """Why the Hotfix's endpoint cannot be used, naming the field; None when it can."""
        endpoint = self._endpoint(spec)
        if endpoint in self.config.prometheus_endpoints:
            return None
        known = ", ".join(sorted(self.config.prometheus_endpoints)) or "none (set HOTFIX_PROMETHEUS_URL)"
        return f'spec.analysis.prometheus: the operator has no Prometheus endpoint "{endpoint}"; it has: {known}'

    def _analysis_request(self, step: Step, active_since: datetime) -> AnalysisRequest:
        return self._request_for(step.key, step.namespace, step.spec, active_since)

    def _request_for(self, key: str, namespace: str, spec: HotfixSpec, active_since: datetime) -> AnalysisRequest:
        return build_request(
            self.config.query_settings,
            key,
            tuple((namespace, target.deployment) for target in spec.targets),
            spec.analysis,
            active_since.timestamp(),
        )

    async def _span_stats(self, step: Step, span: timedelta) -> dict[str, SpanStats]:
        """Each target's requests, failures and p95 windows over the last ``span``; empty when unknown."""
        if self._unknown_endpoint(step.spec):
            return {}
        targets = [(step.namespace, target.deployment) for target in step.spec.targets]
        analysis = step.spec.analysis
        try:
            return await self._prometheus_io(
                capture_span,
                self.scheduler.analyzer_for(self._endpoint(step.spec)),
                analysis.telemetry,
                targets,
                span,
                analysis.latency_p95.window,
            )
        except Exception as error:  # a comparison is evidence, not a precondition: never stop a hotfix on it
            step.logger.warning("span statistics not captured: %s", error)
            return {}

    async def _analyze(self, step: Step, active_since: datetime) -> AnalysisReport:
        prefetched, step.prefetched = step.prefetched, None
        if prefetched and (prefetched.generation, prefetched.active_since) == (step.generation, active_since):
            report = prefetched.report
        else:
            report = await self._next_report(step, active_since)
        step.now = utcnow()
        step.analysed_at = report.at
        self.analysis_due[step.key] = report.at + max(step.spec.analysis.interval.total_seconds(), 1.0)
        step.status.last_analysis = {
            "at": datetime.fromtimestamp(report.at, UTC).isoformat(),
            "result": report.result.value,
            "summary": report.summary()[:2000],
            # What a report needs to chart the error rate as it was judged here.
            "rateWindow": format_duration(rate_window(self.config.query_settings, step.spec.analysis.interval)),
            "metrics": {
                target: [result.model_dump(mode="json", exclude_none=True) for result in results]
                for target, results in report.metrics.items()
            },
        }
        return report

    async def _next_report(self, step: Step, active_since: datetime) -> AnalysisReport:
        request = self._analysis_request(step, active_since)
        assert step.slot is not None, "every step with a spec runs in a slot"
        async with step.slot.given_up():
            return await self.scheduler.next_report(self._endpoint(step.spec), request)


def _resource_version(body: Mapping[str, Any]) -> int:
    """etcd's revision behind ``resourceVersion``: ordered, as the Kubernetes API itself compares them for
    watches from etcd; an unreadable one counts as oldest."""
    try:
        return int(body["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


def poll_delay(step: Step) -> float:
    return min(max(step.spec.analysis.interval.total_seconds(), MIN_POLL_SECONDS), MAX_POLL_SECONDS)


def health_condition(report: AnalysisReport) -> tuple[str, str, str]:
    if report.result is AnalysisState.HEALTHY:
        return "True", "WithinThresholds", report.summary()
    if report.result is AnalysisState.BREACHED:
        return "False", "ThresholdBreached", report.summary()
    reasons = {AnalysisState.PENDING: "AnalysisPending", AnalysisState.NO_TRAFFIC: "NoTraffic"}
    reason = reasons.get(report.result, "TelemetryMissing")
    return "Unknown", reason, report.summary()


def camel_case(rule: str) -> str:
    return "".join(part.capitalize() for part in rule.split("-"))


def duration_text(value: timedelta) -> str:
    return format_duration(value)


# Bounded: the status is an etcd object, and a median needs no more.
MAX_STORED_WINDOWS = 120


def baseline_span(spec: HotfixSpec) -> timedelta:
    """The pre-hotfix span the checkpoints compare against: as long as the first checkpoint's span."""
    return max(spec.stability.checkpoints[0], spec.analysis.error_rate.for_)


def span_stats_to_status(stats: SpanStats) -> dict[str, Any]:
    return {
        "requests": stats.requests,
        "failed": stats.failed,
        "errorRate": stats.error_rate,
        "latencyP95Ms": stats.p95_ms,
        "latencyP95WindowsMs": [round(value, 3) for value in stats.p95_windows_ms[-MAX_STORED_WINDOWS:]],
    }


def span_stats_from_status(recorded: dict[str, Any] | None) -> SpanStats | None:
    if not recorded or recorded.get("requests") is None:
        return None
    return SpanStats(
        requests=recorded.get("requests"),
        failed=recorded.get("failed"),
        p95_windows_ms=tuple(recorded.get("latencyP95WindowsMs") or ()),
    )
