"""Which telemetry presets find data where the Hotfix's own found none: each other preset's query for the
same threshold and target, run against Prometheus, so a diagnosis suggests only a preset that works.

Asked only for the probes that found nothing, all at once (the analyzer runs them side by side).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from hotfix_operator.analysis.presets import presets
from hotfix_operator.analysis.queries import AnalysisRequest, QuerySettings
from hotfix_operator.analysis.telemetry_check import Probe, probes

T = TypeVar("T")


class InstantQueries(Protocol):
    """What is asked of the analyzer (analysis/prometheus.py), which asks this module in turn."""

    settings: QuerySettings

    def side_by_side(self, calls: list[Callable[[], T]]) -> list[T]: ...

    def query_instant(self, promql: str, at: float | None = None) -> Any: ...


def working_presets(
    analyzer: InstantQueries, request: AnalysisRequest, failed: list[Probe], window: timedelta, at: float | None
) -> dict[tuple[str, tuple[str, str]], list[str]]:
    """(threshold, target) of each failed probe -> the other presets whose query for it returns data."""
    wanted = {(probe.threshold, probe.target) for probe in failed if not probe.override}
    trials: list[tuple[str, Probe]] = []
    for name, preset in presets(analyzer.settings.label_names).items():
        if name == request.telemetry:
            continue
        candidates = probes(preset, request, window)
        trials += [(name, probe) for probe in candidates if (probe.threshold, probe.target) in wanted]
    answers = analyzer.side_by_side([functools.partial(analyzer.query_instant, probe.query, at) for _, probe in trials])
    working: dict[tuple[str, tuple[str, str]], list[str]] = {}
    for (name, probe), answer in zip(trials, answers, strict=True):
        if answer and not isinstance(answer, Exception):
            working.setdefault((probe.threshold, probe.target), []).append(name)
    return working
