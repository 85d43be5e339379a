"""The ``Hotfix`` API (``hotfix.dev/v1alpha1``) as pydantic models.

The models accept exactly what ``crds/hotfix.yaml`` admits (a test keeps the two in agreement over a
corpus of manifests), so the operator can trust a parsed spec and a person gets the same field-named
error from ``hotfix-operator`` commands as from the API server.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from hotfix_operator.api.durations import format_duration, parse_duration

GROUP = "hotfix.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "Hotfix"
PLURAL = "hotfixes"

# Kubernetes object names (RFC 1123 subdomain) and container names (RFC 1123 label).
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS_LABEL_RE = re.compile(DNS_LABEL)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(value)


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    AfterValidator(_positive),
    PlainSerializer(format_duration, return_type=str),
]


class ApiModel(BaseModel):
    """Base: camelCase on the wire, unknown fields refused (kubectl's strict field validation)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=False,
    )

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Severity(StrEnum):
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"


class RootCause(StrEnum):
    UNKNOWN = "unknown"
    KNOWN = "known"


class Migrations(StrEnum):
    NONE = "none"
    REVERSIBLE = "reversible"
    IRREVERSIBLE = "irreversible"


class OnMissingData(StrEnum):
    HOLD = "hold"
    ROLLBACK = "rollback"


class Telemetry(StrEnum):
    """Where the request and latency metrics come from (one preset module each under analysis/presets/)."""

    ISTIO = "istio"
    LINKERD = "linkerd"
    OTEL = "otel"
    OTEL_LEGACY = "otel-legacy"
    OTEL_TARGET_INFO = "otel-target-info"
    KUBE_PROMETHEUS = "kube-prometheus"
    LABELS = "labels"


class CrashFreeSource(StrEnum):
    SESSIONS = "sessions"  # app session counters (mobile and web apps)
    RESTARTS = "restarts"  # substitute for backends: the target's pods that did not restart (kube-state-metrics)


class RollbackMode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"
    DRY_RUN = "dryRun"


def _timestamp_string(value: Any) -> Any:
    # The CRD types this as a date-time string; a bare number is a mistake, not epoch seconds.
    if not isinstance(value, str | datetime):
        raise ValueError("must be an RFC 3339 date-time string, for example 2026-11-22T10:00:00Z")
    return value


class Incident(ApiModel):
    # Field order matters: cross-field checks below read fields validated before them.
    id: str = Field(min_length=1, max_length=128)
    severity: Severity
    started_at: Annotated[datetime, BeforeValidator(_timestamp_string)] | None = None
    root_cause: RootCause = RootCause.UNKNOWN
    forward_fix_eta: Duration | None = None
    affected_services: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(
        default_factory=list, max_length=50
    )
    culprit: str = Field(default="", max_length=253)
    # Namespaces whose Hotfixes of the same incident may ask this one to roll back (rule multi-service-unclear).
    # Only this Hotfix's own namespace may by default: an incident id is free text anyone can copy, so the
    # consent to a cross-namespace rollback comes from someone with rights in this namespace, here.
    accept_rollback_requests_from: list[Annotated[str, Field(max_length=63, pattern=DNS_LABEL)]] = Field(
        default_factory=list, max_length=50
    )

    @field_validator("forward_fix_eta")
    @classmethod
    def _eta_needs_known_cause(cls, eta: timedelta | None, info: ValidationInfo) -> timedelta | None:
        if eta is not None and info.data.get("root_cause") is not RootCause.KNOWN:
            raise ValueError("forwardFixEta is only meaningful with rootCause: known")
        return eta

    @field_validator("culprit")
    @classmethod
    def _culprit_is_affected(cls, culprit: str, info: ValidationInfo) -> str:
        affected = info.data.get("affected_services") or []
        if culprit and affected and culprit not in affected:
            raise ValueError("culprit must be one of affectedServices")
        return culprit


def _container_names(images: dict[str, str]) -> dict[str, str]:
    for container in images:
        if not _DNS_LABEL_RE.match(container):
            raise ValueError(f"container name {container!r} is not a valid container name (RFC 1123 label)")
    return images


