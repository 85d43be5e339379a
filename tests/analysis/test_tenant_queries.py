"""A query override reads only its Hotfix's namespace: every selector pinned, or the query refused."""

from __future__ import annotations

import pytest

from hotfix_operator.analysis.tenant_queries import OverrideRefused, enforce_namespace, override_problem
from hotfix_operator.api.models import Analysis

PINNED = [
    'sum(rate(errors{namespace="inc-a"}[5m])) / sum(rate(requests{namespace="inc-a"}[5m]))',
    'rate(x{namespace=~"inc-a"}[1m])',
    # Relabelling the namespace's own series reads nothing else.
    'label_replace(x{namespace="inc-a"}, "namespace", "inc-b", "", "")',
    'x{namespace="inc-a"} * on(pod) group_left y{namespace="inc-a", namespace!="z"}',
    'max_over_time(rate(x{namespace="inc-a"}[1m])[10m:1m] offset 5m)',
    'x{namespace="inc-a"} or vector(0)',
    'x{namespace="inc-a" or namespace="inc-a", code="500"}',
    # The preset's own namespace label (istio's) pins as well.
    'istio_requests_total{destination_workload_namespace="inc-a"}',
    "vector(1)",
]
UNPINNED = [
    ('errors{namespace="inc-b"}', "errors"),
    # Relabelled to look like the tenant's own: the selector still reads inc-b.
    ('label_replace(errors{namespace="inc-b"}, "namespace", "inc-a", "", "")', "errors"),
    ('errors{namespace=~"inc-a|inc-b"}', "errors"),
    ('errors{namespace=~"inc-.*"}', "errors"),
    ('errors{namespace!="inc-b"}', "errors"),
    ('errors{exported_namespace="inc-a"}', "errors"),
    ('errors{namespace="inc-a"} / ignoring(namespace) errors', "errors"),
    ('{__name__="errors"}', "{...}"),
    ('errors{namespace="inc-a" or code="500"}', "errors"),
    ('count_values("x", errors)', "errors"),
    ('info(errors{namespace="inc-a"})', "info()"),
]


@pytest.mark.parametrize("promql", PINNED)
def test_a_query_whose_every_selector_is_pinned_passes(promql: str) -> None:
    enforce_namespace(promql, "inc-a", "destination_workload_namespace")


@pytest.mark.parametrize(("promql", "named"), UNPINNED)
def test_a_query_that_could_read_another_namespace_is_refused_naming_the_selector(promql: str, named: str) -> None:
    with pytest.raises(OverrideRefused) as refused:
        enforce_namespace(promql, "inc-a", "namespace")
    assert named in str(refused.value)
    assert 'namespace="inc-a"' in str(refused.value)


def test_a_query_that_does_not_parse_is_refused() -> None:
    with pytest.raises(OverrideRefused, match="not PromQL"):
        enforce_namespace('sum(rate(x{namespace="inc-a"}[1m])', "inc-a", "namespace")


def test_the_problem_names_the_field_and_the_template_is_rendered_first() -> None:
    analysis = Analysis.model_validate(
        {
            "errorRate": {"query": 'rate(e{namespace="{{namespace}}",deployment="{{deployment}}"}[{{window}}])'},
            "latencyP95": {"query": 'histogram_quantile(0.95, rate(b{namespace="payments"}[1m]))'},
        }
    )
    problem = override_problem(analysis, "inc-a", ["auth"], "namespace", allowed=True)
    assert problem is not None and problem.startswith("spec.analysis.latencyP95.query: ")
    assert override_problem(analysis, "payments", ["auth"], "namespace", allowed=True) is None


def test_overrides_off_refuse_even_a_pinned_query_and_leave_hotfixes_without_one_alone() -> None:
    pinned = Analysis.model_validate({"crashFreeSessions": {"query": 'x{namespace="{{namespace}}"}'}})
    problem = override_problem(pinned, "inc-a", ["auth"], "namespace", allowed=False)
    assert problem == (
        "spec.analysis.crashFreeSessions.query: this operator does not run query overrides "
        "(HOTFIX_ALLOW_QUERY_OVERRIDES=false)"
    )
    assert override_problem(Analysis(), "inc-a", ["auth"], "namespace", allowed=False) is None
