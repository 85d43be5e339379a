"""The decision table: one row per situation, shared by the engine's tests and the CLI's."""

from __future__ import annotations

from typing import Any

from hotfix_operator.rules.decision import Action, Rule

BREACH: dict[str, Any] = {"analysis": "breached"}

# (id, facts, expected action, expected rule)

TABLE: list[tuple[str, dict[str, Any], Action, Rule]] = [
    ("pending", {"analysis": "pending"}, Action.CONTINUE, Rule.ANALYSIS_PENDING),
    ("no traffic holds", {"analysis": "no-traffic"}, Action.HOLD, Rule.NO_TRAFFIC),
    (
        "no traffic is never a breach",
        {"analysis": "no-traffic", "onMissingData": "rollback"},
        Action.HOLD,
        Rule.NO_TRAFFIC,
    ),
    ("healthy", {"analysis": "healthy"}, Action.CONTINUE, Rule.HEALTHY),
    ("healthy-even-if-old", {"analysis": "healthy", "incidentAge": "5h"}, Action.CONTINUE, Rule.HEALTHY),
    ("telemetry-missing", {"analysis": "inconclusive"}, Action.HOLD, Rule.TELEMETRY_MISSING),
    (
        "missing-data-counts-as-breach",
        {"analysis": "inconclusive", "onMissingData": "rollback"},
        Action.ROLLBACK,
        Rule.ROOT_CAUSE_UNKNOWN,
    ),
    ("data-loss", {**BREACH, "rollbackLosesData": True}, Action.FORWARD_FIX, Rule.DATA_LOSS),
    (
        "rollout-failed",
        {"analysis": "pending", "rolloutFailure": "auth: auth-7d9-x/app: ImagePullBackOff"},
        Action.ROLLBACK,
        Rule.ROLLOUT_FAILED,
    ),
    (
        "rollout-failed-even-with-a-fix-due",
        {
            "analysis": "healthy",
            "rolloutFailure": "auth: CrashLoopBackOff",
            "rootCause": "known",
            "forwardFixEtaIn": "10m",
        },
        Action.ROLLBACK,
        Rule.ROLLOUT_FAILED,
    ),
    (
        "rollout-failed-with-migrations-goes-to-a-person",
        {"analysis": "pending", "rolloutFailure": "auth: CrashLoopBackOff", "migrations": "irreversible"},
        Action.ESCALATE,
        Rule.MIGRATIONS_APPLIED,
    ),
    (
        "rollout-failed-losing-data-goes-to-a-person",
        {"analysis": "pending", "rolloutFailure": "auth: OOMKilled", "rollbackLosesData": True},
        Action.ESCALATE,
        Rule.DATA_LOSS,
    ),
    (
        "data-loss-old-no-fix",
        {**BREACH, "rollbackLosesData": True, "incidentAge": "61m"},
        Action.ESCALATE,
        Rule.DATA_LOSS,
    ),
    (
        "data-loss-old-fix-in-sight",
        {
            **BREACH,
            "rollbackLosesData": True,
            "incidentAge": "2h",
            "rootCause": "known",
            "forwardFixEtaIn": "10m",
        },
        Action.FORWARD_FIX,
        Rule.DATA_LOSS,
    ),
    (
        "data-loss-exactly-1h",
        {**BREACH, "rollbackLosesData": True, "incidentAge": "1h"},
        Action.FORWARD_FIX,
        Rule.DATA_LOSS,
    ),
    ("migrations", {**BREACH, "migrations": "irreversible"}, Action.FORWARD_FIX, Rule.MIGRATIONS_APPLIED),
    (
        "migrations-old",
        {**BREACH, "migrations": "irreversible", "incidentAge": "1h0m1s"},
        Action.ESCALATE,
        Rule.MIGRATIONS_APPLIED,
    ),
    (
        "reversible-migrations",
        {**BREACH, "migrations": "reversible"},
        Action.ROLLBACK,
        Rule.ROOT_CAUSE_UNKNOWN,
    ),
    (
        "dependencies",
        {**BREACH, "externalDependenciesCompatible": False},
        Action.FORWARD_FIX,
        Rule.DEPENDENCIES_INCOMPATIBLE,
    ),
    (
        "dependencies-old",
        {**BREACH, "externalDependenciesCompatible": False, "incidentAge": "3h"},
        Action.ESCALATE,
        Rule.DEPENDENCIES_INCOMPATIBLE,
    ),
    (
        "safety-before-multi-service",
        {**BREACH, "rollbackLosesData": True, "affectedServices": ["a", "b"]},
        Action.FORWARD_FIX,
        Rule.DATA_LOSS,
    ),
    (
        "multi-service",
        {**BREACH, "affectedServices": ["a", "b"]},
        Action.ROLLBACK_ALL,
        Rule.MULTI_SERVICE_UNCLEAR,
    ),
    (
        "multi-service-known-culprit",
        {**BREACH, "affectedServices": ["a", "b"], "culprit": "a"},
        Action.ROLLBACK,
        Rule.ROOT_CAUSE_UNKNOWN,
    ),
    (
        "multi-service-even-with-fast-fix",
        {**BREACH, "affectedServices": ["a", "b"], "rootCause": "known", "forwardFixEtaIn": "5m"},
        Action.ROLLBACK_ALL,
        Rule.MULTI_SERVICE_UNCLEAR,
    ),
    (
        "too-long",
        {**BREACH, "incidentAge": "61m", "rootCause": "known"},
        Action.ROLLBACK,
        Rule.INCIDENT_TOO_LONG,
    ),
    ("exactly-1h-is-not-too-long", {**BREACH, "incidentAge": "1h"}, Action.ROLLBACK, Rule.ROOT_CAUSE_UNKNOWN),
    (
        "too-long-but-fix-in-sight",
        {**BREACH, "incidentAge": "2h", "rootCause": "known", "forwardFixEtaIn": "10m"},
        Action.FORWARD_FIX,
        Rule.FAST_FORWARD_FIX,
    ),
    (
        "too-long-eta-passed",
        {**BREACH, "incidentAge": "2h", "rootCause": "known", "forwardFixEtaIn": "-1s"},
        Action.ROLLBACK,
        Rule.INCIDENT_TOO_LONG,
    ),
    (
        "fast-forward-fix",
        {**BREACH, "rootCause": "known", "forwardFixEtaIn": "20m", "incidentAge": "45m"},
        Action.FORWARD_FIX,
        Rule.FAST_FORWARD_FIX,
    ),
    (
        "eta-just-under-30m",
        {**BREACH, "rootCause": "known", "forwardFixEtaIn": "29m59s"},
        Action.FORWARD_FIX,
        Rule.FAST_FORWARD_FIX,
    ),
    (
        "eta-exactly-30m-is-not-fast",
        {**BREACH, "rootCause": "known", "forwardFixEtaIn": "30m"},
        Action.ROLLBACK,
        Rule.DEFAULT_ROLLBACK,
    ),
    (
        "eta-just-passed",
        {**BREACH, "rootCause": "known", "forwardFixEtaIn": "-1s"},
        Action.ROLLBACK,
        Rule.DEFAULT_ROLLBACK,
    ),
    (
        "eta-due-now",
        {**BREACH, "rootCause": "known", "forwardFixEtaIn": "0s"},
        Action.ROLLBACK,
        Rule.DEFAULT_ROLLBACK,
    ),
    ("root-cause-unknown", BREACH, Action.ROLLBACK, Rule.ROOT_CAUSE_UNKNOWN),
    (
        "unknown-cause-ignores-eta",
        {**BREACH, "forwardFixEtaIn": "5m"},
        Action.ROLLBACK,
        Rule.ROOT_CAUSE_UNKNOWN,
    ),
    ("known-no-eta", {**BREACH, "rootCause": "known"}, Action.ROLLBACK, Rule.DEFAULT_ROLLBACK),
    ("no-target", {**BREACH, "rollbackTargetPresent": False}, Action.ESCALATE, Rule.NO_ROLLBACK_TARGET),
    (
        "no-target-multi",
        {**BREACH, "affectedServices": ["a", "b"], "rollbackTargetPresent": False},
        Action.ESCALATE,
        Rule.NO_ROLLBACK_TARGET,
    ),
    (
        "no-target-irrelevant-for-forward-fix",
        {**BREACH, "migrations": "irreversible", "rollbackTargetPresent": False},
        Action.FORWARD_FIX,
        Rule.MIGRATIONS_APPLIED,
    ),
]
