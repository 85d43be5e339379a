"""Query planning: one range query per shape, whatever the number of Hotfixes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hotfix_operator.analysis.presets import PRESET_NAMES, presets
from hotfix_operator.analysis.queries import (
    AnalysisRequest,
    QuerySettings,
    RangeQuery,
    build_request,
    override_queries,
    plan_queries,
)
from hotfix_operator.analysis.tenant_queries import OverrideRefused, render_override
from hotfix_operator.analysis.verdicts import by_target, increase_within, series_for
from hotfix_operator.api.models import Analysis, Telemetry

NOW = 1_800_000_000.0


def request(index: int, **analysis: Any) -> AnalysisRequest:
    return build_request(
        QuerySettings(),
        f"ns/hf-{index}",
        ((f"ns-{index % 3}", f"svc-{index}"),),
        Analysis.model_validate(analysis),
        NOW - 3600,
    )


def test_query_count_does_not_grow_with_hotfixes() -> None:
    for count in (1, 10, 100):
        plan = plan_queries(QuerySettings(), [request(i) for i in range(count)], NOW)
        assert len(plan.queries) == 4
        assert len(plan.routes) == 3 * count


def test_each_shape_is_its_own_group() -> None:
    plan = plan_queries(
        QuerySettings(), [request(0), request(1, interval="10s"), request(2, latencyP95={"window": "2m"})], NOW
    )
    # error rate: two intervals; latency: two windows; sessions: two intervals x two queries.
    assert len(plan.queries) == 2 + 2 + 4


def test_group_query_spans_the_widest_window() -> None:
    plan = plan_queries(QuerySettings(), [request(0), request(1, errorRate={"for": "10m"})], NOW)
    error_query = plan.queries[plan.routes[("errorRate", "ns/hf-1")]]
    assert error_query.start == NOW - 600
    assert "svc-0|svc-1" in error_query.promql


def test_a_sessions_window_is_tiled_by_steps_that_end_now_and_hold_two_scrapes() -> None:
    """Each point is the increase over the step before it: the steps tile the window and the last ends now,
    each at most the interval where that leaves the shortest rate window (two scrapes), else the whole window
    is one step (10 s here: 30 s steps held one point of a 10 s window, never any increase)."""
    settings = QuerySettings(min_rate_window=timedelta(seconds=20))
    requests = [
        request(0, crashFreeSessions={"over": "10s"}),
        request(1, crashFreeSessions={"over": "100s"}),
        request(2, crashFreeSessions={"over": "30m"}),
    ]
    plan = plan_queries(settings, requests, NOW)
    for member, over, step in ((requests[0], 10, 10), (requests[1], 100, 25), (requests[2], 1800, 30)):
        query = plan.queries[plan.routes[("crashFreeSessions", member.key)]]
        assert (query.start, query.end, query.step) == (NOW - over + step, NOW, timedelta(seconds=step))
        assert "increase(" in query.promql
        points = [(query.start + k * step, 100.0) for k in range(int(over / step))]
        assert points[-1][0] == NOW
        assert increase_within(points, NOW - over, timedelta(seconds=step)) == 100.0 * (over / step)


def test_a_step_is_never_shorter_than_two_scrapes_when_the_window_allows() -> None:
    """At the default 1 m rate window, 30 s analyses of a 30 m window step by the minute, not by the interval:
    an increase() over 30 s of 30 s scrapes sees one sample and no rise."""
    plan = plan_queries(QuerySettings(), [request(0, crashFreeSessions={"over": "30m"})], NOW)
    query = plan.queries[plan.routes[("crashFreeSessions", "ns/hf-0")]]
    assert query.step == timedelta(minutes=1)
    assert "[60s]" in query.promql


def test_a_window_shorter_than_two_scrapes_is_counted_over_two_scrapes() -> None:
    """A 30 s window at the default 1 m rate window: one 30 s step, whose increase() over 30 s of 30 s scrapes
    would see one sample and read as no session metrics at all."""
    plan = plan_queries(QuerySettings(), [request(0, crashFreeSessions={"over": "30s"})], NOW)
    query = plan.queries[plan.routes[("crashFreeSessions", "ns/hf-0")]]
    assert (query.start, query.step) == (NOW, timedelta(seconds=30))
    assert "[60s]" in query.promql


def test_overrides_leave_the_batch() -> None:
    custom = request(5, errorRate={"query": 'my_ratio{namespace="{{namespace}}",d="{{deployment}}"}[{{window}}]'})
    plan = plan_queries(QuerySettings(), [request(0), custom], NOW)
    assert ("errorRate", "ns/hf-5") not in plan.routes
    query = override_queries(QuerySettings(), custom, custom.targets[0], NOW)["errorRate"]
    assert isinstance(query, RangeQuery)
    assert query.promql == 'my_ratio{namespace="ns-2",d="svc-5"}[30s]'


def test_an_override_reading_another_namespace_is_refused_not_sent() -> None:
    custom = request(5, errorRate={"query": 'my_ratio{namespace="other"}'})
    refused = override_queries(QuerySettings(), custom, custom.targets[0], NOW)["errorRate"]
    assert isinstance(refused, OverrideRefused)
    assert 'namespace="ns-2"' in str(refused)


def test_overrides_switched_off_are_refused_however_pinned() -> None:
    custom = request(5, errorRate={"query": 'my_ratio{namespace="{{namespace}}"}'})
    settings = QuerySettings(allow_overrides=False)
    refused = override_queries(settings, custom, custom.targets[0], NOW)["errorRate"]
    assert isinstance(refused, OverrideRefused)
    assert "HOTFIX_ALLOW_QUERY_OVERRIDES=false" in str(refused)


def test_selector_escapes_regex_metacharacters_for_promql() -> None:
    assert presets()["labels"].selector([("a", "web.v2")]) == 'namespace=~"a",deployment=~"web\\\\.v2"'


def test_render_override_with_millisecond_window() -> None:
    rendered = render_override('x{namespace="{{namespace}}"}[{{window}}]', "n", "d", timedelta(milliseconds=1500))
    assert rendered == 'x{namespace="n"}[1500ms]'


def test_series_for_slices_by_labels() -> None:
    matrix = [
        {"metric": {"namespace": "a", "deployment": "x"}, "values": [[1, "0.5"]]},
        {"metric": {"namespace": "b", "deployment": "x"}, "values": [[1, "NaN"]]},
        {"metric": {"namespace": "a", "deployment": "y"}, "values": [[1, "0.7"]]},
    ]
    answer = by_target(matrix)
    assert series_for(answer, ("a", "x")) == [(1.0, 0.5)]
    assert series_for(answer, ("a", "y")) == [(1.0, 0.7)]
    assert series_for(answer, ("c", "x")) is None


def test_increase_within_sums_the_steps_that_end_inside_the_window() -> None:
    points = [(0.0, 5.0), (10.0, 10.0), (20.0, float("nan")), (30.0, 7.0)]  # a step without data
    step = timedelta(seconds=10)
    assert increase_within(points, since=-10.0, step=step) == 22.0
    assert increase_within(points, since=0.0, step=step) == 17.0
    assert increase_within(points, since=20.0, step=step) == 7.0
    assert increase_within(points, since=30.0, step=step) == 0.0
    assert increase_within(None, since=0.0, step=step) is None


def test_a_point_near_the_window_start_ends_the_step_before_it() -> None:
    """Points moved by a rounded start (here 0.4 s late, or early) still split at the window's start."""
    step = timedelta(seconds=10)
    late = [(0.4, 5.0), (10.4, 10.0), (20.4, 7.0)]
    early = [(-0.4, 5.0), (9.6, 10.0), (19.6, 7.0)]
    assert increase_within(late, since=0.0, step=step) == increase_within(early, since=0.0, step=step) == 17.0


