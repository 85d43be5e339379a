"""The rollback-versus-forward-fix rules: a pure function from facts to a decision.

The rules are checked in order and the first that matches wins, so that each decision names exactly
one rule an SRE can look up. When nothing is clear the answer is a rollback: the safer way back is to
a state that is known to have worked, except where a rollback itself would do harm (lose data, break
applied migrations or external contracts).
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hotfix_operator.api.durations import format_duration, parse_duration
from hotfix_operator.api.models import Migrations, OnMissingData, RootCause, describe_validation_error
from hotfix_operator.api.status import AnalysisState

INCIDENT_AGE_LIMIT = timedelta(hours=1)
FAST_FORWARD_FIX_LIMIT = timedelta(minutes=30)


class Action(StrEnum):
    CONTINUE = "continue"
    HOLD = "hold"
    FORWARD_FIX = "forward-fix"
    ROLLBACK = "rollback"
    ROLLBACK_ALL = "rollback-all"
    ESCALATE = "escalate"


class Rule(StrEnum):
    ANALYSIS_PENDING = "analysis-pending"
    HEALTHY = "healthy"
    TELEMETRY_MISSING = "telemetry-missing"
    NO_TRAFFIC = "no-traffic"
    DATA_LOSS = "data-loss"
    MIGRATIONS_APPLIED = "migrations-applied"
    DEPENDENCIES_INCOMPATIBLE = "dependencies-incompatible"
    ROLLOUT_FAILED = "rollout-failed"
    MULTI_SERVICE_UNCLEAR = "multi-service-unclear"
    INCIDENT_TOO_LONG = "incident-too-long"
    FAST_FORWARD_FIX = "fast-forward-fix"
    ROOT_CAUSE_UNKNOWN = "root-cause-unknown"
    DEFAULT_ROLLBACK = "default-rollback"
    NO_ROLLBACK_TARGET = "no-rollback-target"
    # Not chosen by decide(): a person asked for the rollback (annotation or kubectl plugin).
    MANUAL_REQUEST = "manual-request"
    # Not chosen by decide(): a policy guard's rollback held back by the circuit breaker, for a person.
    ROLLBACK_BREAKER_OPEN = "rollback-breaker-open"


ROLLBACK_ACTIONS = frozenset({Action.ROLLBACK, Action.ROLLBACK_ALL})


def _signed_duration(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value, allow_negative=True)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A bare 90 could be seconds or minutes: never guessed, since it changes the answer.
        raise ValueError(f"a duration with its unit, such as '90s' or '2h', not the bare number {value}")
    return value


class Facts(BaseModel):
    """What the engine knows at one moment; omitted facts take the documented defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    analysis: AnalysisState
    on_missing_data: OnMissingData = Field(default=OnMissingData.HOLD, alias="onMissingData")
    root_cause: RootCause = Field(default=RootCause.UNKNOWN, alias="rootCause")
    # Time left until the promised forward fix: negative once it has passed, None when none was promised.
    forward_fix_eta_in: timedelta | None = Field(default=None, alias="forwardFixEtaIn")
    incident_age: timedelta = Field(default=timedelta(0), alias="incidentAge")
    rollback_loses_data: bool = Field(default=False, alias="rollbackLosesData")
    migrations: Migrations = Migrations.NONE
    external_dependencies_compatible: bool = Field(default=True, alias="externalDependenciesCompatible")
    affected_services: list[str] = Field(default_factory=lambda: ["service"], alias="affectedServices")
    culprit: str | None = None
    rollback_target_present: bool = Field(default=True, alias="rollbackTargetPresent")
    # Why the rollout cannot succeed (its new pods' evidence), when it cannot; None while it may.
    rollout_failure: str | None = Field(default=None, alias="rolloutFailure", min_length=1)

    @field_validator("forward_fix_eta_in", mode="before")
    @classmethod
    def _parse_eta(cls, value: Any) -> Any:
        return _signed_duration(value)

    @field_validator("incident_age", mode="before")
    @classmethod
    def _parse_age(cls, value: Any) -> Any:
        value = _signed_duration(value)
        if isinstance(value, timedelta) and value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @property
    def fix_in_sight(self) -> bool:
        """Root cause known and a promised forward fix whose time has not passed."""
        return (
            self.root_cause is RootCause.KNOWN
            and self.forward_fix_eta_in is not None
            and self.forward_fix_eta_in > timedelta(0)
        )

    @property
    def incident_too_old(self) -> bool:
        return self.incident_age > INCIDENT_AGE_LIMIT


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: Action
    rule: Rule
    reason: str


