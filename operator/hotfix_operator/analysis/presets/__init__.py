"""Telemetry presets: one module per source of request and latency metrics."""

from __future__ import annotations

from hotfix_operator.analysis.presets.base import TelemetryPreset
from hotfix_operator.analysis.presets.istio import ISTIO
from hotfix_operator.analysis.presets.kube_prometheus import KUBE_PROMETHEUS
from hotfix_operator.analysis.presets.labels import LabelNames, labels_preset
from hotfix_operator.analysis.presets.linkerd import LINKERD
from hotfix_operator.analysis.presets.otel import OTEL, OTEL_LEGACY, OTEL_TARGET_INFO

PRESET_NAMES = ("istio", "linkerd", "otel", "otel-legacy", "otel-target-info", "kube-prometheus", "labels")


def presets(label_names: LabelNames | None = None) -> dict[str, TelemetryPreset]:
    """Every preset by name; ``labels`` takes the operator's configured names."""
    fixed = {preset.name: preset for preset in (ISTIO, LINKERD, OTEL, OTEL_LEGACY, OTEL_TARGET_INFO, KUBE_PROMETHEUS)}
    return fixed | {"labels": labels_preset(label_names)}


__all__ = ["PRESET_NAMES", "LabelNames", "TelemetryPreset", "presets"]