class Target(ApiModel):
    deployment: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    # container name -> image; absent means observe mode (someone else applies the change).
    images: (
        Annotated[
            dict[str, Annotated[str, Field(min_length=1, max_length=1024)]],
            Field(min_length=1),
            AfterValidator(_container_names),
        ]
        | None
    ) = None
    # Observe mode only: the revision before the change, when the change was applied before the Hotfix
    # existed (a policy's guard). It is the rollback target, and any later revision is the change.
    from_revision: int | None = Field(default=None, ge=1, strict=True)

    @field_validator("from_revision")
    @classmethod
    def _from_revision_observes(cls, from_revision: int | None, info: ValidationInfo) -> int | None:
        if from_revision is not None and info.data.get("images") is not None:
            raise ValueError("fromRevision is only meaningful without images (observe mode)")
        return from_revision

    @property
    def observe_only(self) -> bool:
        return self.images is None


class Approval(ApiModel):
    required: StrictBool = False


class Safety(ApiModel):
    rollback_loses_data: StrictBool = False
    migrations: Migrations = Migrations.NONE
    external_dependencies_compatible: StrictBool = True


class ErrorRateThreshold(ApiModel):
    # None: the operator's default (on unless switched off operator-wide).
    enabled: StrictBool | None = None
    max: float = Field(default=0.01, gt=0, lt=1, strict=True)
    for_: Duration = Field(default=timedelta(minutes=5), alias="for")
    query: str | None = Field(default=None, min_length=1)


class LatencyThreshold(ApiModel):
    enabled: StrictBool | None = None
    max_ms: int = Field(default=1200, gt=0, le=3_600_000, strict=True)
    window: Duration = timedelta(minutes=1)
    consecutive_windows: int = Field(default=3, ge=1, le=100, strict=True)
    query: str | None = Field(default=None, min_length=1)


class CrashFreeThreshold(ApiModel):
    enabled: StrictBool | None = None
    source: CrashFreeSource = CrashFreeSource.SESSIONS
    min: float = Field(default=0.98, gt=0, lt=1, strict=True)
    over: Duration = timedelta(minutes=30)
    min_sessions: int = Field(default=100, ge=0, strict=True)
    query: str | None = Field(default=None, min_length=1)


