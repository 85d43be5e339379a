"""The dashboard's pages: one HTML shell, its style, and a script per page. Static text; the data comes from
the JSON routes of ``cli/dashboard.py``. No external resource: the pages work on a laptop without internet.
"""

from __future__ import annotations

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
:root {{ --ok: #1e8449; --bad: #b03a2e; --busy: #b9770e; --idle: #5d6d7e; --line: #d5d8dc; }}
body {{ font-family: system-ui, sans-serif; margin: 0; color: #1c2833; background: #f4f6f7; }}
header {{ background: #1c2833; color: #fff; padding: 0.6rem 1.5rem; display: flex; gap: 1.5rem; }}
header a {{ color: #fff; text-decoration: none; font-weight: 600; }}
main {{ padding: 1rem 1.5rem; }}
h1 {{ font-size: 1.3rem; margin: 0.2rem 0 1rem; }} h2 {{ font-size: 1.05rem; margin: 1.4rem 0 0.5rem; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr)); gap: 0.8rem; }}
.card {{ background: #fff; border: 1px solid var(--line); border-left: 6px solid var(--idle); border-radius: 4px;
  padding: 0.6rem 0.8rem; font-size: 0.9rem; }}
.card h3 {{ margin: 0 0 0.3rem; font-size: 1rem; display: flex; justify-content: space-between; gap: 0.5rem; }}
.card .meta {{ color: #566573; margin-bottom: 0.4rem; }} .card ul {{ margin: 0.2rem 0; padding-left: 1.1rem; }}
.card .next {{ margin-top: 0.4rem; padding-top: 0.3rem; border-top: 1px dashed var(--line); }}
.badge {{ display: inline-block; border-radius: 3px; padding: 0 0.4rem; font-size: 0.8rem; color: #fff;
  background: var(--idle); white-space: nowrap; }}
.sev {{ background: #7d3c98; }}
.tone-ok {{ border-left-color: var(--ok); }} .badge.tone-ok {{ background: var(--ok); }}
.tone-bad {{ border-left-color: var(--bad); }} .badge.tone-bad {{ background: var(--bad); }}
.tone-busy {{ border-left-color: var(--busy); }} .badge.tone-busy {{ background: var(--busy); }}
.state-breached {{ color: var(--bad); font-weight: 600; }} .state-healthy {{ color: var(--ok); }}
table {{ border-collapse: collapse; font-size: 0.85rem; background: #fff; }}
td, th {{ border: 1px solid var(--line); padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }}
pre {{ background: #fff; border: 1px solid var(--line); padding: 0.6rem; overflow-x: auto; font-size: 0.8rem; }}
.charts {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(34rem, 1fr)); gap: 0.6rem; }}
figure {{ background: #fff; border: 1px solid var(--line); margin: 0; padding: 0.3rem; }}
figure svg {{ width: 100%; height: auto; }} figcaption {{ font-size: 0.8rem; color: #566573; }}
iframe {{ width: 100%; height: 80vh; border: 1px solid var(--line); background: #fff; }}
.empty {{ color: #566573; }}
</style></head>
<body><header><a href="/">Hotfixes</a><span id="updated"></span></header>
<main><h1 id="title">{title}</h1><div id="content">loading</div></main>
<script>
const REFRESH_MS = {refresh};
const CHART_REFRESH_MS = {chart_refresh};
function el(tag, text, className) {{
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}}
function link(href, text) {{ const a = el("a", text); a.href = href; return a; }}
function badge(text, className) {{ return el("span", text, "badge " + (className || "")); }}
function hotfixHref(c) {{ return "/hotfixes/" + encodeURIComponent(c.namespace) + "/" + encodeURIComponent(c.name); }}
function card(c) {{
  const box = el("article", null, "card tone-" + c.tone);
  box.dataset.phase = c.phase;
  const title = el("h3"); title.append(link(hotfixHref(c), c.name), badge(c.phase, "tone-" + c.tone));
  const meta = el("div", null, "meta");
  meta.append(badge(c.severity, "sev"), " ");
  if (c.incident) meta.append(link("/incidents/" + encodeURIComponent(c.incident), c.incident), " · ");
  meta.append(c.namespace + " · " + c.age + " old" + (c.rule ? " · " + c.rule : ""));
  const targets = el("ul");
  for (const t of c.targets) targets.append(el("li", t.deployment + " → " + t.image));
  const thresholds = el("ul", null, "thresholds");
  for (const t of c.thresholds) thresholds.append(el("li", t.symbol + " " + t.text, "state-" + t.state));
  if (!c.thresholds.length) thresholds.append(el("li", "no analysis yet", "empty"));
  box.append(title, meta, targets, thresholds, el("div", "Next: " + c.next, "next"));
  return box;
}}
function cards(list) {{
  const grid = el("div", null, "cards");
  if (!list.length) grid.append(el("p", "No Hotfixes here.", "empty"));
  for (const c of list) grid.append(card(c));
  return grid;
}}
async function load(url) {{
  const response = await fetch(url);
  if (!response.ok) throw new Error(url + ": " + (await response.text()));
  return response.json();
}}
function updated() {{ document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString(); }}
function shown(error) {{ document.getElementById("content").textContent = String(error); }}
{script}
</script></body></html>
"""

LIST_SCRIPT = """
async function refresh() {
  const content = document.getElementById("content");
  content.replaceChildren(cards(await load(SOURCE)));
  content.dataset.loaded = String(Date.now()); updated();
}
refresh().catch(shown); setInterval(() => refresh().catch(shown), REFRESH_MS);
"""

HOTFIX_SCRIPT = """
function section(id, heading) {
  const box = el("section"); box.id = id; box.append(el("h2", heading)); return box;
}
const charts = section("charts", "Charts"); const chartGrid = el("div", "loading charts", "charts");
charts.append(chartGrid);
const tree = section("tree", "Now"); const treeText = el("pre", "loading"); tree.append(treeText);
const timeline = section("timeline", "Timeline"); const timelineBox = el("div"); timeline.append(timelineBox);
document.getElementById("content").replaceChildren(charts, tree, timeline);
async function refresh() {
  const answer = await load(SOURCE);
  document.getElementById("title").textContent = "Hotfix " + answer.card.namespace + "/" + answer.card.name
    + " · " + answer.card.phase;
  treeText.textContent = answer.tree;
  const rows = el("table"); const head = rows.insertRow();
  for (const h of ["time", "event", "rule", "details"]) head.append(el("th", h));
  for (const e of answer.timeline) {
    const tr = rows.insertRow();
    tr.append(el("td", new Date(e.at).toLocaleString()), el("td", e.type), el("td", e.rule || ""), el("td", e.message));
  }
  timelineBox.replaceChildren(rows);
  document.getElementById("content").dataset.loaded = String(Date.now()); updated();
}
async function refreshCharts() {
  const answer = await load(SOURCE + "/charts");
  if (answer.unavailable && !answer.charts.length) { chartGrid.textContent = answer.unavailable; return; }
  chartGrid.replaceChildren(...answer.charts.map(c => {
    const figure = el("figure"); figure.innerHTML = c.svg;
    figure.append(el("figcaption", c.title + (c.missing ? ": " + c.missing : "")));
    return figure;
  }));
  chartGrid.dataset.loaded = String(Date.now());
}
refresh().catch(shown); refreshCharts().catch(shown);
setInterval(() => refresh().catch(shown), REFRESH_MS);
setInterval(() => refreshCharts().catch(shown), CHART_REFRESH_MS);
"""

INCIDENT_SCRIPT = """
const list = el("div"); const report = el("iframe"); report.src = REPORT; report.title = "incident report";
document.getElementById("content").replaceChildren(list, el("h2", "Report"), report);
async function refresh() {
  list.replaceChildren(cards(await load(SOURCE)));
  document.getElementById("content").dataset.loaded = String(Date.now()); updated();
}
refresh().catch(shown); setInterval(() => refresh().catch(shown), REFRESH_MS);
"""
