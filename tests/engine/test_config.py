"""Operator-wide configuration: named Prometheus endpoints, presets and switched-off thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotfix_operator.engine.config import DEFAULT_ENDPOINT, OperatorConfig, load_endpoints


def test_endpoints_file_and_default_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret")
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text(
        f"endpoints:\n- name: team-a\n  url: https://prom-a.example:9090\n  bearerTokenFile: {token}\n"
        "- name: team-b\n  url: http://prom-b:9090\n  timeoutSeconds: 3\n"
    )
    monkeypatch.setenv("HOTFIX_PROMETHEUS_URL", "http://prometheus:9090")
    monkeypatch.setenv("HOTFIX_PROMETHEUS_ENDPOINTS_FILE", str(endpoints))
    config = OperatorConfig.from_environment()
    assert sorted(config.prometheus_endpoints) == [DEFAULT_ENDPOINT, "team-a", "team-b"]
    assert config.prometheus_endpoints["team-a"].bearer_token_file == token
    assert config.prometheus_endpoints["team-b"].timeout_seconds == 3


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("endpoints:\n- name: a\n  url: prom:9090\n", "endpoints[0].url"),
        ("endpoints:\n- name: A_B\n  url: http://p\n", "endpoints[0].name"),
        ("endpoints:\n- name: a\n  url: http://p\n  token: x\n", "endpoints[0].token"),
        ("endpoints:\n- {name: a, url: 'http://p'}\n- {name: a, url: 'http://q'}\n", "repeated: a"),
    ],
)
def test_bad_endpoints_file_names_the_field(tmp_path: Path, content: str, named: str) -> None:
    path = tmp_path / "endpoints.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match="HOTFIX_PROMETHEUS_ENDPOINTS_FILE") as error:
        load_endpoints(path)
    assert named in str(error.value)


def test_unknown_preset_and_threshold_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTFIX_TELEMETRY", "datadog")
    with pytest.raises(ValueError, match="HOTFIX_TELEMETRY"):
        OperatorConfig.from_environment()
    monkeypatch.setenv("HOTFIX_TELEMETRY", "istio")
    monkeypatch.setenv("HOTFIX_DISABLED_THRESHOLDS", "crashFreeSessions, uptime")
    with pytest.raises(ValueError, match="unknown threshold uptime"):
        OperatorConfig.from_environment()


@pytest.mark.parametrize("value", ["0", "-5", "many", "inf"])
def test_a_detail_write_budget_that_is_not_a_positive_number_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HOTFIX_STATUS_DETAIL_WRITES_PER_SECOND", value)
    with pytest.raises(ValueError, match="HOTFIX_STATUS_DETAIL_WRITES_PER_SECOND: expected a number above 0"):
        OperatorConfig.from_environment()
    monkeypatch.setenv("HOTFIX_STATUS_DETAIL_WRITES_PER_SECOND", "50")
    assert OperatorConfig.from_environment().status_detail_writes_per_second == 50


def test_query_overrides_are_on_by_default_and_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OperatorConfig.from_environment().query_settings.allow_overrides is True
    monkeypatch.setenv("HOTFIX_ALLOW_QUERY_OVERRIDES", "false")
    assert OperatorConfig.from_environment().query_settings.allow_overrides is False
    monkeypatch.setenv("HOTFIX_ALLOW_QUERY_OVERRIDES", "no")
    with pytest.raises(ValueError, match="HOTFIX_ALLOW_QUERY_OVERRIDES"):
        OperatorConfig.from_environment()
