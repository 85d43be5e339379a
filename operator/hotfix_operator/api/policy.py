"""The ``HotfixPolicy`` API: a standing guard over every new revision of the Deployments it selects.

A policy is namespaced, like the Hotfixes it creates: whoever may edit a namespace may guard its
Deployments, and the guards act as the policy's ``serviceAccountName``, never with more than that.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from hotfix_operator.api.models import (
    DNS_SUBDOMAIN,
    Analysis,
    ApiModel,
    Duration,
    Notify,
    ObjectMeta,
    Rollback,
    Rollout,
    RootCause,
    Safety,
    Severity,
    SpecError,
    Stability,
    describe_validation_error,
)

POLICY_KIND = "HotfixPolicy"
POLICY_PLURAL = "hotfixpolicies"
# On a guard Hotfix: the policy that created it (also its owner), the Deployment revision it guards.
POLICY_LABEL = "hotfix.dev/policy"
GUARDED_REVISION = "hotfix.dev/guarded-revision"
# On a Deployment: "false" keeps it out of every policy; the safety facts its guards get.
GUARD_OPT_OUT = "hotfix.dev/guard"
MIGRATIONS_ANNOTATION = "hotfix.dev/migrations"
LOSES_DATA_ANNOTATION = "hotfix.dev/rollback-loses-data"
DEPENDENCIES_ANNOTATION = "hotfix.dev/external-dependencies-compatible"

LabelKey = Annotated[str, Field(min_length=1, max_length=317)]
LabelValue = Annotated[str, Field(max_length=63, pattern=r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")]


class SelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class SelectorRequirement(ApiModel):
    key: LabelKey
    operator: SelectorOperator
    values: list[LabelValue] = Field(default_factory=list, max_length=100, validate_default=True)

    @field_validator("values")
    @classmethod
    def _values_fit_operator(cls, values: list[str], info: ValidationInfo) -> list[str]:
        operator = info.data.get("operator")
        if operator in (SelectorOperator.IN, SelectorOperator.NOT_IN) and not values:
            raise ValueError(f"values must not be empty with operator {operator.value}")
        if operator in (SelectorOperator.EXISTS, SelectorOperator.DOES_NOT_EXIST) and values:
            raise ValueError(f"values must be empty with operator {operator.value}")
        return values


class LabelSelector(ApiModel):
    """Kubernetes' label selector; an empty one selects every Deployment of the namespace."""

    match_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    match_expressions: list[SelectorRequirement] = Field(default_factory=list, max_length=20)

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(key) != value for key, value in self.match_labels.items()):
            return False
        return all(_requirement_met(requirement, labels) for requirement in self.match_expressions)


def _requirement_met(requirement: SelectorRequirement, labels: dict[str, str]) -> bool:
    present = requirement.key in labels
    match requirement.operator:
        case SelectorOperator.IN:
            return present and labels[requirement.key] in requirement.values
        case SelectorOperator.NOT_IN:
            return not present or labels[requirement.key] not in requirement.values
        case SelectorOperator.EXISTS:
            return present
        case SelectorOperator.DOES_NOT_EXIST:
            return not present


class GuardIncident(ApiModel):
    """What each guard's incident says; its id is the guard's own name (one change, one incident)."""

    severity: Severity = Severity.SEV3
    # Nobody has diagnosed a change the moment it breaches: unknown, so a breach rolls it back.
    root_cause: RootCause = RootCause.UNKNOWN


class Breaker(ApiModel):
    """At most ``maxRollbacks`` automatic rollbacks by this policy's guards within ``window``; beyond it,
    a rollback decision becomes an escalation (many bad deploys at once usually mean the telemetry or a
    shared dependency is broken, not every deploy)."""

    max_rollbacks: int = Field(default=3, ge=1, le=1000, strict=True)
    window: Duration = timedelta(minutes=10)


class HotfixPolicySpec(ApiModel):
    selector: LabelSelector = Field(default_factory=LabelSelector)
    # Deployment names never guarded (a Deployment can also opt out with the annotation hotfix.dev/guard=false).
    exclude: list[Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]] = Field(
        default_factory=list, max_length=500
    )
    incident: GuardIncident = Field(default_factory=GuardIncident)
    # The defaults of every guard; a Deployment's own annotations (hotfix.dev/migrations, ...) override them.
    safety: Safety = Field(default_factory=Safety)
    analysis: Analysis = Field(default_factory=Analysis)
    stability: Stability = Field(default_factory=Stability)
    rollout: Rollout = Field(default_factory=Rollout)
    rollback: Rollback = Field(default_factory=Rollback)
    notify: Notify = Field(default_factory=Notify)
    breaker: Breaker = Field(default_factory=Breaker)
    service_account_name: str = Field(default="", max_length=253, pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$")

    def guards(self, deployment: str, labels: dict[str, str], annotations: dict[str, str]) -> bool:
        """Whether a Deployment with these labels and annotations is guarded by this policy."""
        if deployment in self.exclude or annotations.get(GUARD_OPT_OUT, "").strip().lower() == "false":
            return False
        return self.selector.matches(labels)


class PolicyMetadata(ObjectMeta):
    # The policy's name is its guards' label value.
    name: str = Field(min_length=1, max_length=63, pattern=DNS_SUBDOMAIN)


class HotfixPolicyManifest(ApiModel):
    """A whole ``HotfixPolicy`` document as a person writes it."""

    api_version: Literal["hotfix.dev/v1alpha1"]
    kind: Literal["HotfixPolicy"]
    metadata: PolicyMetadata
    spec: HotfixPolicySpec = Field(default_factory=HotfixPolicySpec)
    status: dict[str, Any] | None = None


def parse_policy_manifest(document: dict[str, Any]) -> HotfixPolicyManifest:
    """Parse a whole HotfixPolicy document or raise SpecError naming each bad field."""
    try:
        return HotfixPolicyManifest.model_validate(document)
    except ValidationError as error:
        raise SpecError(describe_validation_error(error, model=HotfixPolicyManifest)) from None


def parse_policy_spec(spec: dict[str, Any]) -> HotfixPolicySpec:
    """Parse a HotfixPolicy's ``spec`` or raise SpecError naming each bad field."""
    try:
        return HotfixPolicySpec.model_validate(spec)
    except ValidationError as error:
        raise SpecError(describe_validation_error(error, "spec", HotfixPolicySpec)) from None
