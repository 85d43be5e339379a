"""``kubectl hotfix dashboard``: a local, read-only web UI over the user's kubeconfig, as
``kubectl argo rollouts dashboard`` is. Bound to 127.0.0.1 unless told otherwise.

Pages: the Hotfixes as cards (phase colour, severity, incident, age, targets and images, each threshold
against its limit, the next step), live; one Hotfix with its charts first (redrawn every 15 s), then its
tree as ``kubectl hotfix status NAME`` prints it, then its timeline; one incident with its Hotfixes and its
whole report. Only GET routes exist: nothing here can change the cluster.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from kubernetes import client

from hotfix_operator.api.models import GROUP, PLURAL, VERSION
from hotfix_operator.cli.cluster_facts import target_facts
from hotfix_operator.cli.dashboard_pages import HOTFIX_SCRIPT, INCIDENT_SCRIPT, LIST_SCRIPT, PAGE
from hotfix_operator.cli.report_command import ReportOptions, build_report, incident_hotfixes
from hotfix_operator.cli.status_view import (
    LOCAL_ZONE,
    METRIC_NAMES,
    SYMBOLS,
    TargetFacts,
    age,
    analysis_of,
    next_step,
    status_detail,
    target_images,
)

DEFAULT_PORT = 3100
REFRESH_MS = 2000
# Charts are drawn from Prometheus on the server: a slower beat than the status.
CHART_REFRESH_MS = 15000


class HotfixReader:
    """The Hotfixes of one namespace, or of every namespace, read with the user's own rights."""

    def __init__(self, api_client: client.ApiClient, namespace: str | None) -> None:
        self.api_client = api_client
        self.custom = client.CustomObjectsApi(api_client)
        self.namespace = namespace

    def list(self) -> list[dict[str, Any]]:
        if self.namespace is None:
            return self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL).get("items", [])
        return self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL).get("items", [])

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def facts(self, hotfix: dict[str, Any]) -> dict[str, TargetFacts]:
        return target_facts(self.api_client, hotfix)


# The colour of a phase: settled well, needs people, at work, nothing yet.
TONES = {
    **dict.fromkeys(("Stable",), "ok"),
    **dict.fromkeys(("RolledBack", "Escalated", "Failed"), "bad"),
    **dict.fromkeys(("RollingBack", "RollingOut", "ForwardFixPending", "AwaitingApproval", "Monitoring"), "busy"),
}


def card(hotfix: dict[str, Any], now: datetime) -> dict[str, Any]:
    """What a Hotfix's card shows."""
    metadata, spec, status = hotfix.get("metadata") or {}, hotfix.get("spec") or {}, hotfix.get("status") or {}
    phase = status.get("phase") or "Pending"
    thresholds = [
        {"state": metric.get("state", ""), "symbol": SYMBOLS.get(metric.get("state", ""), "?"),
         "text": f"{target}: {metric.get('reason') or metric.get('state')}"}
        for target, metrics in ((status.get("lastAnalysis") or {}).get("metrics") or {}).items()
        for metric in metrics
    ]  # fmt: skip
    return {
        "namespace": metadata.get("namespace"),
        "name": metadata.get("name"),
        "incident": (spec.get("incident") or {}).get("id", ""),
        "severity": (spec.get("incident") or {}).get("severity", "-"),
        "phase": phase,
        "tone": TONES.get(phase, "idle"),
        "rule": (status.get("decision") or {}).get("rule", ""),
        "analysis": analysis_of(status),
        "age": age(metadata.get("creationTimestamp"), now),
        "targets": [{"deployment": name, "image": image} for name, image in target_images(hotfix)],
        "thresholds": thresholds,
        "next": next_step(hotfix, None),
    }


def _page(title: str, script: str, **constants: str) -> web.Response:
    # The constants come from the URL (an incident id): never let one close the script element.
    declared = "".join(
        f"const {name} = {json.dumps(value).replace('<', chr(92) + 'u003c')};\n" for name, value in constants.items()
    )
    text = PAGE.format(title=html.escape(title), refresh=REFRESH_MS, chart_refresh=CHART_REFRESH_MS,
                       script=declared + script)  # fmt: skip
    return web.Response(text=text, content_type="text/html")