class FactsError(ValueError):
    """Facts that cannot be parsed, one line per problem naming its field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_facts(document: Any) -> Facts:
    if not isinstance(document, dict):
        raise FactsError(["facts: expected an object (a JSON or YAML mapping)"])
    try:
        return Facts.model_validate(document)
    except ValidationError as error:
        raise FactsError(describe_validation_error(error, model=Facts)) from None


def _age(facts: Facts) -> str:
    return format_duration(facts.incident_age)


def _forward_fix_or_escalate(facts: Facts, rule: Rule, why_not_rollback: str) -> Decision:
    if facts.incident_too_old and not facts.fix_in_sight:
        return Decision(
            action=Action.ESCALATE,
            rule=rule,
            reason=f"{why_not_rollback}, and the incident is {_age(facts)} old with no forward fix in sight: "
            "a person must decide",
        )
    return Decision(
        action=Action.FORWARD_FIX,
        rule=rule,
        reason=f"{why_not_rollback}: fix forward instead of rolling back",
    )


def _safety_concern(facts: Facts) -> tuple[Rule, str] | None:
    """The safety rule that forbids a rollback, and why; None when a rollback does no harm."""
    if facts.rollback_loses_data:
        return Rule.DATA_LOSS, "rolling back would lose data"
    if facts.migrations is Migrations.IRREVERSIBLE:
        return Rule.MIGRATIONS_APPLIED, "irreversible migrations are applied; the old version cannot run on them"
    if not facts.external_dependencies_compatible:
        return Rule.DEPENDENCIES_INCOMPATIBLE, "external dependencies no longer work with the previous version"
    return None


def _safety_decision(facts: Facts) -> Decision | None:
    concern = _safety_concern(facts)
    return _forward_fix_or_escalate(facts, *concern) if concern is not None else None


def _breach_decision(facts: Facts, trigger: str) -> Decision:
    safety = _safety_decision(facts)
    if safety is not None:
        return safety
    if len(facts.affected_services) > 1 and not facts.culprit:
        services = ", ".join(facts.affected_services)
        return Decision(
            action=Action.ROLLBACK_ALL,
            rule=Rule.MULTI_SERVICE_UNCLEAR,
            reason=f"{trigger}; {len(facts.affected_services)} services are affected ({services}) and no culprit "
            "is known: roll back every recent deploy of the incident in this namespace, and in other namespaces only "
            "where the Hotfix accepts this namespace's requests (spec.incident.acceptRollbackRequestsFrom)",
        )
    if facts.incident_too_old and not facts.fix_in_sight:
        return Decision(
            action=Action.ROLLBACK,
            rule=Rule.INCIDENT_TOO_LONG,
            reason=f"{trigger}; the incident is {_age(facts)} old (limit 1h) with no forward fix in sight",
        )
    eta = facts.forward_fix_eta_in
    if facts.root_cause is RootCause.KNOWN and eta is not None and timedelta(0) < eta < FAST_FORWARD_FIX_LIMIT:
        return Decision(
            action=Action.FORWARD_FIX,
            rule=Rule.FAST_FORWARD_FIX,
            reason=f"{trigger}; the root cause is known and a fix is due in {format_duration(eta)} (< 30m): "
            "hold for it, then decide again",
        )
    if facts.root_cause is RootCause.UNKNOWN:
        return Decision(
            action=Action.ROLLBACK,
            rule=Rule.ROOT_CAUSE_UNKNOWN,
            reason=f"{trigger}; the root cause is unknown and the impact is ongoing: roll back now",
        )
    return Decision(
        action=Action.ROLLBACK,
        rule=Rule.DEFAULT_ROLLBACK,
        reason=f"{trigger}; no forward fix is due within 30m: roll back, the safer way when it is unclear",
    )


def _rollout_failed(facts: Facts, failure: str) -> Decision:
    """A hotfix that never started cannot be fixed forward in place: roll back, unless a safety rule says
    a rollback would do harm, and then a person decides (its pods never served: nothing to hold for)."""
    concern = _safety_concern(facts)
    if concern is not None:
        rule, why_not_rollback = concern
        return Decision(
            action=Action.ESCALATE,
            rule=rule,
            reason=f"the rollout cannot succeed ({failure}), but {why_not_rollback}: a person must decide",
        )
    return Decision(
        action=Action.ROLLBACK,
        rule=Rule.ROLLOUT_FAILED,
        reason=f"the rollout cannot succeed: {failure}: roll back now",
    )


def _rule_decision(facts: Facts) -> Decision:
    if facts.rollout_failure is not None:
        return _rollout_failed(facts, facts.rollout_failure)
    if facts.analysis is AnalysisState.PENDING:
        return Decision(
            action=Action.CONTINUE,
            rule=Rule.ANALYSIS_PENDING,
            reason="not enough data yet to judge the thresholds",
        )
    if facts.analysis is AnalysisState.HEALTHY:
        return Decision(action=Action.CONTINUE, rule=Rule.HEALTHY, reason="no threshold is breached")
    if facts.analysis is AnalysisState.NO_TRAFFIC:
        # No request reached the targets: nothing proves the hotfix good or bad. Never a breach, never
        # healthy evidence: hold (no automatic action) and say so.
        return Decision(
            action=Action.HOLD,
            rule=Rule.NO_TRAFFIC,
            reason="no requests reached the targets in the window: the hotfix cannot be verified; hold, no "
            "automatic action",
        )
    if facts.analysis is AnalysisState.INCONCLUSIVE:
        if facts.on_missing_data is OnMissingData.HOLD:
            return Decision(
                action=Action.HOLD,
                rule=Rule.TELEMETRY_MISSING,
                reason="the analysis is inconclusive (telemetry missing): hold and alert, take no automatic action",
            )
        return _breach_decision(
            facts, "the analysis is inconclusive and onMissingData is rollback, so it counts as a breach"
        )
    return _breach_decision(facts, "a threshold is breached")


def decide(facts: Facts) -> Decision:
    """The action for these facts, the rule that chose it and a reason a person can read."""
    decision = _rule_decision(facts)
    if decision.action in ROLLBACK_ACTIONS and not facts.rollback_target_present:
        return Decision(
            action=Action.ESCALATE,
            rule=Rule.NO_ROLLBACK_TARGET,
            reason=f"rule {decision.rule} calls for a rollback, but a recorded rollback revision is gone: "
            "a person must choose where to go",
        )
    return decision
