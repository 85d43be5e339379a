"""Which other telemetry presets find the target where the Hotfix's own preset found nothing, so that a
diagnosis suggests only a preset that works, never one guessed from the labels.

Asked of Prometheus' index, like the diagnosis' follow-ups: for each other preset, the values its workload
label (or the pod name) takes among its metric's series in the target's namespace. A question is per
namespace, not per Deployment, so the checks of many new Deployments of one namespace share it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from hotfix_operator.analysis.presets import presets
from hotfix_operator.analysis.queries import AnalysisRequest, QuerySettings
from hotfix_operator.analysis.telemetry_check import Probe, SeriesQuestion, probes, quote

T = TypeVar("T")
Key = tuple[str, tuple[str, str]]  # (threshold, target)


class IndexQuestions(Protocol):
    """What is asked of the analyzer (analysis/prometheus.py), which asks this module in turn."""

    settings: QuerySettings

    def side_by_side(self, calls: list[Callable[[], T]]) -> list[T]: ...

    def series_answer_shared(self, question: SeriesQuestion, at: float | None = None) -> Any: ...


def trial_questions(
    settings: QuerySettings, request: AnalysisRequest, failed: list[Probe], window: timedelta
) -> dict[tuple[str, Key], tuple[Probe, SeriesQuestion]]:
    """(other preset, (threshold, target)) -> its probe there and the index question that finds it. Pure."""
    wanted = {(probe.threshold, probe.target) for probe in failed if not probe.override}
    trials: dict[tuple[str, Key], tuple[Probe, SeriesQuestion]] = {}
    for name, preset in presets(settings.label_names).items():
        if name == request.telemetry or not wanted:
            continue
        for probe in probes(preset, request, window):
            key = (probe.threshold, probe.target)
            if key in wanted and not probe.override:
                namespace = quote(probe.target[0])
                match = f'{probe.raw_metric}{{{probe.namespace_label}="{namespace}"}}'
                trials[(name, key)] = (probe, SeriesQuestion(match, probe.workload_label or "pod"))
    return trials


def finds(probe: Probe, values: list[str]) -> bool:
    """Whether the workload label's values (or pod names) in the namespace include the probe's Deployment."""
    deployment = probe.target[1]
    if probe.workload_label is None:
        return any(value.startswith(f"{deployment}-") for value in values)
    return deployment in values


def working_presets(
    analyzer: IndexQuestions, request: AnalysisRequest, failed: list[Probe], window: timedelta, at: float | None
) -> dict[Key, list[str]]:
    """(threshold, target) of each failed probe -> the other presets whose series include that target."""
    trials = trial_questions(analyzer.settings, request, failed, window)
    asked = list(trials.items())
    answers = analyzer.side_by_side(
        [functools.partial(analyzer.series_answer_shared, question, at) for _, (_, question) in asked]
    )
    working: dict[Key, list[str]] = {}
    for ((name, key), (probe, _)), answer in zip(asked, answers, strict=True):
        if isinstance(answer, list) and finds(probe, answer):
            working.setdefault(key, []).append(name)
    return one_preset_first(working, {(probe.threshold, probe.target) for probe in failed if not probe.override})


def one_preset_first(working: dict[Key, list[str]], failed: set[Key]) -> dict[Key, list[str]]:
    """A preset is chosen per Hotfix, not per threshold: the presets that find every failed threshold of a
    target come first in each of its lists, so the diagnosis does not suggest two presets for one Hotfix."""
    targets = {target for _, target in failed}
    common = {
        target: set.intersection(*(set(working.get(key, [])) for key in failed if key[1] == target))
        for target in targets
    }
    return {key: sorted(names, key=lambda name: name not in common[key[1]]) for key, names in working.items()}