def test_presets_match_the_api_enum() -> None:
    assert set(PRESET_NAMES) == {preset.value for preset in Telemetry} == set(presets())


def test_query_count_is_flat_per_preset() -> None:
    for count in (1, 100, 1000):
        requests = [request(i, telemetry=name) for name in PRESET_NAMES for i in range(count)]
        plan = plan_queries(QuerySettings(), requests, NOW)
        assert len(plan.queries) == 4 * len(PRESET_NAMES)


def test_switched_off_thresholds_cost_no_query() -> None:
    off = request(1, crashFreeSessions={"enabled": False}, latencyP95={"enabled": False})
    plan = plan_queries(QuerySettings(), [off], NOW)
    assert len(plan.queries) == 1 and off.enabled == {"errorRate"}


def test_operator_default_switches_off_unless_the_hotfix_switches_on() -> None:
    settings = QuerySettings(disabled_by_default=frozenset({"crashFreeSessions"}))
    default = build_request(settings, "a/b", (("a", "b"),), Analysis(), NOW)
    chosen = build_request(
        settings, "a/c", (("a", "c"),), Analysis.model_validate({"crashFreeSessions": {"enabled": True}}), NOW
    )
    assert "crashFreeSessions" not in default.enabled and "crashFreeSessions" in chosen.enabled


def test_error_ratio_is_written_to_exist_without_failures() -> None:
    promql = presets()["istio"].error_ratio('destination_workload=~"a"', timedelta(minutes=1))
    # 1 - ok/total, with ok falling back to 0 x total: defined when no 5xx series exists.
    assert promql.startswith("1 - (") and " or 0 * " in promql and 'response_code!~"5.."' in promql


def test_pod_mapped_preset_selects_by_pod_name() -> None:
    preset = presets()["kube-prometheus"]
    assert preset.selector([("shop", "checkout")]) == 'namespace=~"shop",pod=~"(checkout)-[a-z0-9]+-[a-z0-9]+"'
