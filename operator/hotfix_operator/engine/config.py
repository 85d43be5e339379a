"""Operator-wide configuration, from flags with environment variables as defaults."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from hotfix_operator.analysis.alert_rules import DEFAULT_SEVERITIES
from hotfix_operator.analysis.presets import PRESET_NAMES, LabelNames
from hotfix_operator.analysis.prometheus import PrometheusSettings
from hotfix_operator.analysis.queries import THRESHOLDS, QuerySettings
from hotfix_operator.api.durations import parse_duration
from hotfix_operator.api.models import DNS_LABEL, Severity, describe_validation_error
from hotfix_operator.notify.alertmanager import AlertmanagerSettings


def _pairs(name: str, value: str) -> dict[str, str]:
    """``a=b,c=d`` as a mapping; a malformed pair is refused naming the setting."""
    pairs = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        key, separator, item_value = item.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"{name}: expected key=value pairs separated by commas, not {item!r}")
        pairs[key.strip()] = item_value.strip()
    return pairs


def alert_severities(value: str) -> dict[Severity, str]:
    """The alert ``severity`` label per incident severity, e.g. ``SEV1=page,SEV2=page,SEV3=ticket``."""
    chosen = dict(DEFAULT_SEVERITIES)
    for key, label in _pairs("HOTFIX_ALERT_SEVERITIES", value).items():
        try:
            chosen[Severity(key)] = label
        except ValueError:
            raise ValueError(f"HOTFIX_ALERT_SEVERITIES: unknown incident severity {key!r}; SEV1..SEV4") from None
    return chosen


def _env_flag(name: str, default: str = "false") -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value not in ("true", "false", "1", "0", ""):
        raise ValueError(f"{name}: expected true or false, not {value!r}")
    return value in ("true", "1")


def _positive_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{name}: expected a whole number of at least 1, not {value!r}")
    return number


def _positive_float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not number > 0 or math.isinf(number):
        raise ValueError(f"{name}: expected a number above 0, not {value!r}")
    return number


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def telemetry_preset(name: str) -> str:
    if name not in PRESET_NAMES:
        raise ValueError(f"HOTFIX_TELEMETRY / --telemetry: unknown preset {name!r}; one of {', '.join(PRESET_NAMES)}")
    return name


def disabled_thresholds(value: str) -> frozenset[str]:
    """A comma-separated list of thresholds switched off operator-wide, e.g. ``crashFreeSessions``."""
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(names - set(THRESHOLDS))
    if unknown:
        raise ValueError(
            f"HOTFIX_DISABLED_THRESHOLDS: unknown threshold {', '.join(unknown)}; one of {', '.join(THRESHOLDS)}"
        )
    return names


# The endpoint a Hotfix gets when it names none: HOTFIX_PROMETHEUS_URL and its credential files.
DEFAULT_ENDPOINT = "default"


class EndpointConfig(BaseModel):
    """One Prometheus the operator may query, with its own credentials (files, mounted from Secrets)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    name: str = Field(pattern=DNS_LABEL, max_length=63)
    url: str = Field(pattern=r"^https?://.+", max_length=2048)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    bearer_token_file: Path | None = None
    username_file: Path | None = None
    password_file: Path | None = None
    ca_file: Path | None = None

    def settings(self) -> PrometheusSettings:
        return PrometheusSettings(
            url=self.url,
            timeout_seconds=self.timeout_seconds,
            bearer_token_file=self.bearer_token_file,
            basic_auth_username_file=self.username_file,
            basic_auth_password_file=self.password_file,
            ca_file=self.ca_file,
        )


class EndpointsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoints: list[EndpointConfig] = Field(default_factory=list)


def load_endpoints(path: Path) -> dict[str, PrometheusSettings]:
    """The endpoints file (``HOTFIX_PROMETHEUS_ENDPOINTS_FILE``); a bad one is refused naming the field."""
    try:
        document = yaml.safe_load(path.read_text()) or {}
        parsed = EndpointsFile.model_validate(document)
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"HOTFIX_PROMETHEUS_ENDPOINTS_FILE {path}: {error}") from None
    except ValidationError as error:
        problems = "; ".join(describe_validation_error(error))
        raise ValueError(f"HOTFIX_PROMETHEUS_ENDPOINTS_FILE {path}: {problems}") from None
    names = [endpoint.name for endpoint in parsed.endpoints]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"HOTFIX_PROMETHEUS_ENDPOINTS_FILE {path}: endpoint names repeated: {', '.join(repeated)}")
    return {endpoint.name: endpoint.settings() for endpoint in parsed.endpoints}


def _default_endpoint(env: Callable[[str, str], str]) -> dict[str, PrometheusSettings]:
    url = env("HOTFIX_PROMETHEUS_URL", "")
    if not url:
        return {}
    return {
        DEFAULT_ENDPOINT: PrometheusSettings(
            url=url,
            timeout_seconds=float(env("HOTFIX_PROMETHEUS_TIMEOUT_SECONDS", "10")),
            bearer_token_file=_env_path("HOTFIX_PROMETHEUS_BEARER_TOKEN_FILE"),
            basic_auth_username_file=_env_path("HOTFIX_PROMETHEUS_USERNAME_FILE"),
            basic_auth_password_file=_env_path("HOTFIX_PROMETHEUS_PASSWORD_FILE"),
            ca_file=_env_path("HOTFIX_PROMETHEUS_CA_FILE"),
        )
    }


