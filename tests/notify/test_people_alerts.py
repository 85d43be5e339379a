"""Which decisions need people, and how the Alertmanager notifier fires and resolves them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from hotfix_operator.analysis.alert_rules import DEFAULT_SEVERITIES
from hotfix_operator.api.models import parse_spec
from hotfix_operator.api.status import (
    DecisionRecord,
    GitOpsHold,
    HotfixStatus,
    Phase,
    RevertLine,
    TargetStatus,
    set_condition,
)
from hotfix_operator.notify.alertmanager import AlertmanagerNotifier, AlertmanagerSettings
from hotfix_operator.notify.people_alerts import people_alerts

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
METADATA = {"namespace": "shop", "name": "cart-fix", "labels": {"team": "payments"}}
SPEC = parse_spec({"incident": {"id": "INC-9", "severity": "SEV1"}, "targets": [{"deployment": "cart"}]})


def names(status: HotfixStatus) -> list[str]:
    return [alert["labels"]["alertname"] for alert in people_alerts(METADATA, SPEC, status, DEFAULT_SEVERITIES)]


def test_each_situation_that_needs_people() -> None:
    decision = DecisionRecord(action="rollback", rule="root-cause-unknown", reason="r", at=NOW)
    assert names(HotfixStatus(phase=Phase.MONITORING)) == []
    assert names(HotfixStatus(phase=Phase.ROLLED_BACK, decision=decision)) == ["HotfixRolledBack"]
    assert names(HotfixStatus(phase=Phase.FORWARD_FIX_PENDING)) == ["HotfixForwardFixHold"]
    escalated = HotfixStatus(
        phase=Phase.ESCALATED, conditions=set_condition([], "Succeeded", "False", "RollbackUnverified", "m", NOW, 1)
    )
    [alert] = people_alerts(METADATA, SPEC, escalated, DEFAULT_SEVERITIES)
    assert alert["labels"]["alertname"] == "HotfixEscalated" and alert["labels"]["reason"] == "RollbackUnverified"
    missing = HotfixStatus(
        phase=Phase.MONITORING, conditions=set_condition([], "TelemetryReady", "False", "TelemetryMissing", "x", NOW, 1)
    )
    assert names(missing) == ["HotfixTelemetryMissing"]


def test_routing_labels() -> None:
    decision = DecisionRecord(action="rollback", rule="root-cause-unknown", reason="r", at=NOW)
    [alert] = people_alerts(
        METADATA, SPEC, HotfixStatus(phase=Phase.ROLLED_BACK, decision=decision), DEFAULT_SEVERITIES
    )
    assert alert["labels"] == {
        "alertname": "HotfixRolledBack",
        "severity": "critical",
        "incident": "INC-9",
        "incident_severity": "SEV1",
        "hotfix": "cart-fix",
        "namespace": "shop",
        "rule": "root-cause-unknown",
        "team": "payments",
    }


def test_notifier_resends_firing_and_resolves_what_ended() -> None:
    posted: list[list[dict[str, Any]]] = []
    settings = AlertmanagerSettings(url="http://127.0.0.1:9", resend=timedelta(seconds=60))
    notifier = AlertmanagerNotifier(settings, post=lambda _settings, alerts: posted.append(alerts))
    hold = {"labels": {"alertname": "HotfixForwardFixHold", "hotfix": "a"}, "annotations": {}}

    async def scenario() -> None:
        notifier.sync("shop/a", [hold])
        await notifier._send()
        notifier.sync("shop/a", [])
        await notifier._send()
        await notifier._send()

    asyncio.run(scenario())
    # Fired, resolved, then nothing left to send.
    assert len(posted) == 2
    first, second = posted
    assert first[0]["labels"]["alertname"] == "HotfixForwardFixHold" and first[0]["endsAt"] > first[0]["startsAt"]
    # Resolved once: endsAt now, same startsAt; then nothing more to send.
    assert second[0]["startsAt"] == first[0]["startsAt"] and second[0]["endsAt"] <= first[0]["endsAt"]


def test_alertmanager_down_keeps_the_alerts_for_the_next_try() -> None:
    attempts: list[int] = []

    def failing(_settings: AlertmanagerSettings, alerts: list[dict[str, Any]]) -> None:
        attempts.append(len(alerts))
        if len(attempts) == 1:
            raise ConnectionRefusedError

    notifier = AlertmanagerNotifier(AlertmanagerSettings(url="http://127.0.0.1:9"), post=failing)
    notifier.sync("shop/a", [{"labels": {"alertname": "HotfixEscalated"}, "annotations": {}}])
    notifier.forget("shop/a")

    async def twice() -> None:
        await notifier._send()
        await notifier._send()

    asyncio.run(twice())
    assert attempts == [1, 1]


def test_a_held_gitops_owner_pages_with_the_change_to_revert_until_given_back() -> None:
    revert = [
        RevertLine(field="spec.template.spec.containers[app].image", bad="cart:2", restored="cart:1", judged=True)
    ]
    target = TargetStatus(deployment="cart", baseline_revision=1, baseline_replica_set="cart-1", revert=revert)
    hold = GitOpsHold(kind="Application", namespace="argocd", name="shop", deployments=["cart"], held_at=NOW)
    status = HotfixStatus(phase=Phase.ROLLED_BACK, targets=[target], gitops=[hold])
    alerts = {a["labels"]["alertname"]: a for a in people_alerts(METADATA, SPEC, status, DEFAULT_SEVERITIES)}
    held = alerts["HotfixGitOpsHeld"]
    assert held["labels"]["owner"] == "Application argocd/shop"
    assert "kubectl hotfix resume cart-fix -n shop" in held["annotations"]["description"]
    assert "cart:2 -> cart:1" in held["annotations"]["description"]
    hold.resumed_at = NOW
    assert names(status) == ["HotfixRolledBack"]
