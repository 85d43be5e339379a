"""The preset a diagnosis suggests: one that finds the target, and one for the whole Hotfix."""

from __future__ import annotations

from hotfix_operator.analysis.preset_trial import one_preset_first

TARGET = ("shop", "web")
OTHER = ("shop", "cart")


def test_the_preset_that_finds_every_threshold_comes_first() -> None:
    working = {("errorRate", TARGET): ["kube-prometheus"], ("crashFreeSessions", TARGET): ["istio", "kube-prometheus"]}
    failed = {("errorRate", TARGET), ("crashFreeSessions", TARGET)}
    assert one_preset_first(working, failed)[("crashFreeSessions", TARGET)] == ["kube-prometheus", "istio"]


def test_without_a_common_preset_each_threshold_keeps_its_own_and_targets_are_apart() -> None:
    working = {("errorRate", TARGET): ["linkerd"], ("latencyP95", TARGET): ["istio"], ("errorRate", OTHER): ["otel"]}
    failed = {("errorRate", TARGET), ("latencyP95", TARGET), ("errorRate", OTHER)}
    assert one_preset_first(working, failed) == working
