"""A corpus of Hotfix manifests: valid ones, and invalid ones that each make one mistake a person makes.

Shared by the offline agreement test (pydantic models vs the CRD's OpenAPI schema) and the cluster test
(the real API server with strict field validation), so the three can never disagree unnoticed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

DELETE = object()


def base_manifest(name: str = "auth-hotfix") -> dict[str, Any]:
    return {
        "apiVersion": "hotfix.dev/v1alpha1",
        "kind": "Hotfix",
        "metadata": {"name": name},
        "spec": {
            "incident": {"id": "INC-2026-0042", "severity": "SEV1"},
            "targets": [{"deployment": "auth-api", "images": {"app": "registry.example/auth:1.4.2-hotfix.1"}}],
        },
    }


def _set_path(document: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = document
    for part in parts[:-1]:
        key: Any = int(part) if part.isdigit() else part
        node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
    last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value


@dataclass(frozen=True)
class Case:
    id: str
    changes: dict[str, Any]
    # For an invalid case: the field path the error must name (as kubectl/pydantic print it).
    field: str | None = None
    # Rules only the API server applies (CEL, formats): an offline JSON-schema check cannot see them.
    server_only: bool = False
    note: str = ""

    def manifest(self) -> dict[str, Any]:
        document = copy.deepcopy(base_manifest(f"case-{self.id}"))
        for path, value in self.changes.items():
            _set_path(document, path, value)
        return document


VALID = [
    Case("minimal", {}),
    Case("observe-mode", {"spec.targets": [{"deployment": "auth-api"}]}),
    Case(
        "backend-telemetry",
        {
            "spec.analysis": {
                "telemetry": "kube-prometheus",
                "requireTelemetry": True,
                "latencyP95": {"enabled": False},
                "crashFreeSessions": {"source": "restarts", "enabled": True},
            }
        },
    ),
    Case(
        "everything",
        {
            "spec.incident": {
                "id": "INC-7",
                "severity": "SEV2",
                "startedAt": "2026-11-22T10:00:00Z",
                "rootCause": "known",
                "forwardFixEta": "20m",
                "culprit": "auth",
                "affectedServices": ["auth", "checkout"],
            },
            "spec.targets": [
                {"deployment": "auth-api", "images": {"app": "r/auth:2", "sidecar": "r/proxy:1"}},
                {"deployment": "checkout"},
            ],
            "spec.approval": {"required": True},
            "spec.safety": {
                "rollbackLosesData": False,
                "migrations": "reversible",
                "externalDependenciesCompatible": True,
            },
            "spec.analysis": {
                "prometheus": "team-payments",
                "interval": "15s",
                "errorRate": {"max": 0.02, "for": "2m", "query": "sum(rate(x[1m]))"},
                "latencyP95": {"maxMs": 800, "window": "30s", "consecutiveWindows": 4},
                "crashFreeSessions": {"min": 0.99, "over": "1h", "minSessions": 0},
                "onMissingData": "rollback",
            },
            "spec.stability": {"checkpoints": ["30s", "1m30s", "2m"]},
            "spec.rollback": {"mode": "manual", "toRevision": 3, "timeout": "2m", "verifyFor": "90s"},
            "spec.notify": {
                "slack": {
                    "webhookSecretRef": {"name": "war-room", "key": "url"},
                    "channel": "#hotfix-war-room",
                },
                "webhook": {"urlSecretRef": {"name": "pager", "key": "url"}},
            },
        },
    ),
    Case("dry-run", {"spec.rollback": {"mode": "dryRun"}}),
    Case("milliseconds", {"spec.analysis": {"interval": "500ms"}}),
    Case("unsorted-checkpoints", {"spec.stability": {"checkpoints": ["4h", "1h"]}}),
    Case("irreversible", {"spec.safety": {"migrations": "irreversible"}}),
]

INVALID = [
    Case("no-incident", {"spec.incident": DELETE}, "spec.incident"),
    Case("no-incident-id", {"spec.incident.id": DELETE}, "spec.incident.id"),
    Case("empty-incident-id", {"spec.incident.id": ""}, "spec.incident.id"),
    Case("wrong-severity", {"spec.incident.severity": "critical"}, "spec.incident.severity"),
    Case("lowercase-severity", {"spec.incident.severity": "sev1"}, "spec.incident.severity"),
    Case("no-severity", {"spec.incident.severity": DELETE}, "spec.incident.severity"),
    Case("bad-root-cause", {"spec.incident.rootCause": "maybe"}, "spec.incident.rootCause"),
    Case(
        "eta-without-known-cause",
        {"spec.incident.forwardFixEta": "20m"},
        "spec.incident.forwardFixEta",
        server_only=True,
    ),
    Case(
        "bad-started-at",
        {"spec.incident.startedAt": "yesterday"},
        "spec.incident.startedAt",
        server_only=True,
        note="format: date-time is checked by the API server, not by JSON-schema draft 4 by default",
    ),
    Case(
        "culprit-not-affected",
        {"spec.incident.culprit": "billing", "spec.incident.affectedServices": ["auth", "checkout"]},
        "spec.incident.culprit",
        server_only=True,
    ),
    Case("no-targets", {"spec.targets": DELETE}, "spec.targets"),
    Case("empty-targets", {"spec.targets": []}, "spec.targets"),
    Case(
        "target-without-deployment",
        {"spec.targets": [{"images": {"app": "x"}}]},
        "spec.targets[0].deployment",
    ),
    Case("uppercase-deployment", {"spec.targets": [{"deployment": "Auth_API"}]}, "spec.targets[0].deployment"),
    Case(
        "duplicate-target",
        {"spec.targets": [{"deployment": "auth-api"}, {"deployment": "auth-api"}]},
        "spec.targets",
        server_only=True,
    ),
    Case("empty-images", {"spec.targets": [{"deployment": "auth-api", "images": {}}]}, "spec.targets[0].images"),
    Case(
        "empty-image",
        {"spec.targets": [{"deployment": "auth-api", "images": {"app": ""}}]},
        "spec.targets[0].images.app",
    ),
    Case(
        "empty-container-name",
        {"spec.targets": [{"deployment": "auth-api", "images": {"": "r/auth:2"}}]},
        "spec.targets[0].images",
        server_only=True,
    ),
    Case(
        "images-as-list",
        {"spec.targets": [{"deployment": "auth-api", "images": ["r/auth:2"]}]},
        "spec.targets[0].images",
    ),
    Case("negative-error-rate", {"spec.analysis": {"errorRate": {"max": -0.01}}}, "spec.analysis.errorRate.max"),
    Case("percent-not-ratio", {"spec.analysis": {"errorRate": {"max": 5}}}, "spec.analysis.errorRate.max"),
    Case("zero-error-rate", {"spec.analysis": {"errorRate": {"max": 0}}}, "spec.analysis.errorRate.max"),
    Case("bad-duration", {"spec.analysis": {"errorRate": {"for": "5 minutes"}}}, "spec.analysis.errorRate.for"),
    Case("duration-without-unit", {"spec.analysis": {"interval": "30"}}, "spec.analysis.interval"),
    Case("duration-as-number", {"spec.analysis": {"interval": 30}}, "spec.analysis.interval"),
    Case("negative-duration", {"spec.rollback": {"timeout": "-1m"}}, "spec.rollback.timeout"),
    Case("zero-duration", {"spec.rollback": {"verifyFor": "0s"}}, "spec.rollback.verifyFor", server_only=True),
    Case("days-duration", {"spec.stability": {"checkpoints": ["1d"]}}, "spec.stability.checkpoints[0]"),
    Case("zero-latency", {"spec.analysis": {"latencyP95": {"maxMs": 0}}}, "spec.analysis.latencyP95.maxMs"),
    Case(
        "latency-as-string",
        {"spec.analysis": {"latencyP95": {"maxMs": "1200ms"}}},
        "spec.analysis.latencyP95.maxMs",
    ),
    Case(
        "zero-windows",
        {"spec.analysis": {"latencyP95": {"consecutiveWindows": 0}}},
        "spec.analysis.latencyP95.consecutiveWindows",
    ),
    Case(
        "crash-free-percent",
        {"spec.analysis": {"crashFreeSessions": {"min": 98}}},
        "spec.analysis.crashFreeSessions.min",
    ),
    Case(
        "negative-min-sessions",
        {"spec.analysis": {"crashFreeSessions": {"minSessions": -1}}},
        "spec.analysis.crashFreeSessions.minSessions",
    ),
    Case("bad-on-missing-data", {"spec.analysis": {"onMissingData": "ignore"}}, "spec.analysis.onMissingData"),
    Case(
        "prometheus-url-is-not-accepted",
        {"spec.analysis": {"prometheusUrl": "https://evil.example/"}},
        "spec.analysis.prometheusUrl",
        note="a Hotfix names an endpoint of the operator, never a URL that would receive its credentials",
    ),
    Case(
        "prometheus-endpoint-as-url",
        {"spec.analysis": {"prometheus": "http://evil.example"}},
        "spec.analysis.prometheus",
    ),
    Case("bad-rollback-mode", {"spec.rollback": {"mode": "automatic"}}, "spec.rollback.mode"),
    Case("negative-revision", {"spec.rollback": {"toRevision": -1}}, "spec.rollback.toRevision"),
    Case("no-checkpoints", {"spec.stability": {"checkpoints": []}}, "spec.stability.checkpoints"),
    Case("bad-migrations", {"spec.safety": {"migrations": "yes"}}, "spec.safety.migrations"),
    Case("string-bool", {"spec.safety": {"rollbackLosesData": "no"}}, "spec.safety.rollbackLosesData"),
    Case("unknown-spec-field", {"spec.rollbackOnFailure": True}, "spec.rollbackOnFailure"),
    Case(
        "unknown-nested-field",
        {"spec.analysis": {"errorRate": {"threshold": 0.01}}},
        "spec.analysis.errorRate.threshold",
    ),
    Case("typo-in-incident", {"spec.incident.serverity": "SEV1"}, "spec.incident.serverity"),
    Case(
        "secret-ref-without-key",
        {"spec.notify": {"slack": {"webhookSecretRef": {"name": "war-room"}}}},
        "spec.notify.slack.webhookSecretRef.key",
    ),
    Case("approval-as-bool", {"spec.approval": True}, "spec.approval"),
    Case("unknown-preset", {"spec.analysis": {"telemetry": "prometheus"}}, "spec.analysis.telemetry"),
    Case("enabled-as-string", {"spec.analysis": {"errorRate": {"enabled": "no"}}}, "spec.analysis.errorRate.enabled"),
    Case(
        "unknown-crash-free-source",
        {"spec.analysis": {"crashFreeSessions": {"source": "sentry"}}},
        "spec.analysis.crashFreeSessions.source",
    ),
    Case(
        "require-telemetry-as-string", {"spec.analysis": {"requireTelemetry": "yes"}}, "spec.analysis.requireTelemetry"
    ),
]
