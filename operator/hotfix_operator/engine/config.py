"""Operator-wide configuration, from flags with environment variables as defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from hotfix_operator.analysis.presets import PRESET_NAMES, LabelNames
from hotfix_operator.analysis.queries import THRESHOLDS, QuerySettings
from hotfix_operator.api.durations import parse_duration


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


@dataclass(frozen=True)
class OperatorConfig:
    prometheus_url: str = ""
    prometheus_timeout_seconds: float = 10.0
    prometheus_bearer_token_file: Path | None = None
    prometheus_basic_auth_username_file: Path | None = None
    prometheus_basic_auth_password_file: Path | None = None
    prometheus_ca_file: Path | None = None
    query_settings: QuerySettings = field(default_factory=QuerySettings)
    recent_deploy_window: timedelta = timedelta(hours=2)
    metrics_port: int = 8080
    metrics_address: str = "0.0.0.0"
    notify_timeout_seconds: float = 5.0

    @classmethod
    def from_environment(cls) -> OperatorConfig:
        env = os.environ.get
        return cls(
            prometheus_url=env("HOTFIX_PROMETHEUS_URL", ""),
            prometheus_timeout_seconds=float(env("HOTFIX_PROMETHEUS_TIMEOUT_SECONDS", "10")),
            prometheus_bearer_token_file=_env_path("HOTFIX_PROMETHEUS_BEARER_TOKEN_FILE"),
            prometheus_basic_auth_username_file=_env_path("HOTFIX_PROMETHEUS_USERNAME_FILE"),
            prometheus_basic_auth_password_file=_env_path("HOTFIX_PROMETHEUS_PASSWORD_FILE"),
            prometheus_ca_file=_env_path("HOTFIX_PROMETHEUS_CA_FILE"),
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
            ),
            recent_deploy_window=parse_duration(env("HOTFIX_RECENT_DEPLOY_WINDOW", "2h")),
            metrics_port=int(env("HOTFIX_METRICS_PORT", "8080")),
            metrics_address=env("HOTFIX_METRICS_ADDRESS", "0.0.0.0"),
        )