class Analysis(ApiModel):
    # A Prometheus endpoint of the operator's configuration, by name: never a URL, so that creating a
    # Hotfix cannot send the operator's credentials (or its requests) anywhere else. Empty: "default".
    prometheus: str = Field(default="", max_length=63, pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$")
    # None: the operator's default preset.
    telemetry: Telemetry | None = None
    interval: Duration = timedelta(seconds=30)
    error_rate: ErrorRateThreshold = Field(default_factory=ErrorRateThreshold)
    latency_p95: LatencyThreshold = Field(default_factory=LatencyThreshold)
    crash_free_sessions: CrashFreeThreshold = Field(default_factory=CrashFreeThreshold)
    on_missing_data: OnMissingData = OnMissingData.HOLD
    # True: hold the rollout until every enabled threshold has data for every target.
    require_telemetry: StrictBool = False


def _sorted_checkpoints(checkpoints: list[timedelta]) -> list[timedelta]:
    # The last checkpoint closes the window, so order is what matters, not how it was written.
    return sorted(checkpoints)


class Stability(ApiModel):
    checkpoints: Annotated[list[Duration], Field(min_length=1, max_length=10), AfterValidator(_sorted_checkpoints)] = (
        Field(default_factory=lambda: [timedelta(hours=1), timedelta(hours=4), timedelta(hours=24)])
    )

    @property
    def window(self) -> timedelta:
        return self.checkpoints[-1]


class Rollback(ApiModel):
    mode: RollbackMode = RollbackMode.AUTO
    to_revision: int = Field(default=0, ge=0, strict=True)
    timeout: Duration = timedelta(seconds=120)
    verify_for: Duration = timedelta(minutes=5)


class Rollout(ApiModel):
    """When a rollout that does not progress counts as one that cannot succeed (rule rollout-failed)."""

    # A new pod not Ready within this long of its creation (the playbook's `kubectl rollout status
    # --timeout=120s`, per pod: a rollout of slow starters that progresses pod by pod goes on).
    timeout: Duration = timedelta(seconds=120)
    # A new pod's container down again after this many restarts (a crash loop, or killed for memory); 1: it
    # crashed, was restarted at once, and crashed again.
    max_restarts: int = Field(default=1, ge=1, le=100, strict=True)


class SecretKeyRef(ApiModel):
    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    key: str = Field(min_length=1, max_length=253)


class SlackNotify(ApiModel):
    webhook_secret_ref: SecretKeyRef
    channel: str = ""


class WebhookNotify(ApiModel):
    url_secret_ref: SecretKeyRef


class Notify(ApiModel):
    slack: SlackNotify | None = None
    webhook: WebhookNotify | None = None


class HotfixSpec(ApiModel):
    incident: Incident
    targets: list[Target] = Field(min_length=1, max_length=20)
    approval: Approval = Field(default_factory=Approval)
    safety: Safety = Field(default_factory=Safety)
    analysis: Analysis = Field(default_factory=Analysis)
    stability: Stability = Field(default_factory=Stability)
    rollout: Rollout = Field(default_factory=Rollout)
    rollback: Rollback = Field(default_factory=Rollback)
    notify: Notify = Field(default_factory=Notify)
    # The tenant identity the operator acts with (impersonated) for Deployments and Secrets; empty: the
    # operator's own, unless the operator requires one.
    service_account_name: str = Field(default="", max_length=253, pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$")

    @field_validator("targets")
    @classmethod
    def _unique_targets(cls, targets: list[Target]) -> list[Target]:
        names = [target.deployment for target in targets]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"each Deployment may be a target once; repeated: {', '.join(duplicates)}")
        return targets

    def affected_services(self) -> list[str]:
        """The incident's affected services, defaulting to the targets' names."""
        return list(self.incident.affected_services) or [target.deployment for target in self.targets]


class ObjectMeta(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    namespace: str | None = None


class HotfixManifest(ApiModel):
    """A whole ``Hotfix`` document as a person writes it (``kubectl apply -f``)."""

    api_version: Literal["hotfix.dev/v1alpha1"]
    kind: Literal["Hotfix"]
    metadata: ObjectMeta
    spec: HotfixSpec
    status: dict[str, Any] | None = None


class SpecError(ValueError):
    """A Hotfix that cannot be parsed, with one line per problem, each naming its field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _field_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        # pydantic adds the validator kind to the location of Annotated and union members.
        if isinstance(part, str) and (part.startswith(("function-", "constrained-")) or part == "timedelta"):
            continue
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".")


# What a field's value means, said with its error: "less than 1" alone does not say 0.01 is 1%.
VALUE_HINTS = {
    "errorRate.max": "a ratio between 0 and 1: 0.01 is 1%",
    "crashFreeSessions.min": "a ratio between 0 and 1: 0.98 is 98%",
    "latencyP95.maxMs": "milliseconds, a whole number",
    "latencyP95.consecutiveWindows": "a whole number of windows",
    "crashFreeSessions.minSessions": "a whole number of sessions",
    "rollout.maxRestarts": "a whole number of container restarts",
    "fromRevision": "a revision number as `kubectl rollout history` shows it",
    "toRevision": "a revision number as `kubectl rollout history` shows it",
}


def _known_names(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> list[str]:
    """The field names (as written in YAML) of the model at ``loc``, following nested models and lists."""
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = next((f for name, f in model.model_fields.items() if part in (f.alias, name)), None)
        model = _model_in(field.annotation) if field is not None else None
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _hint(path: str, message: str) -> str:
    hint = next((text for suffix, text in VALUE_HINTS.items() if path.endswith(suffix)), None)
    return f"{message} ({hint})" if hint and hint not in message else message


def describe_validation_error(
    error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None
) -> list[str]:
    """Turn pydantic's errors into lines such as ``spec.analysis.errorRate.max: must be < 1 (a ratio between 0
    and 1: 0.01 is 1%)``; an unknown field names the nearest known one when ``model`` is given."""
    problems = []
    for item in error.errors(include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        path = _field_path(prefix, item["loc"])
        if item["type"] == "extra_forbidden":
            unknown = str(item["loc"][-1])
            near = difflib.get_close_matches(unknown, _known_names(model, item["loc"][:-1]), n=1, cutoff=0.6)
            message = "unknown field" + (f"; did you mean `{near[0]}`?" if near else "")
        else:
            message = _hint(path, message)
        problems.append(f"{path}: {message}")
    return problems


def parse_spec(spec: dict[str, Any]) -> HotfixSpec:
    """Parse a Hotfix's ``spec`` or raise SpecError naming each bad field."""
    try:
        return HotfixSpec.model_validate(spec)
    except ValidationError as error:
        raise SpecError(describe_validation_error(error, "spec", HotfixSpec)) from None


def parse_manifest(document: dict[str, Any]) -> HotfixManifest:
    """Parse a whole Hotfix document or raise SpecError naming each bad field."""
    try:
        return HotfixManifest.model_validate(document)
    except ValidationError as error:
        raise SpecError(describe_validation_error(error, model=HotfixManifest)) from None
