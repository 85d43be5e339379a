"""The Hotfix controller: one reconcile step dispatches to the work of the current phase."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime
from typing import Any

from hotfix_operator.analysis.scheduler import boundary_offset, catch_up_boundary, resume_boundary, until_due
from hotfix_operator.analysis.tenant_queries import has_overrides, override_problem
from hotfix_operator.api.models import HotfixSpec, SpecError, parse_spec
from hotfix_operator.api.status import TERMINAL_PHASES, AnalysisState, HotfixStatus, Phase, append_timeline
from hotfix_operator.engine.alerting import AlertRulePublishing
from hotfix_operator.engine.core import PlannedRequest, Prefetched, Step, utcnow
from hotfix_operator.engine.failing_rollouts import FailingRollouts
from hotfix_operator.engine.monitoring import MonitoringPhases
from hotfix_operator.engine.rollback import RollbackPhases
from hotfix_operator.engine.slots import Slot
from hotfix_operator.engine.start import StartPhases
from hotfix_operator.kube.hotfixes import HotfixGone
from hotfix_operator.rules.lifecycle import ABORT_REQUEST, ROLLBACK_REQUEST, ROLLBACK_REQUESTED_BY, SUPERSEDED_BY

# Phases whose step waits for the next aligned analysis.
ANALYSED_PHASES = frozenset({Phase.MONITORING, Phase.FORWARD_FIX_PENDING})
# Annotations a step acts on before (or instead of) its analysis: a Hotfix carrying one is not analysed first.
ACTED_ON_FIRST = (ABORT_REQUEST, SUPERSEDED_BY, ROLLBACK_REQUEST, ROLLBACK_REQUESTED_BY)


class HotfixController(StartPhases, FailingRollouts, MonitoringPhases, RollbackPhases, AlertRulePublishing):
    def resume_finished(self, body: dict[str, Any]) -> None:
        """A Hotfix that needs no more steps (after an operator restart, say): count it, and keep its
        escalation paging until the Hotfix is deleted."""
        status = HotfixStatus.from_api(body.get("status"))
        if status.phase is not None:
            self.phases[f"{body['metadata']['namespace']}/{body['metadata']['name']}"] = status.phase.value
        with contextlib.suppress(SpecError):
            self._sync_people_alerts(body, parse_spec(body.get("spec") or {}), status)

    async def analysis_first(self, body: dict[str, Any]) -> Prefetched | None:
        """For a Hotfix in an analysed phase with nothing else to do first: wait for its next analysis before its
        step is built, holding a query request (a few hundred bytes) instead of the whole parsed Hotfix while
        thousands of Hotfixes wait for the same boundary. None: the step analyses itself, if at all."""
        metadata, status = body["metadata"], body.get("status") or {}
        key = f"{metadata['namespace']}/{metadata['name']}"
        if status.get("phase") not in {phase.value for phase in ANALYSED_PHASES}:
            return None
        annotations = metadata.get("annotations") or {}
        generation = metadata.get("generation")
        if any(name in annotations for name in ACTED_ON_FIRST) or status.get("observedGeneration") != generation:
            return None  # an abort, a hand-over, a rollback request or a spec change is acted on at once
        opened = status.get("rolloutStartedAt") or status.get("rolloutCompletedAt")
        if opened is None:
            return None
        planned = self._planned_requests.get(key)
        if planned is None or planned.generation != generation or planned.opened != opened:
            # Parsed once per spec and window, not at every interval: thousands of Hotfixes wake together.
            planned = self._plan_request(key, metadata, body.get("spec") or {}, opened)
            if planned is None:
                return None
            self._planned_requests[key] = planned
        # The boundary the daemon slept towards is when this analysis was due: a late wake-up still gets it.
        # One this process has not analysed yet catches up on a boundary it missed while no process ran.
        due = self.analysis_due.get(key)
        interval = planned.request.analysis.interval.total_seconds()
        offset = boundary_offset(key, interval)
        if due is None:
            due = resume_boundary(time.time(), interval, _analysed_at(status), planned.request.active_since, offset)
        else:
            due = catch_up_boundary(time.time(), due, interval, offset)
        report = await self.scheduler.next_report(planned.endpoint, planned.request, due)
        return Prefetched(generation=generation, active_since=planned.active_since, report=report)

    def _plan_request(
        self, key: str, metadata: dict[str, Any], spec_body: dict[str, Any], opened: str
    ) -> PlannedRequest | None:
        try:
            spec = parse_spec(spec_body)
        except SpecError:
            return None
        if self._unknown_endpoint(spec) or self._override_refusal(metadata["namespace"], spec):
            return None
        active_since = datetime.fromisoformat(opened.replace("Z", "+00:00"))
        request = self._request_for(key, metadata["namespace"], spec, active_since)
        return PlannedRequest(metadata.get("generation"), opened, active_since, self._endpoint(spec), request)

    def _override_refusal(self, namespace: str, spec: HotfixSpec) -> str | None:
        """Why the Hotfix's query overrides may not run (one could read another namespace, or overrides are off)."""
        if not has_overrides(spec.analysis):
            return None  # nearly every Hotfix, at every step: no preset looked up, nothing parsed
        settings = self.config.query_settings
        return override_problem(
            spec.analysis,
            namespace,
            [target.deployment for target in spec.targets],
            settings.preset(spec.analysis.telemetry).namespace_label,
            settings.allow_overrides,
        )

    async def _fail_unusable_spec(
        self, body: dict[str, Any], status: HotfixStatus, logger: logging.Logger, reason: str, message: str
    ) -> None:
        """Failed, whatever the phase, on a spec this operator cannot act on: nothing more is done for it."""
        step = Step(body=body, spec=None, status=status, now=utcnow(), logger=logger)  # type: ignore[arg-type]
        step.written = body.get("status") or {}
        self._set_phase(step, Phase.FAILED)
        self._condition(step, "Succeeded", "False", reason, message)
        step.status.timeline = append_timeline(status.timeline, step.now, "Failed", message)
        self.post_event(body, type="Warning", reason=reason, message=message[:1000])
        await self._save(step)

    async def first_step(self, body: dict[str, Any], logger: logging.Logger) -> None:
        """The first step of a Hotfix no operator has handled yet, at start-up (engine/first_steps.py); its
        daemon does the next ones, whatever this one returns, and retries a step that failed."""
        try:
            await self.reconcile(self.freshest(body), logger)
        except HotfixGone:
            pass
        except Exception as error:  # the daemon's own first step comes next
            logger.warning("first step at start-up failed; the Hotfix's own steps go on: %s", error)
        finally:
            self.first_steps.finished(body)

    async def reconcile(
        self, body: dict[str, Any], logger: logging.Logger, prefetched: Prefetched | None = None
    ) -> float | None:
        """Do the current phase's work; return seconds until the next step, or None when done."""
        # Recording an analysis that found no breach can wait for the steps a rollout, a breach or a person needs.
        routine = prefetched is not None and prefetched.report.result is not AnalysisState.BREACHED
        async with self.step_slots.slot(routine) as slot:
            return await self._reconcile(body, logger, slot, prefetched)

    async def _reconcile(
        self, body: dict[str, Any], logger: logging.Logger, slot: Slot, prefetched: Prefetched | None
    ) -> float | None:
        status = HotfixStatus.from_api(body.get("status"))
        if status.phase in TERMINAL_PHASES and not status.open_holds():
            self.resume_finished(body)
            return None
        try:
            spec = parse_spec(body.get("spec") or {})
        except SpecError as error:
            await self._fail_unusable_spec(body, status, logger, "InvalidSpec", f"invalid spec: {error}")
            return None
        # Checked at every step, not only before the rollout: an edit may bring an override in at any time.
        refused = self._override_refusal(body["metadata"]["namespace"], spec)
        if refused is not None:
            await self._fail_unusable_spec(body, status, logger, "QueryOverrideRefused", refused)
            return None
        # What the API server holds is what was written: compared as it is, not dumped again from its parsed
        # form (a tenth of a routine step). A status in another shape than ours is written once in ours. It
        # shares nested dicts with ``step.status``: a step assigns status fields, never changes them in place.
        step = Step(body=body, spec=spec, status=status, now=utcnow(), logger=logger,
                    written=body.get("status") or {}, slot=slot, prefetched=prefetched)  # fmt: skip
        abort = step.annotations.get(ABORT_REQUEST)
        if abort is not None:
            if step.status.phase not in TERMINAL_PHASES:
                self._escalate(step, "Aborted", f"aborted by {abort or 'someone'} (annotation {ABORT_REQUEST})")
            holding = await self._tend_gitops(step)
            self._sync_people_alerts(step.body, step.spec, step.status)
            await self._save(step)
            return holding
        phase = status.phase or Phase.PENDING
        superseded_by = step.annotations.get(SUPERSEDED_BY)
        if superseded_by and phase is not Phase.ROLLING_BACK:
            # A rollback under way is never stopped half-way: it is superseded once it has ended.
            self._superseded(step, superseded_by)
            self._sync_people_alerts(step.body, step.spec, step.status)
            await self._save(step)
            return None
        handlers = {
            Phase.PENDING: self._pending,
            Phase.AWAITING_APPROVAL: self._awaiting_approval,
            Phase.ROLLING_OUT: self._rolling_out,
            Phase.MONITORING: self._monitoring,
            Phase.FORWARD_FIX_PENDING: self._monitoring,
            Phase.ROLLING_BACK: self._rolling_back,
            Phase.ROLLED_BACK: self._rolled_back,
        }
        # A finished Hotfix steps on only while it holds a GitOps owner for its rollback.
        delay = await handlers.get(phase, self._tend_gitops)(step)
        await self._sync_alert_rules(step)
        # Before the write: a terminal phase's own status event ends this daemon, possibly at that await.
        self._sync_people_alerts(step.body, step.spec, step.status)
        await self._save(step)
        if step.status.phase in TERMINAL_PHASES:
            return delay if phase in TERMINAL_PHASES else self._holding_delay(step)
        if delay == 0.0 and step.status.phase in ANALYSED_PHASES and phase in ANALYSED_PHASES:
            # The next step's analysis runs at the boundary it is due at: sleep until just before it rather
            # than wait for it inside the step, which would hold the step's copy of the Hotfix all along
            # (a copy for every Hotfix at once, thousands of them); at once when it has passed already.
            interval = step.spec.analysis.interval.total_seconds()
            offset = boundary_offset(step.key, interval)
            return until_due(time.time(), self.analysis_due.get(step.key), interval, offset)
        return delay


def _analysed_at(status: dict[str, Any]) -> float | None:
    """When the status says the Hotfix was last analysed (epoch seconds); None when it does not say."""
    at = (status.get("lastAnalysis") or {}).get("at")
    try:
        return datetime.fromisoformat(str(at).replace("Z", "+00:00")).timestamp() if at else None
    except ValueError:
        return None
