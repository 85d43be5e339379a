"""``kubectl hotfix``: status, approve, rollback, abort, report and policies, for people in an incident.

Installed as the console script ``kubectl-hotfix``, which kubectl finds on PATH as a plugin. The
verbs only write the annotations the operator reads, so anything they do can also be done with
``kubectl annotate`` or from a GitOps repository.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from hotfix_operator.api.durations import parse_duration
from hotfix_operator.api.models import GROUP, PLURAL, VERSION
from hotfix_operator.api.policy import POLICY_LABEL, POLICY_PLURAL
from hotfix_operator.api.status import TERMINAL_PHASES
from hotfix_operator.cli.cluster_facts import target_facts
from hotfix_operator.cli.status_view import LOCAL_ZONE, age, json_or_yaml, status_detail, status_table, table
from hotfix_operator.rules.breaker import rollback_admitted_at
from hotfix_operator.rules.lifecycle import ABORT_REQUEST, APPROVED_BY, RESUME_GITOPS_REQUEST, ROLLBACK_REQUEST

VERB_ANNOTATIONS = {
    "approve": APPROVED_BY,
    "rollback": ROLLBACK_REQUEST,
    "abort": ABORT_REQUEST,
    "resume": RESUME_GITOPS_REQUEST,
}


def _selector_text(selector: dict[str, Any]) -> str:
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        values = ",".join(expression.get("values") or [])
        parts.append(f"{expression['key']} {expression['operator']}" + (f" ({values})" if values else ""))
    return ",".join(parts) or "(every Deployment)"


def policies_table(policies: list[dict[str, Any]], hotfixes: list[dict[str, Any]], now: datetime) -> str:
    """Each policy: what it selects, the guards still at work, and its breaker (rollbacks in the window)."""
    rows = [("NAME", "SELECTOR", "GUARDING", "ROLLBACKS", "AGE")]
    for policy in sorted(policies, key=lambda p: p["metadata"]["name"]):
        name, spec = policy["metadata"]["name"], policy.get("spec") or {}
        guards = [h for h in hotfixes if ((h["metadata"].get("labels") or {}).get(POLICY_LABEL)) == name]
        working = [
            f"{h['metadata']['name']} ({(h.get('status') or {}).get('phase', 'Pending')})"
            for h in sorted(guards, key=lambda h: h["metadata"]["name"])
            # A rolled-back guard still watches for its template coming back.
            if (h.get("status") or {}).get("phase") not in {phase.value for phase in TERMINAL_PHASES}
        ]
        breaker = spec.get("breaker") or {}
        limit, window_text = int(breaker.get("maxRollbacks", 3)), str(breaker.get("window", "10m"))
        window = parse_duration(window_text)
        admitted = [rollback_admitted_at(h.get("status") or {}) for h in guards]
        recent = sum(1 for at in admitted if at is not None and now - window < at)
        state = " (open)" if recent >= limit else ""
        rows.append((name, _selector_text(spec.get("selector") or {}), ", ".join(working) or "-",
                     f"{recent}/{limit} in {window_text}{state}", age(policy["metadata"].get("creationTimestamp"),
                                                                        now)))  # fmt: skip
    return table(rows)


class Plugin:
    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.api_client = api_client
        self.namespace = namespace

    def get(self, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    def list(self) -> list[dict[str, Any]]:
        return self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL).get("items", [])

    def list_all(self) -> list[dict[str, Any]]:
        return self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL).get("items", [])

    def watch(self, timeout_seconds: int | None) -> Iterator[dict[str, Any]]:
        """Each Hotfix of the namespace as it changes (the API server's watch), until the timeout."""
        stream = watch.Watch().stream(
            self.custom.list_namespaced_custom_object, GROUP, VERSION, self.namespace, PLURAL,
            timeout_seconds=timeout_seconds,
        )  # fmt: skip
        for event in stream:
            if event["type"] in ("ADDED", "MODIFIED"):
                yield event["object"]

    def policies(self) -> list[dict[str, Any]]:
        return self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, POLICY_PLURAL).get("items", [])

    def annotate(self, name: str, key: str, value: str) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, {"metadata": {"annotations": {key: value}}}
        )