def _alertmanager(env: Callable[[str, str], str]) -> AlertmanagerSettings | None:
    url = env("HOTFIX_ALERTMANAGER_URL", "")
    if not url:
        return None
    return AlertmanagerSettings(
        url=url,
        resend=parse_duration(env("HOTFIX_ALERTMANAGER_RESEND", "1m")),
        bearer_token_file=_env_path("HOTFIX_ALERTMANAGER_BEARER_TOKEN_FILE"),
        ca_file=_env_path("HOTFIX_ALERTMANAGER_CA_FILE"),
    )


@dataclass(frozen=True)
class OperatorConfig:
    # The only Prometheus servers the operator queries, by name; a Hotfix names one, never a URL.
    prometheus_endpoints: dict[str, PrometheusSettings] = field(default_factory=dict)
    query_settings: QuerySettings = field(default_factory=QuerySettings)
    recent_deploy_window: timedelta = timedelta(hours=2)
    # True: refuse Hotfixes without spec.serviceAccountName (multi-tenant clusters).
    require_service_account: bool = False
    # The window's thresholds as a PrometheusRule, with the labels the cluster's Prometheus selects on.
    alert_rules: bool = True
    rule_labels: dict[str, str] = field(default_factory=dict)
    alert_severities: dict[Severity, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITIES))
    # Decisions that need people, posted to Alertmanager's API v2 (None: not configured).
    alertmanager: AlertmanagerSettings | None = None
    metrics_port: int = 8080
    metrics_address: str = "0.0.0.0"
    notify_timeout_seconds: float = 5.0
    # The numbers of an unchanged analysis are written at most this often (a changed phase, decision,
    # condition status or reason, checkpoint or timeline entry is written at once).
    status_detail_seconds: float = 60.0
    # ... or less often, so that the Hotfixes under analysis write their unchanged detail at most this many
    # times a second together (api/significance.py, detail_period).
    status_detail_writes_per_second: float = 20.0
    # The cluster-wide circuit breaker on policy guards' automatic rollbacks (each policy has its own too).
    guard_max_rollbacks: int = 10
    guard_rollback_window: timedelta = timedelta(minutes=10)
    # Argo CD's own namespace (where its Applications live unless apps-in-any-namespace names another), and
    # whether it tracks by the app.kubernetes.io/instance label instead of its tracking annotation.
    argocd_namespace: str = "argocd"
    argocd_label_tracking: bool = False

    @classmethod
    def from_environment(cls) -> OperatorConfig:
        env = os.environ.get
        endpoints = _default_endpoint(env)
        endpoints_file = _env_path("HOTFIX_PROMETHEUS_ENDPOINTS_FILE")
        if endpoints_file is not None:
            endpoints |= load_endpoints(endpoints_file)
        return cls(
            prometheus_endpoints=endpoints,
            query_settings=QuerySettings(
                label_names=LabelNames(
                    requests=env("HOTFIX_METRIC_REQUESTS", "http_requests_total"),
                    latency_buckets=env("HOTFIX_METRIC_LATENCY_BUCKETS", "http_request_duration_seconds_bucket"),
                    latency_unit=env("HOTFIX_METRIC_LATENCY_UNIT", "seconds"),
                    status_label=env("HOTFIX_LABEL_STATUS", "code"),
                    namespace_label=env("HOTFIX_LABEL_NAMESPACE", "namespace"),
                    deployment_label=env("HOTFIX_LABEL_DEPLOYMENT", "deployment"),
                    sessions=env("HOTFIX_METRIC_SESSIONS", "app_sessions_total"),
                    crashed_sessions=env("HOTFIX_METRIC_CRASHED_SESSIONS", "app_sessions_crashed_total"),
                ),
                default_preset=telemetry_preset(env("HOTFIX_TELEMETRY", "labels")),
                disabled_by_default=disabled_thresholds(env("HOTFIX_DISABLED_THRESHOLDS", "")),
                min_rate_window=parse_duration(env("HOTFIX_MIN_RATE_WINDOW", "1m")),
                allow_overrides=_env_flag("HOTFIX_ALLOW_QUERY_OVERRIDES", "true"),
            ),
            recent_deploy_window=parse_duration(env("HOTFIX_RECENT_DEPLOY_WINDOW", "2h")),
            require_service_account=_env_flag("HOTFIX_REQUIRE_SERVICE_ACCOUNT"),
            alert_rules=_env_flag("HOTFIX_ALERT_RULES", "true"),
            rule_labels=_pairs("HOTFIX_RULE_LABELS", env("HOTFIX_RULE_LABELS", "")),
            alert_severities=alert_severities(env("HOTFIX_ALERT_SEVERITIES", "")),
            alertmanager=_alertmanager(env),
            metrics_port=int(env("HOTFIX_METRICS_PORT", "8080")),
            metrics_address=env("HOTFIX_METRICS_ADDRESS", "0.0.0.0"),
            status_detail_seconds=float(env("HOTFIX_STATUS_DETAIL_SECONDS", "60")),
            status_detail_writes_per_second=_positive_float(
                "HOTFIX_STATUS_DETAIL_WRITES_PER_SECOND", env("HOTFIX_STATUS_DETAIL_WRITES_PER_SECOND", "20")
            ),
            guard_max_rollbacks=_positive_int("HOTFIX_GUARD_MAX_ROLLBACKS", env("HOTFIX_GUARD_MAX_ROLLBACKS", "10")),
            guard_rollback_window=parse_duration(env("HOTFIX_GUARD_ROLLBACK_WINDOW", "10m")),
            argocd_namespace=env("HOTFIX_ARGOCD_NAMESPACE", "argocd"),
            argocd_label_tracking=_env_flag("HOTFIX_ARGOCD_LABEL_TRACKING"),
        )
