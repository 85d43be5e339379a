"""What ``kubectl hotfix status`` prints: a table of Hotfixes, or one Hotfix as a tree, as Argo Rollouts'
``get rollout`` does: each target with its revisions, ReplicaSets and pods, each threshold against its
limit, the decision, what changed, and a ``Next:`` line saying what happens next or what a person must do.

Pure: the plugin hands in the Hotfix and, per target, the Deployment, its ReplicaSets and their pods.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import yaml

from hotfix_operator.rules.revert import TemplateChange

# Times are shown in the reader's own zone (TZ), to the second.
LOCAL_ZONE = datetime.now().astimezone().tzinfo
# The kstatus conditions repeat the phase for tools; a person reads the phase.
KSTATUS_CONDITIONS = frozenset({"Ready", "Reconciling", "Stalled"})
POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
METRIC_NAMES = {"errorRate": "error rate", "latencyP95": "p95 latency", "crashFreeSessions": "crash-free sessions"}
SYMBOLS = {"healthy": "✔", "breached": "✖", "pending": "…", "inconclusive": "?", "no-traffic": "○"}


@dataclass
class TargetFacts:
    """What the cluster says of one target now."""

    deployment: dict[str, Any] | None = None
    replica_sets: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)


def age(created: str | None, now: datetime) -> str:
    if not created:
        return "-"
    seconds = int((now - parse_time(created)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def local_time(value: str | None, zone: tzinfo | None) -> str:
    """A recorded time in the reader's zone, to the second."""
    if not value:
        return "-"
    return parse_time(value).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z").rstrip()


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _short_image(image: str) -> str:
    return image.rsplit("/", 1)[-1]


def target_images(hotfix: dict[str, Any]) -> list[tuple[str, str]]:
    """(deployment, new image) of each target: the spec's images, or what a guard saw change (its revert)."""
    status = hotfix.get("status") or {}
    reverts = {t["deployment"]: t.get("revert") or [] for t in status.get("targets") or []}
    pairs = []
    for target in (hotfix.get("spec") or {}).get("targets") or []:
        images = list((target.get("images") or {}).values())
        if not images:
            images = [line["bad"] for line in reverts.get(target["deployment"], []) if line["field"].endswith(".image")]
        pairs.append((target["deployment"], ", ".join(_short_image(str(image)) for image in images) or "-"))
    return pairs


def analysis_of(status: dict[str, Any]) -> str:
    """The last verdict and which version it is about: after an undo, the restored one."""
    analysis = status.get("lastAnalysis") or {}
    result, undone = analysis.get("result"), status.get("rollbackCompletedAt")
    if not result:
        return "-"
    restored = undone and analysis.get("at") and parse_time(analysis["at"]) >= parse_time(undone)
    return f"{result} (restored)" if restored else result


def status_table(hotfixes: list[dict[str, Any]], now: datetime, all_namespaces: bool = False) -> str:
    header = ("NAMESPACE",) if all_namespaces else ()
    rows = [(*header, "NAME", "PHASE", "SEVERITY", "INCIDENT", "TARGETS", "DECISION", "ANALYSIS", "AGE")]
    for hotfix in sorted(hotfixes, key=lambda h: (h["metadata"].get("namespace", ""), h["metadata"]["name"])):
        status = hotfix.get("status") or {}
        incident = (hotfix.get("spec") or {}).get("incident") or {}
        namespace = (hotfix["metadata"].get("namespace", ""),) if all_namespaces else ()
        targets = "; ".join(f"{name}={image}" for name, image in target_images(hotfix)) or "-"
        rows.append((*namespace, hotfix["metadata"]["name"], status.get("phase", "Pending"),
                     incident.get("severity", "-"), incident.get("id", "-"), targets,
                     (status.get("decision") or {}).get("rule", "-"), analysis_of(status),
                     age(hotfix["metadata"].get("creationTimestamp"), now)))  # fmt: skip
    return table(rows)


