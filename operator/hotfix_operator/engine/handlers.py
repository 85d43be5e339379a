"""Kopf registration: one daemon per Hotfix drives the controller, which engine/boot.py built before Kopf.

Thin on purpose: everything that decides lives in the controller and the pure modules below it.
"""

from __future__ import annotations

import contextlib
import logging
import random
from datetime import UTC, datetime
from typing import Any

import kopf

from hotfix_operator.api.models import GROUP, PLURAL, VERSION, SpecError, parse_spec
from hotfix_operator.api.policy import POLICY_PLURAL
from hotfix_operator.api.status import TERMINAL_PHASES, HotfixStatus, Phase
from hotfix_operator.engine.boot import PEERING_LIFETIME_SECONDS, RUNTIME
from hotfix_operator.engine.controller import HotfixController
from hotfix_operator.engine.diffbase import LeanAnnotationsDiffBaseStorage
from hotfix_operator.engine.memory import freeze_start_up_objects
from hotfix_operator.kube.hotfixes import HotfixGone
from hotfix_operator.kube.unavailable import ApiUnavailable, as_unavailable
from hotfix_operator.rules.lifecycle import rolled_back_watch_ends

# A failed step (a bug, an unexpected answer) is retried after this long instead of ending the daemon.
ERROR_RETRY_SECONDS = 5.0
# A step that met an unavailable API server (and no Retry-After) comes back within this long.
UNAVAILABLE_RETRY_SECONDS = 5.0


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Kopf's settings; the adapters and the first steps of new Hotfixes came before Kopf (engine/boot.py)."""
    logging.getLogger("kopf.objects").addFilter(_quiet_claim_tracking)
    settings.posting.reporting_component = "hotfix-operator"
    settings.posting.event_name_prefix = "hotfix-"
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    # Kopf builds every object's essence at every event (a daemon's idle timer resets on a change of it).
    settings.persistence.diffbase_storage = LeanAnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # The keep-alive the start-up steps wrote into the peering object says the same lifetime.
    settings.peering.lifetime = PEERING_LIFETIME_SECONDS
    # Least privilege: the operator needs no list/watch on CRDs or namespaces.
    settings.scanning.disabled = True
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 310
    freeze_start_up_objects()


@kopf.on.login()
def login(**_: Any) -> kopf.ConnectionInfo:
    """Kopf's watches use the credentials the operator's own calls use (its own login would read them through
    the ``kubernetes`` package when installed, which this process does not load); Kopf logs in again with a
    fresh token when the API server refuses one."""
    credentials = RUNTIME.credentials
    assert credentials is not None, "the start-up (engine/boot.py) reads the credentials before Kopf runs"
    credentials.expire_token()
    return kopf.ConnectionInfo(
        server=credentials.server,
        ca_path=credentials.ca_file,
        insecure=credentials.insecure,
        token=credentials.bearer_token(),
        certificate_path=credentials.client_cert[0] if credentials.client_cert else None,
        private_key_path=credentials.client_cert[1] if credentials.client_cert else None,
        default_namespace=credentials.default_namespace,
        proxy_url=credentials.proxy_url,
    )


def _not_finished(spec: dict[str, Any], status: dict[str, Any], **_: Any) -> bool:
    """A daemon only for a Hotfix with work left: not terminal, nor rolled back past its watch, unless it
    still holds a GitOps owner for its rollback."""
    if any(not hold.get("refused") and not hold.get("resumedAt") for hold in status.get("gitops") or []):
        return True
    if status.get("phase") in {phase.value for phase in TERMINAL_PHASES}:
        return False
    if status.get("phase") == Phase.ROLLED_BACK.value:
        with contextlib.suppress(SpecError):
            ends = rolled_back_watch_ends(parse_spec(dict(spec)), HotfixStatus.from_api(dict(status)))
            return ends is None or datetime.now(UTC) < ends
    return True


@kopf.daemon(GROUP, VERSION, PLURAL, when=_not_finished, cancellation_timeout=2.0, initial_delay=0)
async def drive_hotfix(
    namespace: str, name: str, body: kopf.Body, stopped: kopf.DaemonStopped, logger: logging.Logger, **_: Any
) -> None:
    controller = RUNTIME.controller
    assert controller is not None
    try:
        await _drive(controller, namespace, name, body, stopped, logger)
    finally:
        # However the daemon ends, this process no longer analyses the Hotfix, and nothing it keeps may say
        # otherwise: a step in flight when the Hotfix was deleted may count it again after it was forgotten,
        # and a step cancelled in its status write (its own terminal event stops the daemon)
        # never gets to drop it from the lag gauge. Its people alerts stay as its last step left them.
        if stopped.reason is not None and stopped.reason & kopf.DaemonStoppingReason.RESOURCE_DELETED:
            controller.forget(namespace, name)
        else:
            controller.settled(namespace, name)


