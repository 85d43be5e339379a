"""``hotfix-operator``: the command line (run the operator, ask the decision engine, check a manifest)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import yaml

from hotfix_operator.api.durations import parse_duration
from hotfix_operator.api.models import SpecError, parse_manifest
from hotfix_operator.api.policy import POLICY_KIND, parse_policy_manifest
from hotfix_operator.api.status import AnalysisState
from hotfix_operator.rules.decision import FactsError, decide, parse_facts

if TYPE_CHECKING:
    from hotfix_operator.analysis.queries import QuerySettings
    from hotfix_operator.engine.config import OperatorConfig

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
# analyze: a breach and "could not judge" are not "healthy", and not the same as each other either.
EXIT_BREACHED = 3
EXIT_NOT_JUDGED = 4
ANALYZE_EXIT = {
    AnalysisState.HEALTHY: EXIT_OK,
    AnalysisState.NO_TRAFFIC: EXIT_OK,
    AnalysisState.BREACHED: EXIT_BREACHED,
    AnalysisState.PENDING: EXIT_NOT_JUDGED,
    AnalysisState.INCONCLUSIVE: EXIT_NOT_JUDGED,
}


def _read_document(stream: TextIO, what: str) -> Any:
    text = stream.read()
    if not text.strip():
        raise ValueError(f"{what}: empty input; expected JSON or YAML")
    try:
        # YAML is a superset of JSON, so one parser takes both.
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"{what}: not valid JSON or YAML: {error}") from None


def _cmd_decide(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    try:
        facts = parse_facts(_read_document(stdin, "facts"))
    except FactsError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=stderr)
        return EXIT_BAD_INPUT
    except ValueError as error:
        print(f"error: {error}", file=stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(decide(facts).model_dump(mode="json")), file=stdout)
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    try:
        with open(args.filename) if args.filename != "-" else stdin as stream:
            documents = [doc for doc in yaml.safe_load_all(stream.read()) if doc is not None]
    except (OSError, yaml.YAMLError) as error:
        print(f"error: {args.filename}: {error}", file=stderr)
        return EXIT_BAD_INPUT
    failed = False
    for document in documents:
        document = document if isinstance(document, dict) else {}
        name = (document.get("metadata") or {}).get("name", "?")
        policy = document.get("kind") == POLICY_KIND
        kind = "hotfixpolicy" if policy else "hotfix"
        try:
            (parse_policy_manifest if policy else parse_manifest)(document)
        except SpecError as error:
            failed = True
            for problem in error.problems:
                print(f"error: {kind}/{name}: {problem}", file=stderr)
            continue
        print(f"{kind}/{name}: valid", file=stdout)
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _query_settings(args: argparse.Namespace) -> QuerySettings:
    """The operator's query settings, read from the same environment it runs with (HOTFIX_*), with these
    options on top: what ``analyze`` judges and ``rules`` prints is then what the operator does."""
    from dataclasses import replace

    from hotfix_operator.engine.config import OperatorConfig, disabled_thresholds, telemetry_preset

    settings = OperatorConfig.from_environment().query_settings
    if args.telemetry:
        settings = replace(settings, default_preset=telemetry_preset(args.telemetry))
    if args.min_rate_window:
        settings = replace(settings, min_rate_window=parse_duration(args.min_rate_window))
    if args.disabled_thresholds is not None:
        settings = replace(settings, disabled_by_default=disabled_thresholds(args.disabled_thresholds))
    return settings


def _add_settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--telemetry", help="preset when the manifest names none (env HOTFIX_TELEMETRY, labels)")
    parser.add_argument("--min-rate-window", help="shortest rate() window (env HOTFIX_MIN_RATE_WINDOW, 1m)")
    parser.add_argument(
        "--disabled-thresholds", help="thresholds off unless a Hotfix switches them on (env HOTFIX_DISABLED_THRESHOLDS)"
    )


def _cmd_analyze(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    from hotfix_operator.analysis.prometheus import PrometheusAnalyzer, PrometheusSettings, check_telemetry, connect
    from hotfix_operator.analysis.queries import build_request

    try:
        with open(args.filename) if args.filename != "-" else stdin as stream:
            manifest = parse_manifest(yaml.safe_load(stream.read()) or {})
        since = parse_duration(args.since) if args.since else None
    except SpecError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=stderr)
        return EXIT_BAD_INPUT
    except (OSError, yaml.YAMLError, ValueError) as error:
        print(f"error: {error}", file=stderr)
        return EXIT_BAD_INPUT
    spec = manifest.spec
    url = args.prometheus
    if not url:
        # A manifest names one of the operator's endpoints, never a URL: say which one to reach.
        endpoint = spec.analysis.prometheus or "default"
        print(f"error: no Prometheus: pass --prometheus URL (the manifest uses endpoint {endpoint!r})", file=stderr)
        return EXIT_BAD_INPUT
    namespace = args.namespace or manifest.metadata.namespace or "default"
    thresholds = spec.analysis
    # By default pretend the hotfix has run long enough for every window, so nothing is pending.
    ran_for = since or max(
        thresholds.error_rate.for_,
        thresholds.latency_p95.window * thresholds.latency_p95.consecutive_windows,
        thresholds.crash_free_sessions.over,
    )
    now = time.time()
    try:
        settings = _query_settings(args)
    except ValueError as error:
        print(f"error: {error}", file=stderr)
        return EXIT_BAD_INPUT
    request = build_request(
        settings,
        f"{namespace}/{manifest.metadata.name}",
        tuple((namespace, target.deployment) for target in spec.targets),
        thresholds,
        now - ran_for.total_seconds(),
    )
    analyzer = PrometheusAnalyzer(connect(PrometheusSettings(url=url)), settings)
    if args.explain:
        findings = check_telemetry(analyzer, request)
        print(f"telemetry ({request.telemetry}):", file=stdout)
        for finding in findings:
            print(f"  {'ok     ' if finding.ready else 'MISSING'} {finding.message}", file=stdout)
    report = analyzer.analyze([request], now=now)[request.key]
    if args.output == "json":
        print(report.model_dump_json(indent=2), file=stdout)
    else:
        print(f"{request.key}: {report.result.value}", file=stdout)
        for target, results in report.metrics.items():
            for result in results:
                print(f"  {target:<40} {result.metric:<18} {result.state.value:<13} {result.reason}", file=stdout)
    return ANALYZE_EXIT[report.result]


def _run_config(args: argparse.Namespace) -> OperatorConfig:
    """The operator's configuration: the environment, with the command line's flags on top."""
    import dataclasses

    from hotfix_operator.analysis.prometheus import PrometheusSettings
    from hotfix_operator.engine.config import DEFAULT_ENDPOINT, OperatorConfig, disabled_thresholds, telemetry_preset

    config = OperatorConfig.from_environment()
    overrides: dict[str, object] = {}
    if args.prometheus_url:
        default = dataclasses.replace(
            config.prometheus_endpoints.get(DEFAULT_ENDPOINT, PrometheusSettings(url="")), url=args.prometheus_url
        )
        overrides["prometheus_endpoints"] = config.prometheus_endpoints | {DEFAULT_ENDPOINT: default}
    if args.metrics_port is not None:
        overrides["metrics_port"] = args.metrics_port
    if args.metrics_address:
        overrides["metrics_address"] = args.metrics_address
    query_overrides: dict[str, object] = {}
    if args.min_rate_window:
        query_overrides["min_rate_window"] = parse_duration(args.min_rate_window)
    if args.telemetry:
        query_overrides["default_preset"] = telemetry_preset(args.telemetry)
    if args.disabled_thresholds is not None:
        query_overrides["disabled_by_default"] = disabled_thresholds(args.disabled_thresholds)
    if query_overrides:
        overrides["query_settings"] = dataclasses.replace(config.query_settings, **query_overrides)
    if args.recent_deploy_window:
        overrides["recent_deploy_window"] = parse_duration(args.recent_deploy_window)
    if args.require_service_account:
        overrides["require_service_account"] = True
    return dataclasses.replace(config, **overrides)


def keep_kubernetes_package_out() -> None:
    """The operator's process never loads the kubernetes package (installed for the kubectl plugin and the test
    bed): Kopf imports it whenever it can, only to recognise its objects, which the operator never hands it,
    and that is 4 MiB resident and 158 modules at every start (measured with the operator's own modules loaded).
    The operator's own calls go through ``kube.api``.
    A None entry in sys.modules makes any import of it fail as if it were not installed."""
    sys.modules.setdefault("kubernetes", None)  # type: ignore[arg-type]


def peering_identity() -> str:
    """This process' name in Kopf's peering, in Kopf's own format: the pod's name when the Deployment gives it
    (``POD_ID``: a container restarted in its pod is the same replica, not a peer to wait 60 s for), else
    user@host, start time and a random suffix."""
    from datetime import UTC, datetime

    pod = os.environ.get("POD_ID")
    if pod:
        return pod
    started = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"{getpass.getuser()}@{socket.gethostname()}/{started}/{secrets.token_hex(2)}"


def _cmd_run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    import gc

    from hotfix_operator.engine.memory import pause_collections_until_frozen

    # The start-up makes some 170,000 objects that live as long as the process: no collection walks them now.
    pause_collections_until_frozen()
    try:
        return _start_operator(args, stderr)
    finally:
        # However it ended (a bad setting, a failed start-up, Kopf stopped), collections are on as they were.
        gc.enable()


def _start_operator(args: argparse.Namespace, stderr: TextIO) -> int:
    import asyncio

    keep_kubernetes_package_out()
    from hotfix_operator.engine import boot

    try:
        config = _run_config(args)
    except ValueError as error:
        # A bad setting (flag, environment or endpoints file) names itself and stops before anything runs.
        print(f"error: {error}", file=stderr)
        return EXIT_BAD_INPUT
    boot.RUNTIME.config = config
    boot.RUNTIME.namespaces = list(args.namespace or [])
    boot.RUNTIME.peering_identity = peering_identity()
    try:
        asyncio.run(_run_operator(args, boot.RUNTIME.peering_identity))
    except boot.StartUpError as error:
        print(f"error: {error}", file=stderr)
        return EXIT_FAILURE
    return EXIT_OK


async def _run_operator(args: argparse.Namespace, identity: str) -> None:
    """The start-up before Kopf (engine/boot.py), then Kopf with the operator's handlers."""
    import importlib
    import logging

    from hotfix_operator.engine import boot

    held_records = boot.HeldLogRecords(logging.DEBUG if args.verbose else logging.INFO)
    try:
        await boot.start_up(boot.start_up_peering(args.peering, identity, args.priority), _post_kopf_event)
    finally:
        import kopf

        importlib.import_module("hotfix_operator.engine.handlers")  # registers the operator's handlers with Kopf
        kopf.configure(
            verbose=args.verbose, log_format=kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.FULL
        )
        held_records.replay()
    await kopf.operator(
        clusterwide=not args.namespace,
        namespaces=args.namespace or [],
        standalone=args.peering is None,
        peering_name=args.peering,
        priority=args.priority,
        identity=identity,
        liveness_endpoint=args.liveness,
    )


def _post_kopf_event(body: dict[str, Any], *, type: str, reason: str, message: str) -> None:
    """The operator's Event sink, Kopf's: imported by then (the start-up steps hold their Events, engine/boot.py)."""
    import kopf

    kopf.event(body, type=type, reason=reason, message=message)


def _cmd_rules(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """The Hotfix's temporary alert thresholds as a plain Prometheus rule file."""
    from datetime import UTC, datetime

    from hotfix_operator.analysis.alert_rules import RuleContext, alert_rule_group, rule_file
    from hotfix_operator.analysis.queries import build_request

    try:
        with open(args.filename) if args.filename != "-" else stdin as stream:
            manifest = parse_manifest(yaml.safe_load(stream.read()) or {})
        window_open = datetime.fromisoformat(args.window_open).astimezone(UTC) if args.window_open else None
        settings = _query_settings(args)
    except SpecError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=stderr)
        return EXIT_BAD_INPUT
    except (OSError, yaml.YAMLError, ValueError) as error:
        print(f"error: {error}", file=stderr)
        return EXIT_BAD_INPUT
    namespace = args.namespace or manifest.metadata.namespace or "default"
    spec = manifest.spec
    opened = (window_open or datetime.now(UTC)).timestamp()
    request = build_request(
        settings,
        f"{namespace}/{manifest.metadata.name}",
        tuple((namespace, target.deployment) for target in spec.targets),
        spec.analysis,
        opened,
    )
    context = RuleContext(
        hotfix=manifest.metadata.name,
        namespace=namespace,
        incident=spec.incident.id,
        severity=spec.incident.severity,
        window_open=opened,
    )
    yaml.safe_dump(rule_file([alert_rule_group(settings, request, context)]), stdout, sort_keys=False, width=1000)
    return EXIT_OK


def _cmd_report(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    from hotfix_operator.cli import kubectl_plugin

    argv = [
        *(["--kubeconfig", args.kubeconfig] if args.kubeconfig else []),
        *(["-n", args.namespace] if args.namespace else []),
    ]
    return kubectl_plugin.main([*argv, "report", args.name], stdout=stdout, stderr=stderr)


def _cmd_testbed(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    # Imported here: the test bed is development tooling, not needed to run the operator.
    from hotfix_operator.testbed.stack import TestBed

    work_dir = Path(args.dir)
    if args.action == "down":
        TestBed.stop_saved(work_dir)
        print(f"stopped the test bed in {work_dir}", file=stdout)
        return EXIT_OK
    state = TestBed(work_dir, real_node=args.real_node).start()
    print(f"test bed up in {state.started_in_seconds}s", file=stdout)
    if state.real_node_pids:
        print("  a real node (kubelet, containerd, runc) runs pods that tolerate hotfix.dev/real-node", file=stdout)
        print(f"  its Prometheus:     {state.real_node_prometheus_url}", file=stdout)
    print(f"  export KUBECONFIG={state.kubeconfig}", file=stdout)
    print(f"  Prometheus:         {state.prometheus_url}", file=stdout)
    print(f"  workload simulator: {state.simulator_url}/metrics", file=stdout)
    print(f"  logs:               {work_dir.resolve()}", file=stdout)
    print(f"  stop with:          hotfix-operator testbed down --dir {work_dir}", file=stdout)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotfix-operator",
        description="Roll out emergency hotfixes and decide between rollback and forward fix.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    decide_parser = commands.add_parser(
        "decide", help="read decision facts (JSON or YAML) on stdin and print the decision as JSON"
    )
    decide_parser.set_defaults(handler=_cmd_decide)
    validate_parser = commands.add_parser("validate", help="check Hotfix manifests against the API without a cluster")
    validate_parser.add_argument("-f", "--filename", required=True, help="a YAML file of Hotfixes, or - for stdin")
    validate_parser.set_defaults(handler=_cmd_validate)
    run_parser = commands.add_parser("run", help="run the operator (Kopf) against the current kubeconfig or in-cluster")
    run_parser.add_argument("-n", "--namespace", action="append", help="watch only this namespace (repeatable)")
    run_parser.add_argument("--prometheus-url", help="default Prometheus (env HOTFIX_PROMETHEUS_URL)")
    run_parser.add_argument("--metrics-port", type=int, help="port of /metrics, 0 to disable (env HOTFIX_METRICS_PORT)")
    run_parser.add_argument("--metrics-address", help="address of /metrics (env HOTFIX_METRICS_ADDRESS)")
    run_parser.add_argument("--min-rate-window", help="shortest rate() window (env HOTFIX_MIN_RATE_WINDOW, 1m)")
    run_parser.add_argument("--telemetry", help="default telemetry preset (env HOTFIX_TELEMETRY, labels)")
    run_parser.add_argument(
        "--require-service-account",
        action="store_true",
        help="refuse Hotfixes without spec.serviceAccountName (env HOTFIX_REQUIRE_SERVICE_ACCOUNT)",
    )
    run_parser.add_argument(
        "--disabled-thresholds",
        help="thresholds off unless a Hotfix enables them, e.g. crashFreeSessions (env HOTFIX_DISABLED_THRESHOLDS)",
    )
    run_parser.add_argument(
        "--recent-deploy-window", help="how recent a deploy counts for rollback-all (env HOTFIX_RECENT_DEPLOY_WINDOW)"
    )
    run_parser.add_argument("--peering", help="Kopf peering name, so replicas never act twice (default: standalone)")
    run_parser.add_argument("--priority", type=int, default=0, help="peering priority of this replica")
    run_parser.add_argument("--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8081/healthz")
    run_parser.add_argument("--log-format", choices=["json", "plain"], default="json")
    run_parser.add_argument("-v", "--verbose", action="store_true")
    run_parser.set_defaults(handler=_cmd_run)
    analyze_parser = commands.add_parser(
        "analyze", help="evaluate a Hotfix's thresholds against Prometheus now",
        epilog="exit status: 0 healthy (or no traffic), 3 a threshold is breached, 4 could not judge (Prometheus "
        "unreachable, data missing or not enough yet), 2 bad input",
    )  # fmt: skip
    analyze_parser.add_argument("-f", "--filename", required=True, help="a Hotfix manifest, or - for stdin")
    analyze_parser.add_argument("--prometheus", help="Prometheus URL to analyse against")
    analyze_parser.add_argument("-n", "--namespace", help="the Deployments' namespace (default: the manifest's)")
    analyze_parser.add_argument("--since", help="how long the hotfix has run, e.g. 10m (default: every window)")
    _add_settings_options(analyze_parser)
    analyze_parser.add_argument(
        "--explain", action="store_true", help="first check that every threshold has data, and say what is missing"
    )
    analyze_parser.add_argument("-o", "--output", choices=["text", "json"], default="text")
    analyze_parser.set_defaults(handler=_cmd_analyze)
    rules_parser = commands.add_parser("rules", help="print a Hotfix's thresholds as a Prometheus rule file")
    rules_parser.add_argument("-f", "--filename", required=True, help="a Hotfix manifest, or - for stdin")
    rules_parser.add_argument("-n", "--namespace", help="the Deployments' namespace (default: the manifest's)")
    rules_parser.add_argument(
        "--window-open", help="when the hotfix window opened (RFC 3339; default now): rules judge data from then on"
    )
    _add_settings_options(rules_parser)
    rules_parser.set_defaults(handler=_cmd_rules)
    report_parser = commands.add_parser("report", help="print the report of a Hotfix (Markdown, the incident template)")
    report_parser.add_argument("name")
    report_parser.add_argument("-n", "--namespace")
    report_parser.add_argument("--kubeconfig")
    report_parser.set_defaults(handler=_cmd_report)
    testbed_parser = commands.add_parser(
        "testbed", help="start or stop a local control plane, workload simulator and Prometheus (development)"
    )
    testbed_parser.add_argument("action", choices=["up", "down"])
    testbed_parser.add_argument("--dir", default=".cluster", help="where state, kubeconfig and logs live")
    testbed_parser.add_argument(
        "--real-node", action="store_true", help="add a real node: a kubelet running pods through containerd (root)"
    )
    testbed_parser.set_defaults(handler=_cmd_testbed)
    return parser


def main(
    argv: Sequence[str] | None = None,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args, stdin, stdout, stderr)


if __name__ == "__main__":
    sys.exit(main())