def _pod_line(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    restarts = sum(int(c.get("restartCount") or 0) for c in containers)
    waiting = [
        c["state"]["waiting"].get("reason", "Waiting") for c in containers if (c.get("state") or {}).get("waiting")
    ]
    ready = bool(containers) and all(c.get("ready") for c in containers)
    phase = waiting[0] if waiting else status.get("phase", "Pending")
    symbol = "✔" if ready else ("✖" if waiting or phase == "Failed" else "◌")
    ready_text = "ready" if ready else "not ready"
    return f"{symbol} {pod['metadata']['name']}  {phase}, {ready_text}, restarts {restarts}"


def _replica_set_label(replica_set: dict[str, Any], recorded: dict[str, Any]) -> str:
    name = replica_set["metadata"]["name"]
    revision = (replica_set["metadata"].get("annotations") or {}).get(REVISION, "?")
    roles = []
    if name == recorded.get("baselineReplicaSet"):
        roles.append("baseline")
    if name == recorded.get("hotfixReplicaSet"):
        roles.append("hotfix")
    spec, state = replica_set.get("spec") or {}, replica_set.get("status") or {}
    images = ", ".join(
        _short_image(c.get("image", "")) for c in spec.get("template", {}).get("spec", {}).get("containers", [])
    )
    role = f" [{', '.join(roles)}]" if roles else ""
    ready = f"{state.get('readyReplicas') or 0}/{spec.get('replicas') or 0} ready"
    return f"ReplicaSet {name}  revision {revision}{role}  {images}  {ready}"


def _target_lines(recorded: dict[str, Any], facts: TargetFacts) -> list[str]:
    name = recorded["deployment"]
    revisions = [str(recorded.get("baselineRevision", "?"))]
    if recorded.get("hotfixRevision") is not None:
        revisions.append(str(recorded["hotfixRevision"]))
    if recorded.get("undoneToRevision") is not None:
        revisions.append(f"{recorded['undoneToRevision']} (restored)")
    current = (facts.deployment or {}).get("metadata", {}).get("annotations", {}).get(REVISION, "?")
    lines = [f"deployment/{name}  revisions {' -> '.join(revisions)}; now at {current}"]
    for line in recorded.get("revert") or []:
        change = template_change_of(line)
        lines.append(f"  changed {change}")
    shown = [rs for rs in facts.replica_sets if (rs.get("spec") or {}).get("replicas") or rs["metadata"]["name"] in (
        recorded.get("baselineReplicaSet"), recorded.get("hotfixReplicaSet"))]  # fmt: skip
    shown.sort(key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")), reverse=True)
    for index, replica_set in enumerate(shown):
        last = index == len(shown) - 1
        lines.append(f"  {'└──' if last else '├──'} {_replica_set_label(replica_set, recorded)}")
        pod_hash = (replica_set["metadata"].get("labels") or {}).get(POD_TEMPLATE_HASH)
        pods = [p for p in facts.pods if (p["metadata"].get("labels") or {}).get(POD_TEMPLATE_HASH) == pod_hash]
        under = "      " if last else "  │   "
        for pod_index, pod in enumerate(sorted(pods, key=lambda p: p["metadata"]["name"])):
            lines.append(f"{under}{'└──' if pod_index == len(pods) - 1 else '├──'} {_pod_line(pod)}")
    return lines


def template_change_of(line: dict[str, Any]) -> str:
    """One revert line (as the status holds it) as bad -> restored."""
    return TemplateChange(line["field"], line.get("bad"), line.get("restored"), bool(line.get("judged"))).text()


def _threshold_lines(status: dict[str, Any]) -> list[str]:
    analysis = status.get("lastAnalysis") or {}
    lines = []
    for target, metrics in (analysis.get("metrics") or {}).items():
        for metric in metrics:
            symbol = SYMBOLS.get(metric.get("state", ""), "?")
            name = METRIC_NAMES.get(metric.get("metric", ""), metric.get("metric", ""))
            lines.append(f"  {symbol} {target}  {name}: {metric.get('reason') or metric.get('state')}")
    return lines


def json_or_yaml(objects: list[dict[str, Any]] | dict[str, Any], output: str) -> str:
    if output == "json":
        return json.dumps(objects, indent=2)
    return str(yaml.safe_dump(objects, sort_keys=False))


def _open_holds(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [hold for hold in status.get("gitops") or [] if not hold.get("refused") and not hold.get("resumedAt")]


def _succeeded(status: dict[str, Any]) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c.get("type") == "Succeeded"), {})


def next_step(hotfix: dict[str, Any], zone: tzinfo | None) -> str:
    """What happens next, or what a person must do, with the command."""
    name = hotfix["metadata"]["name"]
    status = hotfix.get("status") or {}
    phase = status.get("phase") or "Pending"
    if _open_holds(status):
        return f"Git still holds the rolled-back version: revert it (see above), then kubectl hotfix resume {name}"
    if (status.get("decision") or {}).get("pendingConfirmation"):
        return f"a rollback waits for you: kubectl hotfix rollback {name} (or kubectl hotfix abort {name})"
    succeeded = _succeeded(status)
    why = f"{succeeded.get('reason', '')}: {succeeded.get('message', '')}".strip(": ")
    rollback, report = f"kubectl hotfix rollback {name}", f"kubectl hotfix report {name}"
    abort = f"kubectl hotfix abort {name}"
    due = local_time(status.get("forwardFixDueAt"), zone)
    steps = {
        "Pending": "the operator records the baseline, then rolls out",
        "AwaitingApproval": f"waiting for approval: kubectl hotfix approve {name}",
        "RollingOut": f"the operator rolls out and judges the new pods as they start; to stop: {abort}",
        "Monitoring": f"the operator judges the thresholds at each analysis; to roll back now: {rollback}",
        "ForwardFixPending": f"a forward fix is due by {due}: put its images in the spec; to roll back now: {rollback}",
        "RollingBack": "the operator undoes the change and verifies recovery",
        "RolledBack": f"find the root cause before shipping the change again; the timeline: {report}",
        "Escalated": f"a person must act ({why}); the timeline: {report}",
        "Stable": "nothing: merge the hotfix back to the main line",
        "Failed": f"fix the Hotfix and apply it again ({why})",
        "Superseded": f"follow the newer guard ({why})",
    }
    return steps.get(phase, "-")


def gitops_lines(hotfix: dict[str, Any], zone: tzinfo | None) -> list[str]:
    """The GitOps owners held for the rollback, and how each stands."""
    status = hotfix.get("status") or {}
    holds = status.get("gitops") or []
    lines = ["", "GitOps owners:"] if holds else []
    for hold in holds:
        owner = f"{hold['kind']} {hold['namespace']}/{hold['name']}"
        if hold.get("refused"):
            state = f"not held: {hold['refused']}"
        elif hold.get("resumedAt"):
            state = f"given back at {local_time(hold['resumedAt'], zone)} ({hold.get('resumedBy')})"
        else:
            since = local_time(hold.get("heldAt"), zone)
            state = (
                f"held since {since}: revert the change in Git, then kubectl hotfix resume {hotfix['metadata']['name']}"
            )
        lines.append(f"  {owner} ({', '.join(hold.get('deployments') or [])}): {state}")
    return lines


def status_detail(
    hotfix: dict[str, Any], facts: dict[str, TargetFacts], now: datetime, zone: tzinfo | None = None
) -> str:
    """One Hotfix as a tree: targets with ReplicaSets and pods, thresholds, decision, timeline, next step."""
    metadata, status = hotfix["metadata"], hotfix.get("status") or {}
    incident = (hotfix.get("spec") or {}).get("incident") or {}
    lines = [
        f"Name:      {metadata['name']}   Namespace: {metadata.get('namespace', '-')}",
        f"Phase:     {status.get('phase', 'Pending')}   Severity: {incident.get('severity', '-')}   "
        f"Incident: {incident.get('id', '-')}   Age: {age(metadata.get('creationTimestamp'), now)}",
    ]
    decision = status.get("decision")
    if decision:
        lines.append(f"Decision: {decision['action']} ({decision['rule']}) at {local_time(decision.get('at'), zone)}: "
                     f"{decision['reason']}")  # fmt: skip
    analysis = status.get("lastAnalysis") or {}
    if analysis:
        lines.append(f"Analysis: {analysis_of(status)} at {local_time(analysis.get('at'), zone)}")
        lines += _threshold_lines(status)
    lines += ["", "Targets:"]
    for recorded in status.get("targets") or []:
        lines += ["  " + line for line in _target_lines(recorded, facts.get(recorded["deployment"], TargetFacts()))]
    if any(recorded.get("revert") for recorded in status.get("targets") or []):
        lines += ["", "Change to revert in Git (rolled back -> restored):"]
        for recorded in status.get("targets") or []:
            lines += [
                f"  {recorded['deployment']}  {template_change_of(line)}" for line in recorded.get("revert") or []
            ]
    lines += gitops_lines(hotfix, zone)
    conditions = [c for c in status.get("conditions") or [] if c["type"] not in KSTATUS_CONDITIONS]
    if conditions:
        lines += ["", "Conditions:"]
        rows = [(c["type"], c["status"], c["reason"], c.get("message", "")[:160]) for c in conditions]
        lines += ["  " + row for row in table(rows).splitlines()]
    timeline = status.get("timeline") or []
    if timeline:
        lines += ["", "Timeline:"]
        rows = [(local_time(e["at"], zone), e["type"], e.get("rule") or "", e["message"]) for e in timeline]
        lines += ["  " + row for row in table(rows).splitlines()]
    lines += ["", f"Next: {next_step(hotfix, zone)}"]
    return "\n".join(lines)
