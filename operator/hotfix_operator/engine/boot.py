"""Start-up before Kopf: the adapters wired, /metrics served, and the first step of each new Hotfix, all before
Kopf is imported.

Restart to first reconcile is mostly the interpreter importing code: some 0.65 s for the operator's own
modules and 0.4 s more for Kopf (aiohttp and the TLS contexts it builds at import). A Hotfix applied while no
operator ran needs only the former for its first step (engine/first_steps.py), so ``hotfix-operator run``
starts here and imports Kopf after these steps. Nothing here imports Kopf (a contract in pyproject.toml):
the Event sink comes from the caller (the Events of a start-up step are held until the Hotfix's daemon, a
task of Kopf's, takes it over), and the log records made here are replayed once Kopf's logging is set up.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hotfix_operator.analysis.prometheus import PrometheusAnalyzer, connect
from hotfix_operator.analysis.scheduler import AnalysisScheduler
from hotfix_operator.engine.config import OperatorConfig
from hotfix_operator.engine.controller import HotfixController
from hotfix_operator.engine.first_steps import (
    FIRST_STEPS_WAIT_SECONDS,
    EventSink,
    Peering,
    list_at_start_up,
    peering_objection,
)
from hotfix_operator.engine.memory import limit_arenas, trim_periodically
from hotfix_operator.engine.metrics import OperatorMetrics
from hotfix_operator.kube.api import KubeApi
from hotfix_operator.kube.credentials import Credentials, CredentialsError, load_credentials
from hotfix_operator.kube.hotfixes import NAMESPACE_NAME, HotfixClient
from hotfix_operator.kube.identity import TenantClients
from hotfix_operator.kube.peering import PeeringClient
from hotfix_operator.kube.prometheus_rules import PrometheusRuleClient
from hotfix_operator.notify.alertmanager import AlertmanagerNotifier
from hotfix_operator.notify.notifier import Notifier

# Kopf's peering keep-alive lifetime, set on Kopf's settings too: the start-up's own keep-alive says the same.
PEERING_LIFETIME_SECONDS = 60
# Kopf's logger of per-object lines: the start-up steps log through it, in the same shape as Kopf's own.
OBJECT_LOGGER = "kopf.objects"
log = logging.getLogger("hotfix_operator")


@dataclass
class Runtime:
    config: OperatorConfig
    controller: HotfixController | None = None
    # Read once, before Kopf starts, for the operator's own calls and for Kopf's login.
    credentials: Credentials | None = None
    # The namespaces given to ``run`` (empty: cluster-wide), for the start-up listing of new Hotfixes.
    namespaces: list[str] = field(default_factory=list)
    # This replica's identity in Kopf's peering, given to Kopf too (its keep-alives and the start-up's agree).
    peering_identity: str | None = None
    background: list[asyncio.Future[Any]] = field(default_factory=list)


RUNTIME = Runtime(config=OperatorConfig())


class StartUpError(Exception):
    """The operator cannot start: no credentials, or /metrics' port cannot be bound. The message says which."""


def build_controller(operator_config: OperatorConfig, api: KubeApi, post_event: EventSink) -> HotfixController:
    metrics = OperatorMetrics()
    analyzers: dict[str, PrometheusAnalyzer] = {}

    def analyzer_for(endpoint: str) -> PrometheusAnalyzer:
        # One analyzer (and connection pool) per endpoint: Hotfixes sharing one are batched together. Only
        # endpoints of the operator's own configuration exist; the controller refuses any other name.
        if endpoint not in analyzers:
            settings = operator_config.prometheus_endpoints[endpoint]
            analyzers[endpoint] = PrometheusAnalyzer(
                connect(settings), operator_config.query_settings, metrics.observe_query, settings.timeout_seconds
            )
        return analyzers[endpoint]

    hotfixes = HotfixClient(api)
    tenants = TenantClients(api)
    return HotfixController(
        tenants=tenants,
        prometheus_rules=PrometheusRuleClient(api),
        alertmanager=AlertmanagerNotifier(operator_config.alertmanager) if operator_config.alertmanager else None,
        hotfixes=hotfixes,
        scheduler=AnalysisScheduler(analyzer_for),
        notifier=Notifier(tenants.read_secret_value, operator_config.notify_timeout_seconds),
        post_event=post_event,
        metrics=metrics,
        config=operator_config,
    )


def object_logger(body: dict[str, Any]) -> logging.LoggerAdapter[logging.Logger]:
    """A Hotfix's logger for its start-up step: the record Kopf's local object logger makes (the object's
    reference, the JSON line's ``object``; not posted as an Event)."""
    metadata = body.get("metadata") or {}
    reference = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "name": metadata.get("name"),
        "uid": metadata.get("uid"),
        "namespace": metadata.get("namespace"),
    }
    return logging.LoggerAdapter(logging.getLogger(OBJECT_LOGGER), {"k8s_skip": True, "k8s_ref": reference})