class Dashboard:
    def __init__(
        self, reader: HotfixReader, options: ReportOptions, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.reader = reader
        self.options = options
        self.clock = clock or (lambda: datetime.now(UTC))

    def app(self) -> web.Application:
        app = web.Application(middlewares=[api_errors])
        app.router.add_get("/", self.list_page)
        app.router.add_get("/api/hotfixes", self.list_api)
        app.router.add_get("/hotfixes/{namespace}/{name}", self.hotfix_page)
        app.router.add_get("/api/hotfixes/{namespace}/{name}", self.hotfix_api)
        app.router.add_get("/api/hotfixes/{namespace}/{name}/charts", self.charts_api)
        app.router.add_get("/incidents/{incident}", self.incident_page)
        app.router.add_get("/api/incidents/{incident}", self.incident_api)
        app.router.add_get("/incidents/{incident}/report", self.incident_report)
        return app

    async def list_page(self, request: web.Request) -> web.Response:
        return _page("Hotfixes", LIST_SCRIPT, SOURCE="/api/hotfixes")

    async def list_api(self, request: web.Request) -> web.Response:
        hotfixes = await asyncio.to_thread(self.reader.list)
        return web.json_response(self._cards(hotfixes))

    def _cards(self, hotfixes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        now = self.clock()
        ordered = sorted(hotfixes, key=lambda h: (h["metadata"].get("namespace", ""), h["metadata"]["name"]))
        return [card(hotfix, now) for hotfix in ordered]

    async def hotfix_page(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        return _page(f"Hotfix {namespace}/{name}", HOTFIX_SCRIPT, SOURCE=f"/api/hotfixes/{namespace}/{name}")

    async def hotfix_api(self, request: web.Request) -> web.Response:
        hotfix = await self._get(request)
        facts = await asyncio.to_thread(self.reader.facts, hotfix)
        now = self.clock()
        return web.json_response({
            "card": card(hotfix, now),
            "tree": status_detail(hotfix, facts, now, LOCAL_ZONE),
            "timeline": (hotfix.get("status") or {}).get("timeline") or [],
        })  # fmt: skip

    async def charts_api(self, request: web.Request) -> web.Response:
        hotfix = await self._get(request)
        incident_id = ((hotfix.get("spec") or {}).get("incident") or {}).get("id", "?")
        report = await asyncio.to_thread(build_report, incident_id, [hotfix], self.options, self.clock())
        charts = [
            {"title": f"{chart.target} {METRIC_NAMES.get(chart.metric, chart.metric)}", "svg": chart.inline_svg,
             "missing": chart.missing}
            for chart in report.charts
        ]  # fmt: skip
        return web.json_response({"unavailable": " ".join(report.unavailable), "charts": charts})

    async def incident_page(self, request: web.Request) -> web.Response:
        incident = request.match_info["incident"]
        return _page(
            f"Incident {incident}", INCIDENT_SCRIPT, SOURCE=f"/api/incidents/{incident}",
            REPORT=f"/incidents/{incident}/report",
        )  # fmt: skip

    async def incident_api(self, request: web.Request) -> web.Response:
        hotfixes = await asyncio.to_thread(self.reader.list)
        return web.json_response(self._cards(incident_hotfixes(hotfixes, request.match_info["incident"])))

    async def incident_report(self, request: web.Request) -> web.Response:
        incident = request.match_info["incident"]
        hotfixes = incident_hotfixes(await asyncio.to_thread(self.reader.list), incident)
        if not hotfixes:
            raise web.HTTPNotFound(text=f"no Hotfix of incident {incident!r}")
        report = await asyncio.to_thread(build_report, incident, hotfixes, self.options, self.clock())
        return web.Response(text=report.html, content_type="text/html")

    async def _get(self, request: web.Request) -> dict[str, Any]:
        return await asyncio.to_thread(self.reader.get, request.match_info["namespace"], request.match_info["name"])


@web.middleware
async def api_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    """The API server's refusal, passed on as it is: a Hotfix that is gone is 404, a namespace the user's
    kubeconfig may not read is 403, never a dashboard error."""
    try:
        return await handler(request)
    except client.exceptions.ApiException as error:
        status = error.status if 400 <= (error.status or 0) < 600 else 502
        return web.json_response({"error": f"{error.status} {error.reason}", "path": request.path}, status=status)


def serve(dashboard: Dashboard, address: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve until interrupted; ``on_ready`` gets the URL once the socket listens."""

    async def run() -> None:
        runner = web.AppRunner(dashboard.app())
        await runner.setup()
        site = web.TCPSite(runner, address, port)
        await site.start()
        on_ready(f"http://{address}:{port}/")
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())
