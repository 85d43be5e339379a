"""Decisions that need people reach a real Alertmanager, whose routes page or tell the war room."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from hotfix_operator.rules.lifecycle import ABORT_REQUEST
from hotfix_operator.testbed.alertmanager import LocalAlertmanager
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import BAD_IMAGE, GOOD_IMAGE, Cluster, eventually, hotfix_manifest


class Receivers(BaseHTTPRequestHandler):
    """Alertmanager's webhook receivers: /pager and /war-room, every notification kept."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.append({"route": self.path.strip("/"), **json.loads(self.rfile.read(length))})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture(scope="module")
def receivers() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receivers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def alertmanager(testbed: TestBed, receivers: str) -> Iterator[LocalAlertmanager]:
    config = {
        "route": {
            "receiver": "war-room",
            "group_by": ["alertname", "hotfix", "namespace"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
            # An escalation of a paging incident wakes the on-call engineer; everything else is the war room's.
            "routes": [{"receiver": "pager", "matchers": ['severity="page"', 'alertname="HotfixEscalated"']}],
        },
        "receivers": [
            {"name": name, "webhook_configs": [{"url": f"{receivers}/{name}", "send_resolved": True}]}
            for name in ("war-room", "pager")
        ],
    }
    server = LocalAlertmanager(testbed.work_dir / "alertmanager", config)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def paging_operator(
    testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None, alertmanager: LocalAlertmanager
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        testbed_state.kubeconfig,
        testbed_state.prometheus_url,
        testbed.work_dir / "alerting-operator.log",
        env={
            "HOTFIX_ALERTMANAGER_URL": alertmanager.url,
            "HOTFIX_ALERTMANAGER_RESEND": "2s",
            "HOTFIX_ALERT_SEVERITIES": "SEV1=page,SEV2=page,SEV3=ticket,SEV4=ticket",
        },
    )
    process.start()
    yield process
    process.stop()


def alerts(route: str, alertname: str, hotfix: str, status: str = "firing") -> list[dict[str, Any]]:
    return [
        alert
        for notification in Receivers.received
        if notification["route"] == route
        for alert in notification["alerts"]
        if alert["labels"].get("alertname") == alertname
        and alert["labels"].get("hotfix") == hotfix
        and alert["status"] == status
    ]


def test_rollback_reaches_the_war_room_and_resolves(paging_operator: OperatorProcess, cluster: Cluster) -> None:
    cluster.create_deployment("ledger")
    body = hotfix_manifest("ledger-fix", ["ledger"], BAD_IMAGE)
    body["metadata"]["labels"] = {"team": "payments"}
    cluster.apply_hotfix(body)
    assert cluster.wait_phase("ledger-fix", "RolledBack", "Escalated")["phase"] == "RolledBack"
    eventually(lambda: bool(alerts("war-room", "HotfixRolledBack", "ledger-fix")), 30, "the war room to hear of it")
    labels = alerts("war-room", "HotfixRolledBack", "ledger-fix")[0]["labels"]
    assert (
        labels | {} == labels
        and {
            "severity": "page",
            "incident": "INC-ledger-fix",
            "namespace": cluster.namespace,
            "rule": "root-cause-unknown",
            "team": "payments",
        }.items()
        <= labels.items()
    )
    assert not alerts("pager", "HotfixRolledBack", "ledger-fix")
    # The rollback is done with once the Hotfix goes: the alert is resolved.
    cluster.custom.delete_namespaced_custom_object(
        "hotfix.dev", "v1alpha1", cluster.namespace, "hotfixes", "ledger-fix"
    )
    eventually(lambda: bool(alerts("war-room", "HotfixRolledBack", "ledger-fix", "resolved")), 30, "the resolution")


def test_sev1_escalation_pages_and_forward_fix_hold_goes_to_the_war_room(
    paging_operator: OperatorProcess, cluster: Cluster
) -> None:
    cluster.create_deployment("mail")
    held = hotfix_manifest("mail-fix", ["mail"], BAD_IMAGE)
    held["spec"]["incident"] |= {"rootCause": "known", "forwardFixEta": "10m"}
    cluster.apply_hotfix(held)
    cluster.wait_phase("mail-fix", "ForwardFixPending")
    eventually(lambda: bool(alerts("war-room", "HotfixForwardFixHold", "mail-fix")), 30, "the hold in the war room")
    cluster.annotate_hotfix("mail-fix", ABORT_REQUEST, "carol")
    cluster.wait_phase("mail-fix", "Escalated")
    eventually(lambda: bool(alerts("pager", "HotfixEscalated", "mail-fix")), 30, "the escalation to page")
    assert alerts("pager", "HotfixEscalated", "mail-fix")[0]["labels"]["reason"] == "Aborted"
    # The hold ended with the escalation.
    eventually(
        lambda: bool(alerts("war-room", "HotfixForwardFixHold", "mail-fix", "resolved")), 30, "the hold resolved"
    )


def test_alertmanager_down_never_delays_a_rollback(
    paging_operator: OperatorProcess, cluster: Cluster, alertmanager: LocalAlertmanager
) -> None:
    alertmanager.stop()
    try:
        cluster.create_deployment("quota")
        cluster.apply_hotfix(hotfix_manifest("quota-fix", ["quota"], BAD_IMAGE))
        status = cluster.wait_phase("quota-fix", "RolledBack", "Escalated")
        assert status["phase"] == "RolledBack", status
        assert cluster.image("quota") == GOOD_IMAGE
    finally:
        alertmanager.start()
    # Kept and sent again once Alertmanager answers.
    eventually(lambda: bool(alerts("war-room", "HotfixRolledBack", "quota-fix")), 60, "the alert delivered late")
