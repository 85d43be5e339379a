"""The postmortem template's pieces that come from one Hotfix's status alone: its alert triggers, the Git
change to revert and the GitOps owners held, and the follow-ups its outcome calls for. Pure functions of the
recorded status; the report (``report/incident.py``) puts them together.
"""

from __future__ import annotations

from datetime import datetime

from hotfix_operator.api.status import HotfixStatus, Phase
from hotfix_operator.rules.revert import template_change

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
