"""The postmortem draft: Markdown from a Hotfix's spec and status, a pure function of the object.

Everything comes from what the operator recorded (timeline, decision, analysis, checkpoints), so the
draft can be written at any time, by the kubectl plugin or by ``hotfix-operator report``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hotfix_operator.api.durations import format_duration
from hotfix_operator.api.status import HotfixStatus, Phase
from hotfix_operator.rules.revert import revert_text, template_change

ENDED_PHASES = {Phase.STABLE, Phase.ROLLED_BACK, Phase.ESCALATED, Phase.FAILED, Phase.SUPERSEDED}
ACTION_TYPES = {"RolloutStarted", "RollbackPatched", "RollbackRequested", "RollbackComplete", "Escalated", "Approved",
                "ForwardFixRollout", "GitOpsHeld", "GitOpsNotHeld", "GitOpsResumed"}  # fmt: skip

FOLLOW_UPS = {
    Phase.ROLLED_BACK: [
        "Find the root cause of the regression before shipping the change again.",
        "Add a test or an alert that would have caught it before production.",
    ],
    Phase.ESCALATED: [
        "A person must decide the next step: the operator took no further automatic action.",
        "Review why automation could not resolve this (see the last decision's rule).",
    ],
    Phase.STABLE: [
        "Merge the hotfix back to the main line and delete the hotfix branch.",
        "Record the deployment in the changelog.",
    ],
    Phase.FAILED: ["Fix the Hotfix resource (see the Succeeded condition) and apply it again."],
    Phase.SUPERSEDED: ["Follow the guard of the Deployment's newer revision (named in the Succeeded condition)."],
}


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _time_text(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def table_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def alert_triggers(status: HotfixStatus) -> list[str]:
    lines = []
    for entry in status.timeline:
        if entry.type == "Decision" and entry.rule not in (None, "healthy", "analysis-pending"):
            lines.append(f"- {_time_text(entry.at)}: `{entry.rule}`: {entry.message}")
    for target, results in (status.last_analysis.get("metrics") or {}).items():
        for result in results:
            if result.get("state") == "breached":
                lines.append(
                    f"- last analysis, {target}: {result.get('metric')} = {result.get('value')} "
                    f"(threshold {result.get('threshold')}): {result.get('reason')}"
                )
    return lines or ["- No threshold was breached."]


def gitops_section(status: HotfixStatus, name: str) -> list[str]:
    """The GitOps owners held for the rollback and the exact change to revert in Git."""
    if not status.gitops and not any(target.revert for target in status.targets):
        return []
    lines = ["", "## Git", ""]
    for target in status.targets:
        lines += [f"- `{target.deployment}` {template_change(line).text()}" for line in target.revert]
    for hold in status.gitops:
        if hold.refused:
            state = f"not held: {hold.refused}"
        elif hold.resumed_at is not None:
            state = f"given back {_time_text(hold.resumed_at)} ({hold.resumed_by})"
        else:
            state = f"held since {_time_text(hold.held_at)}: revert in Git, then `kubectl hotfix resume {name}`"
        lines.append(f"- {hold.describe()} ({', '.join(hold.deployments)}): {state}")
    return lines


def postmortem_markdown(hotfix: dict[str, Any]) -> str:
    metadata, spec = hotfix.get("metadata") or {}, hotfix.get("spec") or {}
    incident = spec.get("incident") or {}
    status = HotfixStatus.from_api(hotfix.get("status"))
    created = _parse_time(metadata.get("creationTimestamp"))
    started = _parse_time(incident.get("startedAt")) or created
    ended = status.timeline[-1].at if status.phase in ENDED_PHASES and status.timeline else None
    duration = format_duration(ended - started) if ended and started else "ongoing"
    phase = status.phase.value if status.phase else "Pending"
    decision = status.decision
    targets = ", ".join(
        f"{t.deployment} (revision {t.baseline_revision} -> {t.hotfix_revision or '?'})" for t in status.targets
    ) or ", ".join(t.get("deployment", "?") for t in spec.get("targets") or [])
    lines = [
        f"# Postmortem draft: {incident.get('id', '?')} hotfix {metadata.get('namespace')}/{metadata.get('name')}",
        "",
        "## Summary",
        "",
        f"- **Outcome:** {phase}" + (f" (rule `{decision.rule}`: {decision.reason})" if decision else ""),
        f"- **Severity:** {incident.get('severity', '?')}",
        f"- **Root cause:** {incident.get('rootCause', 'unknown')}",
        f"- **Deployments:** {targets}",
        f"- **Start:** {_time_text(started)}",
        f"- **End:** {_time_text(ended) if ended else 'ongoing'}",
        f"- **Duration:** {duration}",
        "",
        "## Timeline",
        "",
        "| time (UTC) | event | rule | details |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {entry.at.strftime('%H:%M:%S')} | {entry.type} | {entry.rule or ''} | {table_cell(entry.message)} |"
        for entry in status.timeline
    ]
    lines += ["", "## Alert triggers", "", *alert_triggers(status), "", "## Remediation actions", ""]
    actions = [entry for entry in status.timeline if entry.type in ACTION_TYPES]
    lines += [f"- {_time_text(entry.at)}: {entry.type}: {entry.message}" for entry in actions] or ["- None."]
    if status.checkpoints:
        lines += ["", "## Stability checkpoints", ""]
        lines += [f"- after {c.after}: {c.result} ({c.message})" for c in status.checkpoints]
    lines += gitops_section(status, hotfix["metadata"]["name"])
    lines += ["", "## Follow-ups", ""]
    if any(target.revert for target in status.targets) and status.rollback_completed_at is not None:
        lines.append(f"- [ ] Revert the rolled-back change in Git: {revert_text(status.targets)}")
    lines += [
        f"- [ ] {item}" for item in FOLLOW_UPS.get(status.phase, ["Keep watching: the hotfix is still in flight."])
    ]
    return "\n".join(lines) + "\n"
