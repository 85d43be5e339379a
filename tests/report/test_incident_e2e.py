"""A real multi-service incident on the test bed, reported: both formats, charts showing the breach, and the
user impact checked against Prometheus with a query written independently of the presets."""

from __future__ import annotations

import io
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from hotfix_operator.cli import kubectl_plugin
from hotfix_operator.cli.report_command import ReportOptions, build_report, incident_hotfixes
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import free_port
from hotfix_operator.testbed.stack import TestBedState
from operator_support import BAD_IMAGE, FIXED_IMAGE, Cluster, hotfix_manifest


def instant(prometheus_url: str, promql: str, at: float) -> float:
    answer = requests.get(f"{prometheus_url}/api/v1/query", params={"query": promql, "time": at}, timeout=10).json()
    result = answer["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def test_incident_report_of_two_hotfixes_rolled_back_together(
    running_operator: OperatorProcess, cluster: Cluster, testbed_state: TestBedState, tmp_path: Path
) -> None:
    incident_id = f"INC-{cluster.namespace}"
    cluster.create_deployment("auth")
    cluster.create_deployment("checkout")
    incident = {"id": incident_id, "severity": "SEV1", "affectedServices": ["auth", "checkout"]}
    healthy = hotfix_manifest("checkout-fix", ["checkout"], FIXED_IMAGE, stability={"checkpoints": ["10m"]})
    healthy["spec"]["incident"] = incident
    cluster.apply_hotfix(healthy)
    cluster.wait_phase("checkout-fix", "Monitoring")
    bad = hotfix_manifest("auth-fix", ["auth"], BAD_IMAGE)
    bad["spec"]["incident"] = incident
    cluster.apply_hotfix(bad)
    assert cluster.wait_phase("auth-fix", "RolledBack", "Escalated")["phase"] == "RolledBack"
    assert cluster.wait_phase("checkout-fix", "RolledBack", "Escalated")["phase"] == "RolledBack"

    # The files, through the kubectl plugin as a person runs it.
    out = io.StringIO()
    argv = ["--kubeconfig", testbed_state.kubeconfig, "-n", cluster.namespace, "report", "--incident", incident_id,
            "--prometheus", testbed_state.prometheus_url, "-o", str(tmp_path)]  # fmt: skip
    assert kubectl_plugin.main(argv, stdout=out) == 0, out.getvalue()
    markdown_text = (tmp_path / "report.md").read_text()
    html_text = (tmp_path / "report.html").read_text()
    auth_line = f"`{cluster.namespace}/auth-fix` on auth: **RolledBack**, rule `multi-service-unclear`"
    assert auth_line in markdown_text
    assert f"{cluster.namespace}/checkout-fix" in markdown_text and "<svg" in html_text
    chart_files = sorted((tmp_path / "charts").iterdir())
    assert {path.name for path in chart_files} >= {
        f"{cluster.namespace}_auth-errorRate.svg",
        f"{cluster.namespace}_checkout-errorRate.svg",
    }
    assert all(path.stat().st_size > 1000 for path in chart_files)

    # The plotted data: auth's error rate is drawn above its line, and that period is shaded.
    hotfixes = incident_hotfixes(cluster.custom.list_namespaced_custom_object(
        "hotfix.dev", "v1alpha1", cluster.namespace, "hotfixes")["items"], incident_id)  # fmt: skip
    report = build_report(incident_id, hotfixes, ReportOptions(prometheus_url=testbed_state.prometheus_url))
    auth_errors = next(c for c in report.charts if c.target.endswith("/auth") and c.metric == "errorRate")
    assert auth_errors.threshold_drawn == 0.01
    assert max(value for _, value in auth_errors.plotted) > 0.01
    assert auth_errors.shaded, "the breach is shaded"
    assert {label for _, label in auth_errors.marked} >= {"rollout", "decision", "undo"}

    # The impact, against Prometheus: the 5xx responses and all requests counted by hand over the same span.
    auth_impact = next(i for i in report.impacts if i.target.endswith("/auth"))
    failed_query = auth_impact.queries["failed"]
    evaluated_at = float(failed_query.rsplit("@ ", 1)[1].rstrip(")"))
    span = failed_query.split("[", 1)[1].split("]", 1)[0]
    # Every printed query runs as printed, at any time, and gives the figure the report shows.
    for name, query in auth_impact.queries.items():
        shown = {"failed": auth_impact.failed, "requests": auth_impact.requests}.get(name)
        answer = instant(testbed_state.prometheus_url, query, time.time())
        if shown is not None:
            assert math.isclose(answer, shown, rel_tol=1e-9), (name, query, answer, shown)
    # The same finished incident reported minutes later carries the same numbers.
    later = build_report(incident_id, hotfixes, ReportOptions(prometheus_url=testbed_state.prometheus_url),
                         now=datetime.now(UTC) + timedelta(minutes=5))  # fmt: skip
    assert later.impacts == report.impacts
    # The error rate is charted over the operator's own rate window, so the breach lasts about as long as it
    # was judged to (the Hotfix's whole story is well under a minute here, not the report's default 1m).
    assert auth_impact.breached_seconds["errorRate"] < 60, auth_impact.breached_seconds
    selector = f'namespace="{cluster.namespace}",deployment="auth"'
    by_hand_failed = instant(
        testbed_state.prometheus_url, f'sum(increase(http_requests_total{{{selector},code=~"5.."}}[{span}]))',
        evaluated_at,
    )  # fmt: skip
    by_hand_requests = instant(
        testbed_state.prometheus_url, f"sum(increase(http_requests_total{{{selector}}}[{span}]))", evaluated_at
    )
    assert auth_impact.failed is not None and auth_impact.requests is not None
    assert math.isclose(auth_impact.requests, by_hand_requests, rel_tol=0.05), (auth_impact, by_hand_requests)
    assert math.isclose(auth_impact.failed, by_hand_failed, rel_tol=0.25, abs_tol=5), (auth_impact, by_hand_failed)
    assert auth_impact.excess_failed is not None and auth_impact.excess_failed > 0
    assert auth_impact.breached_seconds.get("errorRate", 0) > 0