def _watched_line(hotfix: dict[str, Any]) -> tuple[str, ...]:
    status = hotfix.get("status") or {}
    decision = status.get("decision") or {}
    return (hotfix["metadata"]["name"], status.get("phase") or "-", decision.get("rule") or "-")


# Watching one Hotfix ends when it does, as `kubectl rollout status` does.
DONE_PHASES = frozenset({"Stable", "RolledBack", "Escalated", "Failed", "Superseded"})


def follow(plugin: Plugin, name: str | None, timeout_seconds: int | None, stdout: TextIO) -> None:
    """Like ``kubectl get -w``: one line each time a Hotfix's phase or decision changes."""
    seen: dict[str, tuple[str, ...]] = {}
    for hotfix in plugin.watch(timeout_seconds):
        line = _watched_line(hotfix)
        if (name and line[0] != name) or seen.get(line[0]) == line:
            continue
        seen[line[0]] = line
        stamp = datetime.now(LOCAL_ZONE).strftime("%H:%M:%S")
        print(f"{stamp}  {line[0]:<28} {line[1]:<18} {line[2]}", file=stdout, flush=True)
        if name and line[1] in DONE_PHASES:
            return


def client_and_namespace(kubeconfig: str | None, context: str | None, namespace: str | None) -> tuple[Any, str]:
    api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
    if namespace:
        return api_client, namespace
    _, active = config.list_kube_config_contexts(config_file=kubeconfig)
    return api_client, (active or {}).get("context", {}).get("namespace", "default")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubectl hotfix", description="Watch and steer Hotfixes during an incident.")
    parser.add_argument("-n", "--namespace")
    parser.add_argument("--kubeconfig")
    parser.add_argument("--context")
    verbs = parser.add_subparsers(dest="verb", required=True)
    status = verbs.add_parser("status", help="a table of Hotfixes, or one Hotfix with its timeline")
    status.add_argument("name", nargs="?")
    status.add_argument("-w", "--watch", action="store_true", help="after the table, a line each time a Hotfix changes")
    status.add_argument("--watch-timeout", type=int, default=None, help="stop watching after this many seconds")
    status.add_argument("-A", "--all-namespaces", action="store_true", help="Hotfixes of every namespace")
    status.add_argument("-o", "--output", choices=("json", "yaml"), help="the Hotfix objects, for scripts")
    for verb, help_text in (
        ("approve", "approve a Hotfix waiting for approval"),
        ("rollback", "ask for a rollback now (confirms a manual-mode recommendation)"),
        ("abort", "stop all automatic action on a Hotfix (it escalates to people)"),
        ("resume", "give back the GitOps owners (Flux, Argo CD) held for a Hotfix's rollback, as they were"),
    ):
        sub = verbs.add_parser(verb, help=help_text)
        sub.add_argument("name")
        sub.add_argument("--by", default=None, help="who is acting (default: the local user name)")
    report = verbs.add_parser(
        "report", help="the report of a Hotfix, or of a whole incident (--incident), with charts and impact"
    )
    report.add_argument("name", nargs="?")
    report.add_argument("--incident", help="every Hotfix of this incident id in one report")
    report.add_argument("-A", "--all-namespaces", action="store_true", help="with --incident: look in every namespace")
    report.add_argument("--prometheus", default="", help="Prometheus URL for charts and user impact (env "
                        "HOTFIX_PROMETHEUS_URL)")  # fmt: skip
    report.add_argument("--telemetry", default="labels", help="preset when a Hotfix names none (default labels)")
    report.add_argument(
        "-o", "--output-dir", help="write report.md, report.html and charts/*.svg here instead of printing Markdown"
    )
    verbs.add_parser("policies", help="each HotfixPolicy: what it selects, what it guards now, its breaker")
    dashboard = verbs.add_parser("dashboard", help="a local, read-only web UI of the Hotfixes (Ctrl-C to stop)")
    dashboard.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace's Hotfixes")
    dashboard.add_argument("--address", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=3100, help="listen port (default 3100)")
    dashboard.add_argument("--prometheus", default="", help="Prometheus URL for the charts (env HOTFIX_PROMETHEUS_URL)")
    dashboard.add_argument("--telemetry", default="labels", help="preset when a Hotfix names none (default labels)")
    return parser


