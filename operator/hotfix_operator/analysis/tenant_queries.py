"""A Hotfix's own PromQL (a query override) reads only its own namespace's series.

The operator queries Prometheus with its own credentials, so an override is the one place where a tenant
writes the query that runs with them. Like prom-label-proxy, every vector selector of an override must be
pinned to the Hotfix's namespace; unlike it, the query is checked rather than rewritten: the parsed query
is never printed back (the parser's printer drops string escapes), so what is sent is exactly what the
tenant wrote, once it is proven to read nothing else. A query that is not is refused, naming why.

Pinned means: a matcher ``<label>="<namespace>"`` (or ``=~`` with the namespace as its whole value, which
Prometheus anchors) on the preset's namespace label or on ``namespace`` (the label Kubernetes service
discovery gives every scraped series), in every alternative of a selector with ``or`` groups. Anything
built on pinned selectors (``label_replace``, joins, subqueries, offsets) can only reshape the
namespace's own series; a selector without the pin could read any namespace, however it is relabelled.
"""

from __future__ import annotations

from datetime import timedelta

import promql_parser

from hotfix_operator.analysis.presets.base import NAMESPACE, promql_duration
from hotfix_operator.api.models import Analysis

# The override fields, as the Hotfix spells them, and the model attribute behind each.
OVERRIDE_FIELDS = (
    ("spec.analysis.errorRate.query", "error_rate"),
    ("spec.analysis.latencyP95.query", "latency_p95"),
    ("spec.analysis.crashFreeSessions.query", "crash_free_sessions"),
)
_PINNING_OPS = (promql_parser.MatchOp.Equal, promql_parser.MatchOp.Re)
# Functions that read series no selector of the query names.
_READS_OTHER_SERIES = frozenset({"info"})


class OverrideRefused(ValueError):
    """An override that could read another namespace's series, or overrides switched off."""


def _pinned(matchers: list[promql_parser.Matcher], labels: frozenset[str], namespace: str) -> bool:
    return any(m.name in labels and m.op in _PINNING_OPS and m.value == namespace for m in matchers)


def _unpinned_selectors(expression: promql_parser.Expr, labels: frozenset[str], namespace: str) -> list[str]:
    unpinned: list[str] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.Call) and node.func.name in _READS_OTHER_SERIES:
            unpinned.append(f"{node.func.name}() (it reads series no selector names)")
        if not isinstance(node, promql_parser.VectorSelector):
            return
        matchers = list(node.matchers.matchers)
        groups = [matchers + list(group) for group in node.matchers.or_matchers] or [matchers]
        if not all(_pinned(group, labels, namespace) for group in groups):
            unpinned.append(node.name or "{...}")

    promql_parser.walk(expression, visit)
    return unpinned


def enforce_namespace(promql: str, namespace: str, namespace_label: str) -> None:
    """Raise OverrideRefused unless every selector of ``promql`` is pinned to ``namespace``."""
    labels = frozenset({namespace_label, NAMESPACE})
    try:
        expression = promql_parser.parse(promql)
    except ValueError as error:
        raise OverrideRefused(f"not PromQL this operator can check: {error}") from None
    unpinned = _unpinned_selectors(expression, labels, namespace)
    if unpinned:
        wanted = " or ".join(f'{label}="{namespace}"' for label in sorted(labels))
        raise OverrideRefused(
            f"every selector must carry {wanted} (write {{{{namespace}}}}), so that it reads only this Hotfix's "
            f"namespace; not pinned: {', '.join(sorted(set(unpinned)))}"
        )


def render_override(
    query: str, namespace: str, deployment: str, window: timedelta, namespace_label: str = NAMESPACE
) -> str:
    """A per-Hotfix query with ``{{namespace}}``, ``{{deployment}}`` and ``{{window}}`` filled in, checked to
    read only ``namespace``: the one way an override becomes a query, so none is sent unchecked."""
    rendered = (
        query.replace("{{namespace}}", namespace)
        .replace("{{deployment}}", deployment)
        .replace("{{window}}", promql_duration(window))
    )
    enforce_namespace(rendered, namespace, namespace_label)
    return rendered


def has_overrides(analysis: Analysis) -> bool:
    return any(getattr(analysis, attribute).query is not None for _, attribute in OVERRIDE_FIELDS)


def override_problem(
    analysis: Analysis, namespace: str, deployments: list[str], namespace_label: str, allowed: bool
) -> str | None:
    """Why a Hotfix's overrides cannot run, naming the field; None when they all can (or there are none)."""
    for field_path, attribute in OVERRIDE_FIELDS:
        query = getattr(analysis, attribute).query
        if query is None:
            continue
        if not allowed:
            return f"{field_path}: this operator does not run query overrides (HOTFIX_ALLOW_QUERY_OVERRIDES=false)"
        for deployment in deployments:
            try:
                render_override(query, namespace, deployment, analysis.interval, namespace_label)
            except OverrideRefused as refused:
                return f"{field_path}: {refused}"
    return None
