"""Query planning: one range query per shape, whatever the number of Hotfixes."""

from __future__ import annotations

from typing import Any

from hotfix_operator.analysis.queries import (
    AnalysisRequest,
    MetricNames,
    override_queries,
    plan_queries,
    render_override,
    selector,
)
from hotfix_operator.analysis.verdicts import increase_within, series_for
from hotfix_operator.api.models import Analysis

NOW = 1_800_000_000.0


def request(index: int, **analysis: Any) -> AnalysisRequest:
    return AnalysisRequest(
        key=f"ns/hf-{index}",
        targets=((f"ns-{index % 3}", f"svc-{index}"),),
        analysis=Analysis.model_validate(analysis),
        active_since=NOW - 3600,
    )


def test_query_count_does_not_grow_with_hotfixes() -> None:
    for count in (1, 10, 100):
        plan = plan_queries(MetricNames(), [request(i) for i in range(count)], NOW)
        assert len(plan.queries) == 4
        assert len(plan.routes) == 3 * count


def test_each_shape_is_its_own_group() -> None:
    plan = plan_queries(
        MetricNames(), [request(0), request(1, interval="10s"), request(2, latencyP95={"window": "2m"})], NOW
    )
    # error rate: two intervals; latency: two windows; sessions: two intervals x two queries.
    assert len(plan.queries) == 2 + 2 + 4


def test_group_query_spans_the_widest_window() -> None:
    plan = plan_queries(MetricNames(), [request(0), request(1, errorRate={"for": "10m"})], NOW)
    error_query = plan.queries[plan.routes[("errorRate", "ns/hf-1")]]
    assert error_query.start == NOW - 600
    assert "svc-0|svc-1" in error_query.promql


def test_overrides_leave_the_batch() -> None:
    custom = request(5, errorRate={"query": 'my_ratio{ns="{{namespace}}",d="{{deployment}}"}[{{window}}]'})
    plan = plan_queries(MetricNames(), [request(0), custom], NOW)
    assert ("errorRate", "ns/hf-5") not in plan.routes
    query = override_queries(custom, custom.targets[0], NOW)["errorRate"]
    assert query.promql == 'my_ratio{ns="ns-2",d="svc-5"}[30s]'


def test_selector_escapes_regex_metacharacters_for_promql() -> None:
    assert selector(MetricNames(), [("a", "web.v2")]) == 'namespace=~"a",deployment=~"web\\\\.v2"'


def test_render_override_with_millisecond_window() -> None:
    from datetime import timedelta

    assert render_override("x[{{window}}]", "n", "d", timedelta(milliseconds=1500)) == "x[1500ms]"


def test_series_for_slices_by_labels() -> None:
    matrix = [
        {"metric": {"namespace": "a", "deployment": "x"}, "values": [[1, "0.5"]]},
        {"metric": {"namespace": "b", "deployment": "x"}, "values": [[1, "NaN"]]},
    ]
    assert series_for(MetricNames(), matrix, ("a", "x")) == [(1.0, 0.5)]
    assert series_for(MetricNames(), matrix, ("c", "x")) is None


def test_increase_within_counts_only_rises_inside_the_window() -> None:

    points = [(0.0, 5.0), (10.0, 10.0), (20.0, 3.0), (30.0, 7.0)]  # a reset between 10 and 20
    assert increase_within(points, since=0.0) == 5.0 + 4.0
    assert increase_within(points, since=15.0) == 4.0
    assert increase_within(points, since=25.0) == 0.0
    assert increase_within(None, since=0.0) is None
