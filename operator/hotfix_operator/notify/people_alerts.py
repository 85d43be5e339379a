"""The decisions that need people, as Alertmanager alerts: what holds now for one Hotfix.

Derived from the Hotfix's status alone, so the set is the same after a restart: a rollback done, a
forward-fix hold, an escalation (a failed or unverified rollback among them), missing telemetry. An
alert holds while its situation does; the Alertmanager notifier re-sends it and resolves it when it
is gone from the set. Labels are for routing (severity, incident, hotfix, namespace, rule, team).
"""

from __future__ import annotations

from typing import Any

from hotfix_operator.api.models import HotfixSpec, Severity
from hotfix_operator.api.status import HotfixStatus, Phase
from hotfix_operator.rules.revert import revert_text

Alert = dict[str, dict[str, str]]  # {"labels": {...}, "annotations": {...}}


def _condition(status: HotfixStatus, type_: str) -> Any:
    return next((condition for condition in status.conditions if condition.type == type_), None)


def people_alerts(
    metadata: dict[str, Any], spec: HotfixSpec, status: HotfixStatus, severities: dict[Severity, str]
) -> list[Alert]:
    namespace, name = metadata["namespace"], metadata["name"]
    decision = status.decision
    base = {
        "severity": severities.get(spec.incident.severity, "warning"),
        "incident": spec.incident.id,
        "incident_severity": spec.incident.severity.value,
        "hotfix": name,
        "namespace": namespace,
    }
    if decision is not None:
        base["rule"] = decision.rule
    team = (metadata.get("labels") or {}).get("team")
    if team:
        base["team"] = team
    runbook = f"kubectl hotfix status {name} -n {namespace}"
    alerts: list[Alert] = []

    def add(alertname: str, summary: str, description: str, **labels: str) -> None:
        alerts.append(
            {
                "labels": {"alertname": alertname, **base, **labels},
                "annotations": {"summary": summary, "description": description[:1000], "runbook": runbook},
            }
        )

    reason = decision.reason if decision else ""
    if status.phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK):
        add("HotfixRolledBack", f"{spec.incident.id}: hotfix {namespace}/{name} rolled back", reason)
    elif status.phase is Phase.FORWARD_FIX_PENDING:
        add("HotfixForwardFixHold", f"{spec.incident.id}: {namespace}/{name} holds for a forward fix", reason)
    elif status.phase is Phase.ESCALATED:
        succeeded = _condition(status, "Succeeded")
        why = succeeded.reason if succeeded else "Escalated"
        message = succeeded.message if succeeded else reason
        add("HotfixEscalated", f"{spec.incident.id}: {namespace}/{name} needs a person ({why})", message, reason=why)
    for hold in status.open_holds():
        if hold.held_at is None:
            continue
        deployments = ", ".join(hold.deployments)
        change = revert_text([t for t in status.targets if t.deployment in hold.deployments])
        add("HotfixGitOpsHeld", f"{spec.incident.id}: Git still holds the rolled-back version of {deployments}",
            f"{hold.describe()} is held so that it does not apply it again; revert it in Git, then "
            f"kubectl hotfix resume {name} -n {namespace}" + (f". Change to revert: {change}" if change else ""),
            owner=hold.describe())  # fmt: skip
    telemetry = _condition(status, "TelemetryReady")
    held = decision is not None and decision.rule == "telemetry-missing" and status.phase is Phase.MONITORING
    if (telemetry is not None and telemetry.status == "False") or held:
        why = telemetry.message if telemetry is not None and telemetry.status == "False" else reason
        add("HotfixTelemetryMissing", f"{spec.incident.id}: {namespace}/{name} cannot see its telemetry", why)
    return alerts