def test_report_renders_when_prometheus_has_nothing_or_does_not_answer(
    running_operator: OperatorProcess, cluster: Cluster, testbed_state: TestBedState
) -> None:
    cluster.create_deployment("shelf")
    cluster.apply_hotfix(hotfix_manifest("shelf-fix", ["shelf"], FIXED_IMAGE, stability={"checkpoints": ["10m"]}))
    cluster.wait_phase("shelf-fix", "Monitoring")
    hotfix = cluster.hotfix("shelf-fix")
    # The same Hotfix as if it had run a year ago: Prometheus holds nothing of that time any more.
    a_year_ago = datetime.now(UTC) - timedelta(days=365)
    hotfix["status"]["timeline"] = [dict(entry, at=a_year_ago.isoformat()) for entry in hotfix["status"]["timeline"]]
    hotfix["metadata"]["creationTimestamp"] = a_year_ago.isoformat()
    gone = build_report("INC-shelf", [hotfix], ReportOptions(prometheus_url=testbed_state.prometheus_url),
                        now=a_year_ago + timedelta(minutes=1))  # fmt: skip
    assert gone.charts and all(chart.plotted == () for chart in gone.charts)
    assert all("retention" in chart.missing for chart in gone.charts)
    assert "## Charts" in gone.markdown and "<svg" in gone.html
    # Prometheus not answering at all: said per chart and for the impact, and the report still renders.
    unreachable = build_report("INC-shelf", [cluster.hotfix("shelf-fix")],
                               ReportOptions(prometheus_url=f"http://127.0.0.1:{free_port()}"))  # fmt: skip
    assert unreachable.charts and all("did not answer" in chart.missing for chart in unreachable.charts)
    (impact,) = unreachable.impacts
    assert impact.excess_failed is None and "did not answer" in impact.missing
    assert "| unknown | unknown |" in unreachable.markdown