class HeldLogRecords:
    """Log records made before Kopf's logging is configured, replayed through it afterwards in their order
    (with their own times): the start-up's lines look like every other line of the operator."""

    def __init__(self, level: int) -> None:
        self._handler = logging.handlers.MemoryHandler(capacity=1_000_000, flushLevel=logging.CRITICAL + 1)
        root = logging.getLogger()
        root.addHandler(self._handler)
        root.setLevel(level)

    def replay(self) -> None:
        """Detach, then hand every held record to the root logger's handlers as they are now."""
        root = logging.getLogger()
        root.removeHandler(self._handler)
        for record in self._handler.buffer:
            root.handle(record)
        self._handler.buffer.clear()


def start_up_peering(peering_name: str | None, identity: str, priority: int) -> Peering | None:
    """This replica in Kopf's peering, as ``run`` gives it to Kopf, for the start-up steps; None when standalone
    (Kopf's peering is per namespace when ``run`` names namespaces, else cluster-wide)."""
    if peering_name is None:
        return None
    return Peering(
        name=peering_name,
        namespaces=list(RUNTIME.namespaces) or None,
        identity=identity,
        priority=priority,
        lifetime=PEERING_LIFETIME_SECONDS,
    )


async def start_up(peering: Peering | None, post_event: EventSink) -> None:
    """Everything before Kopf: credentials, the adapters, /metrics, and the first steps of new Hotfixes."""
    # Before the adapters' thread pool exists: each thread would otherwise get a malloc arena of its own.
    limit_arenas()
    try:
        credentials = await asyncio.to_thread(load_credentials)
    except CredentialsError as error:
        raise StartUpError(f"credentials: {error}") from error
    RUNTIME.credentials = credentials
    controller = RUNTIME.controller = build_controller(RUNTIME.config, KubeApi(credentials), post_event)
    RUNTIME.background.append(asyncio.create_task(trim_periodically()))
    if controller.alertmanager is not None:
        # Kept on the runtime: a task nobody references can be collected mid-flight.
        RUNTIME.background.append(asyncio.create_task(controller.alertmanager.run()))
    address, port = RUNTIME.config.metrics_address, RUNTIME.config.metrics_port
    if port:
        try:
            controller.metrics.serve(address, port)
        except OSError as error:
            raise StartUpError(f"/metrics on {address}:{port}: {error}") from error
        log.info("serving /metrics on %s:%d", address, port)
    await first_steps(controller, peering)


def _listing_at_start_up(
    controller: HotfixController, peering: Peering | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | str | None:
    """The new Hotfixes and their neighbours (first_steps.list_at_start_up), or why this replica may not step
    them (another replica is live in its peering)."""
    if peering is not None:
        objection = peering_objection(PeeringClient(controller.hotfixes.api), peering, datetime.now(UTC))
        if objection is not None:
            return objection
    return list_at_start_up(controller.hotfixes, RUNTIME.namespaces)


async def first_steps(controller: HotfixController, peering: Peering | None) -> None:
    """The first step of each Hotfix applied while no operator ran, before Kopf starts (engine/first_steps.py),
    waited for at most FIRST_STEPS_WAIT_SECONDS: past that, Kopf starts and its own listing steps them (a
    listing that comes back later is dropped unused)."""
    started = time.monotonic()
    if peering is not None and not all(NAMESPACE_NAME.fullmatch(name) for name in RUNTIME.namespaces):
        return  # namespace patterns: Kopf's peering objects are per matching namespace, left to its listing
    listing = asyncio.ensure_future(asyncio.to_thread(_listing_at_start_up, controller, peering))
    await asyncio.wait({listing}, timeout=FIRST_STEPS_WAIT_SECONDS)
    if not listing.done():
        RUNTIME.background.append(listing)  # its thread runs to the end; the answer is not used
        log.warning("new Hotfixes not listed within %.0fs: they wait for Kopf's listing", FIRST_STEPS_WAIT_SECONDS)
        return
    try:
        listed = listing.result()
    except Exception as error:  # the start-up must go on: Kopf's listing steps them too
        log.warning("new Hotfixes not listed at start-up: %s", error)
        return
    if isinstance(listed, str):
        log.info("no first steps at start-up, they wait for Kopf's peering and listing: %s", listed)
        return
    if listed is None or not listed[0]:
        return
    new, neighbours = listed
    for body in neighbours:
        controller.claims.seen(body["metadata"]["namespace"], body)
    controller.first_steps.expect(new)
    log.info("first steps at start-up for %d Hotfixes no operator has handled yet", len(new))
    steps = asyncio.gather(*(controller.first_step(body, object_logger(body)) for body in new))
    RUNTIME.background.append(steps)
    await asyncio.wait({steps}, timeout=max(FIRST_STEPS_WAIT_SECONDS - (time.monotonic() - started), 0.0))