async def _drive(
    controller: HotfixController,
    namespace: str,
    name: str,
    body: kopf.Body,
    stopped: kopf.DaemonStopped,
    logger: logging.Logger,
) -> None:
    await controller.first_steps.hand_over(namespace, name)
    while not stopped:
        try:
            # Kopf keeps the daemon's body live from the watch: a step reads no object of its own. Kopf swaps
            # in each new event's object rather than changing the old one, so the top-level snapshot is
            # stable for the whole step without a deep copy (a second copy of every Hotfix while its step
            # waits for the analysis); passed, not kept, so that it is not held while the daemon sleeps. A
            # Monitoring Hotfix waits for its analysis first, and reads its body again once it has it.
            prefetched = await controller.analysis_first(controller.freshest(dict(body)))
            delay = await controller.reconcile(controller.freshest(dict(body)), logger, prefetched)
        except HotfixGone:
            controller.forget(namespace, name)
            return
        except Exception as error:  # one Hotfix's trouble must never take the operator (or the others) down
            delay = retry_delay(error, namespace, name, logger)
        if delay is None:
            controller.settled(namespace, name)
            return
        if delay > 0:
            await stopped.wait(delay)


def retry_delay(error: Exception, namespace: str, name: str, logger: logging.Logger) -> float:
    """How long a failed step waits before the next: the API server's Retry-After when it gave one.

    A passing API fault (429, 5xx, refused or cut connection) is logged as such, without a trace; the
    spread keeps a thousand Hotfixes from coming back at the same instant after an outage.
    """
    unavailable = error if isinstance(error, ApiUnavailable) else as_unavailable(error, f"hotfix {namespace}/{name}")
    if unavailable is None:
        logger.exception("step failed; retrying in %.0fs", ERROR_RETRY_SECONDS)
        return ERROR_RETRY_SECONDS
    if RUNTIME.controller is not None:
        RUNTIME.controller.metrics.api_unavailable.inc()
    delay = unavailable.retry_after
    if delay is None:
        delay = random.uniform(UNAVAILABLE_RETRY_SECONDS / 2, UNAVAILABLE_RETRY_SECONDS)
    logger.warning("API server unavailable, retrying in %.1fs: %s", delay, unavailable)
    return delay


# Event handlers run on every watch event; Kopf's line per success would drown the log.
QUIET_HANDLERS = ("track_claims", "track_policies", "guard_deployments")


def _quiet_claim_tracking(record: logging.LogRecord) -> bool:
    """Kopf logs each event handler's success; for the claim book that is a line per status write."""
    message = record.getMessage()
    return not any(f"'{handler}' succeeded" in message for handler in QUIET_HANDLERS)


# Only watch-event handlers and the daemon, no change handlers (on.create/update/resume/delete): for those Kopf
# keeps a diff-base annotation on each object, loads its progress and formats the whole object for a debug
# line at every event: a fifth of its time per Hotfix listed at a restart amid 1,000 of them.
@kopf.on.event(GROUP, VERSION, PLURAL)
async def track_claims(event: dict[str, Any], namespace: str, name: str, body: kopf.Body, **_: Any) -> None:
    """Which Hotfix holds which Deployments, from the watch itself (one Hotfix per Deployment at a time); the
    moment the watch delivers our own last write, the copy of it is no longer needed; a finished Hotfix found
    by the operator's initial listing is counted, and a deleted one forgotten.

    A coroutine: in-memory work only, run on the event loop rather than handed to a thread at every event."""
    controller = RUNTIME.controller
    assert controller is not None
    if event.get("type") == "DELETED":
        controller.claims.gone(namespace, name)
        controller.guarding.hotfix_gone(namespace, name)
        # No finalizer for this: a deleted Hotfix only resolves its alerts; its PrometheusRule goes with it.
        controller.forget(namespace, name)
        return
    controller.claims.seen(namespace, dict(body))
    controller.guarding.hotfix_seen(namespace, body)
    controller.watched(namespace, name, body)
    # A Hotfix its start-up step finished has no daemon to post that step's Events: this task of Kopf's does.
    controller.first_steps.release(namespace, name)
    if event.get("type") is None and not _not_finished(body.get("spec") or {}, body.get("status") or {}):
        controller.resume_finished(dict(body))


@kopf.on.event(GROUP, VERSION, POLICY_PLURAL)
async def track_policies(event: dict[str, Any], namespace: str, name: str, body: kopf.Body, **_: Any) -> None:
    """The policies by namespace, from the watch; a policy whose spec does not parse says so in an Event."""
    controller = RUNTIME.controller
    assert controller is not None
    if event.get("type") == "DELETED":
        controller.guarding.policy_gone(namespace, name)
        return
    known = controller.guarding.policies.get(namespace, {}).get(name)
    problem = controller.guarding.policy_seen(dict(body))
    if problem is not None and str(problem) != str(known):
        kopf.warn(body, reason="InvalidSpec", message=str(problem)[:1000])


@kopf.on.event("apps", "v1", "deployments")
async def guard_deployments(event: dict[str, Any], body: kopf.Body, logger: logging.Logger, **_: Any) -> None:
    """A new revision of a Deployment a policy selects gets a guard Hotfix; anything else costs no API call."""
    controller = RUNTIME.controller
    assert controller is not None
    try:
        await controller.guarding.deployment_seen(str(event.get("type")), dict(body), logger)
    except Exception as error:  # a failed guard must not stop the watch of every other Deployment
        unavailable = as_unavailable(error, "guarding a deployment")
        if unavailable is None:
            logger.exception("guarding failed")
        else:
            logger.warning("API server unavailable while guarding: %s", unavailable)


@kopf.on.probe(id="hotfixes")
def hotfix_count(**_: Any) -> int:
    return len(RUNTIME.controller.phases) if RUNTIME.controller else 0