def _dashboard(api_client: client.ApiClient, namespace: str, args: argparse.Namespace, stdout: TextIO) -> int:
    from hotfix_operator.cli.dashboard import Dashboard, HotfixReader, serve
    from hotfix_operator.cli.report_command import ReportOptions

    reader = HotfixReader(api_client, None if args.all_namespaces else namespace)
    board = Dashboard(reader, ReportOptions(prometheus_url=args.prometheus, telemetry=args.telemetry))
    with contextlib.suppress(KeyboardInterrupt):
        serve(board, args.address, args.port, lambda url: print(f"dashboard on {url} (Ctrl-C to stop)", file=stdout,
                                                                flush=True))  # fmt: skip
    return 0


def _status(plugin: Plugin, args: argparse.Namespace, now: datetime, stdout: TextIO) -> int:
    if args.name:
        hotfix = plugin.get(args.name)
        shown: Any = hotfix
        text = status_detail(hotfix, target_facts(plugin.api_client, hotfix), now, LOCAL_ZONE)
    else:
        shown = plugin.list_all() if args.all_namespaces else plugin.list()
        text = status_table(shown, now, all_namespaces=args.all_namespaces)
        if not shown:
            where = "any namespace" if args.all_namespaces else f"namespace {plugin.namespace}"
            text = f"No Hotfixes in {where}." + (
                "" if args.all_namespaces else " Every namespace: kubectl hotfix status -A"
            )
    print(json_or_yaml(shown, args.output) if args.output else text, file=stdout, flush=True)
    if args.watch:
        follow(plugin, args.name, args.watch_timeout, stdout)
    return 0


def _report(plugin: Plugin, args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from hotfix_operator.cli.report_command import ReportOptions, build_report, incident_hotfixes, write_report

    if not args.incident and not args.name:
        print("error: report: name a Hotfix, or pass --incident ID", file=stderr)
        return 2
    if args.incident:
        hotfixes = incident_hotfixes(plugin.list_all() if args.all_namespaces else plugin.list(), args.incident)
        if not hotfixes:
            where = "any namespace" if args.all_namespaces else f"namespace {plugin.namespace}"
            print(f"error: --incident: no Hotfix of incident {args.incident!r} in {where}", file=stderr)
            return 1
    else:
        hotfixes = [plugin.get(args.name)]
    incident_id = args.incident or ((hotfixes[0].get("spec") or {}).get("incident") or {}).get("id", "?")
    report = build_report(
        incident_id, hotfixes, ReportOptions(prometheus_url=args.prometheus, telemetry=args.telemetry)
    )
    if args.output_dir:
        for path in write_report(report, Path(args.output_dir)):
            print(f"wrote {path}", file=stdout)
    else:
        print(report.markdown, file=stdout, end="")
    return 0


def main(argv: Sequence[str] | None = None, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    namespace = args.namespace or "default"
    try:
        api_client, namespace = client_and_namespace(args.kubeconfig, args.context, args.namespace)
        plugin = Plugin(api_client, namespace)
        now = datetime.now(UTC)
        if args.verb == "status":
            return _status(plugin, args, now, stdout)
        elif args.verb == "report":
            return _report(plugin, args, stdout, stderr)
        elif args.verb == "policies":
            print(policies_table(plugin.policies(), plugin.list(), now), file=stdout, flush=True)
        elif args.verb == "dashboard":
            return _dashboard(api_client, namespace, args, stdout)
        else:
            who = args.by or getpass.getuser()
            plugin.annotate(args.name, VERB_ANNOTATIONS[args.verb], who)
            print(f"hotfix/{args.name}: {args.verb} requested by {who}", file=stdout)
    except ApiException as error:
        reason = "not found" if error.status == 404 else f"{error.status} {error.reason}"
        print(f"error: hotfix/{getattr(args, 'name', '') or ''} in namespace {namespace}: {reason}", file=stderr)
        return 1
    except config.ConfigException as error:
        print(f"error: kubeconfig: {error}", file=stderr)
        return 1
    except KeyboardInterrupt:
        return 130  # Ctrl-C (ending a watch, say) ends quietly, as kubectl does
    return 0


if __name__ == "__main__":
    sys.exit(main())
