"""``kubectl hotfix dashboard``: a local, read-only web UI over the user's kubeconfig, as
``kubectl argo rollouts dashboard`` is. Bound to 127.0.0.1 unless told otherwise.

Pages: the Hotfixes, live (the page asks for the list every two seconds); one Hotfix with its phase,
decision, conditions, timeline and charts; one incident with its Hotfixes and its full report. Only GET
routes exist: nothing here can change the cluster.
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
from hotfix_operator.cli.report_command import ReportOptions, build_report, incident_hotfixes

DEFAULT_PORT = 3100
REFRESH_MS = 2000


class HotfixReader:
    """The Hotfixes of one namespace, or of every namespace, read with the user's own rights."""

    def __init__(self, api_client: client.ApiClient, namespace: str | None) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.namespace = namespace

    def list(self) -> list[dict[str, Any]]:
        if self.namespace is None:
            return self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL).get("items", [])
        return self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL).get("items", [])

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)


def row(hotfix: dict[str, Any]) -> dict[str, Any]:
    metadata, spec, status = hotfix.get("metadata") or {}, hotfix.get("spec") or {}, hotfix.get("status") or {}
    return {
        "namespace": metadata.get("namespace"),
        "name": metadata.get("name"),
        "incident": (spec.get("incident") or {}).get("id", ""),
        "phase": status.get("phase") or "Pending",
        "rule": (status.get("decision") or {}).get("rule", ""),
        "analysis": (status.get("lastAnalysis") or {}).get("summary", ""),
        "created": metadata.get("creationTimestamp", ""),
    }


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9rem; margin-bottom: 1rem; }}
td, th {{ border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }}
.phase-RolledBack, .phase-Escalated, .phase-Failed {{ color: #b03a2e; font-weight: bold; }}
.phase-Stable {{ color: #1e8449; font-weight: bold; }}
figure svg {{ max-width: 100%; height: auto; }}
</style></head>
<body><p><a href="/">Hotfixes</a></p><h1 id="title">{title}</h1>
<div id="content">loading</div>
<script>
const REFRESH_MS = {refresh};
function cell(text) {{ const td = document.createElement("td"); td.textContent = text ?? ""; return td; }}
function link(href, text) {{
  const td = document.createElement("td"); const a = document.createElement("a");
  a.href = href; a.textContent = text; td.appendChild(a); return td;
}}
function table(headers, rows) {{
  const t = document.createElement("table"); const head = t.insertRow();
  for (const h of headers) {{ const th = document.createElement("th"); th.textContent = h; head.appendChild(th); }}
  for (const cells of rows) {{ const tr = t.insertRow(); for (const c of cells) tr.appendChild(c); }}
  return t;
}}
function phaseCell(phase) {{ const td = cell(phase); td.className = "phase-" + phase; return td; }}
async function load(url) {{
  const response = await fetch(url);
  if (!response.ok) throw new Error(url + ": " + (await response.text()));
  return response.json();
}}
{script}
</script></body></html>
"""

LIST_SCRIPT = """
function render(rows) {
  const content = document.getElementById("content");
  content.replaceChildren(table(["namespace", "name", "incident", "phase", "decision", "analysis"], rows.map(r => [
    cell(r.namespace),
    link("/hotfixes/" + encodeURIComponent(r.namespace) + "/" + encodeURIComponent(r.name), r.name),
    r.incident ? link("/incidents/" + encodeURIComponent(r.incident), r.incident) : cell(""),
    phaseCell(r.phase), cell(r.rule), cell(r.analysis),
  ])));
  content.dataset.loaded = String(Date.now());
}
function shown(error) { document.getElementById("content").textContent = String(error); }
async function refresh() { render(await load(SOURCE)); }
refresh().catch(shown); setInterval(() => refresh().catch(shown), REFRESH_MS);
"""

HOTFIX_SCRIPT = """
function render(hotfix) {
  const status = hotfix.status || {}; const decision = status.decision || {};
  const content = document.getElementById("content");
  const summary = table(["phase", "decision", "analysis"], [[phaseCell(status.phase || "Pending"),
    cell(decision.rule ? decision.rule + ": " + decision.reason : ""), cell((status.lastAnalysis || {}).summary)]]);
  const conditions = table(["condition", "status", "reason", "message"],
    (status.conditions || []).map(c => [cell(c.type), cell(c.status), cell(c.reason), cell(c.message)]));
  const timeline = table(["time", "event", "details"],
    (status.timeline || []).map(e => [cell(e.at), cell(e.type), cell(e.message)]));
  const charts = document.getElementById("charts") || document.createElement("div");
  charts.id = "charts";
  const heading = (text) => { const h = document.createElement("h2"); h.textContent = text; return h; };
  content.replaceChildren(summary, heading("Conditions"), conditions, heading("Timeline"), timeline,
    heading("Charts"), charts);
  content.dataset.loaded = String(Date.now());
}
async function renderCharts() {
  const answer = await load(SOURCE + "/charts");
  const charts = document.getElementById("charts");
  if (answer.unavailable) { charts.textContent = answer.unavailable; return; }
  charts.replaceChildren(...answer.charts.map(c => {
    const figure = document.createElement("figure"); figure.innerHTML = c.svg;
    const caption = document.createElement("figcaption");
    caption.textContent = c.title + (c.missing ? ": " + c.missing : "");
    figure.appendChild(caption); return figure;
  }));
  charts.dataset.loaded = String(Date.now());
}
function shown(error) { document.getElementById("content").textContent = String(error); }
async function refresh() { render(await load(SOURCE)); }
refresh().then(renderCharts).catch(shown); setInterval(() => refresh().catch(shown), REFRESH_MS);
"""

INCIDENT_SCRIPT = LIST_SCRIPT.replace(
    "content.dataset.loaded = String(Date.now());",
    'const report = document.createElement("p"); const a = document.createElement("a");\n'
    '  a.href = REPORT; a.textContent = "the incident report (Markdown sections, charts, user impact)";\n'
    "  report.appendChild(a); content.appendChild(report);\n"
    "  content.dataset.loaded = String(Date.now());",
)


def _page(title: str, script: str, **constants: str) -> web.Response:
    # The constants come from the URL (an incident id): never let one close the script element.
    declared = "".join(
        f"const {name} = {json.dumps(value).replace('<', chr(92) + 'u003c')};\n" for name, value in constants.items()
    )
    text = PAGE.format(title=html.escape(title), refresh=REFRESH_MS, script=declared + script)
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
        return web.json_response([row(hotfix) for hotfix in hotfixes])

    async def hotfix_page(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        return _page(f"Hotfix {namespace}/{name}", HOTFIX_SCRIPT, SOURCE=f"/api/hotfixes/{namespace}/{name}")

    async def hotfix_api(self, request: web.Request) -> web.Response:
        hotfix = await self._get(request)
        return web.json_response({key: hotfix.get(key) for key in ("metadata", "spec", "status")})

    async def charts_api(self, request: web.Request) -> web.Response:
        hotfix = await self._get(request)
        incident_id = ((hotfix.get("spec") or {}).get("incident") or {}).get("id", "?")
        report = await asyncio.to_thread(build_report, incident_id, [hotfix], self.options, self.clock())
        charts = [
            {"title": f"{chart.target} {chart.metric}", "svg": chart.inline_svg, "missing": chart.missing}
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
        return web.json_response([row(h) for h in incident_hotfixes(hotfixes, request.match_info["incident"])])

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
