"""``hotfix-operator decide`` and ``validate`` as an SRE runs them."""

from __future__ import annotations

import gc
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from decision_table import TABLE
from hotfix_corpus import INVALID, VALID
from hotfix_operator.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(argv: list[str], stdin: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("facts", "action", "rule"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_decide_answers_every_rule(facts: dict, action: str, rule: str) -> None:
    code, out, _ = run(["decide"], json.dumps(facts))
    assert code == 0
    answer = json.loads(out)
    assert (answer["action"], answer["rule"]) == (action, rule)
    assert set(answer) == {"action", "rule", "reason"}


def test_decide_reads_yaml() -> None:
    code, out, _ = run(["decide"], "analysis: breached\nmigrations: irreversible\n")
    assert code == 0
    assert json.loads(out)["rule"] == "migrations-applied"


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "empty input"),
        ("{not json", "not valid JSON or YAML"),
        ("[1, 2]", "expected an object"),
        ('{"analysis": "breached", "incidentAge": "ages"}', "incidentAge:"),
    ],
)
def test_decide_bad_input_exits_2_with_a_clear_message(stdin: str, message: str) -> None:
    code, out, err = run(["decide"], stdin)
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_decide_console_script_end_to_end() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "hotfix_operator.cli.main", "decide"],
        input='{"analysis": "breached"}',
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["rule"] == "root-cause-unknown"


def test_validate_reports_each_bad_field(tmp_path: Path) -> None:
    manifests = tmp_path / "hotfixes.yaml"
    manifests.write_text(yaml.safe_dump_all([VALID[0].manifest(), INVALID[3].manifest()]))
    code, out, err = run(["validate", "-f", str(manifests)], "")
    assert code == 2
    assert "hotfix/case-minimal: valid" in out
    assert f"hotfix/case-{INVALID[3].id}: {INVALID[3].field}:" in err


def test_every_example_is_valid() -> None:
    examples = sorted(EXAMPLES.glob("*.yaml"))
    assert len(examples) >= 5
    for example in examples:
        code, _, err = run(["validate", "-f", str(example)], "")
        assert code == 0, f"{example.name}: {err}"


def test_rules_command_prints_a_rule_file_of_the_enabled_thresholds(tmp_path: Path) -> None:
    manifest = tmp_path / "hotfix.yaml"
    document = VALID[0].manifest()
    document["spec"]["analysis"] = {"telemetry": "istio", "latencyP95": {"enabled": False}}
    manifest.write_text(yaml.safe_dump(document))
    out, err = io.StringIO(), io.StringIO()
    code = main(["rules", "-f", str(manifest), "--window-open", "2026-11-23T10:00:00Z"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    [group] = yaml.safe_load(out.getvalue())["groups"]
    assert [rule["alert"] for rule in group["rules"]] == ["HotfixErrorRateHigh", "HotfixCrashFreeSessionsLow"]
    assert "istio_requests_total" in group["rules"][0]["expr"]
    # The window opened at 10:00: the crash-free rule counts sessions from then on.
    assert "@ 1795428000" in group["rules"][1]["expr"]


def test_rules_take_the_operator_settings_that_shape_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "hotfix.yaml"
    document = VALID[0].manifest()
    document["spec"]["analysis"] = {"interval": "5s"}
    manifest.write_text(yaml.safe_dump(document))

    def error_rule(*options: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        assert main(["rules", "-f", str(manifest), *options], stdout=out, stderr=err) == 0, err.getvalue()
        [group] = yaml.safe_load(out.getvalue())["groups"]
        return str(group["rules"][0]["expr"])

    # The operator runs with a 5 s rate window: the rule file printed with the same option uses it.
    assert "[60s]" in error_rule() and "[5s]" in error_rule("--min-rate-window", "5s")
    # Or with the operator's environment, as its Deployment sets it.
    monkeypatch.setenv("HOTFIX_MIN_RATE_WINDOW", "5s")
    assert "[5s]" in error_rule()
    out, err = io.StringIO(), io.StringIO()
    assert main(["rules", "-f", str(manifest), "--telemetry", "prom"], stdout=out, stderr=err) == 2
    assert "unknown preset 'prom'" in err.getvalue()


def test_the_operator_process_never_loads_the_kubernetes_package() -> None:
    """Kopf imports it whenever it is installed (it is, for the kubectl plugin): 158 modules and 4 MiB at every
    start of the operator, which talks to the API server through its own client."""
    probe = (
        "import sys\n"
        "from hotfix_operator.cli.main import keep_kubernetes_package_out\n"
        "keep_kubernetes_package_out()\n"
        "import kopf\n"
        "import hotfix_operator.engine.handlers\n"
        "print(sorted(name for name, module in sys.modules.items() if name.split('.')[0] == 'kubernetes' and module))\n"
    )
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "[]"
    without = subprocess.run(
        [sys.executable, "-c", probe.replace("keep_kubernetes_package_out()\n", "")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "kubernetes.client" in without.stdout  # the probe sees the package when it is let in


def _run_operator(env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotfix_operator.cli.main", "run", "--prometheus-url", "http://127.0.0.1:1", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_run_without_credentials_stops_at_once_saying_so(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-kubeconfig"
    answer = _run_operator({"KUBECONFIG": str(missing), "HOME": str(tmp_path)}, "--metrics-port", "0")
    assert answer.returncode == 1
    assert f"error: credentials: kubeconfig {missing}" in answer.stderr


def test_run_with_its_metrics_port_taken_stops_at_once_naming_it(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump({
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        })
    )  # fmt: skip
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        answer = _run_operator(
            {"KUBECONFIG": str(kubeconfig)}, "--metrics-address", "127.0.0.1", "--metrics-port", str(port)
        )
    assert answer.returncode == 1
    assert f"error: /metrics on 127.0.0.1:{port}:" in answer.stderr


def test_run_with_a_bad_setting_names_it_and_leaves_the_process_as_it_was() -> None:
    code, _, err = run(["run", "--min-rate-window", "soon"], "")
    assert code == 2
    assert "error:" in err and "soon" in err
    assert gc.isenabled()  # collections, paused for the start-up, are back: nothing started


def test_analyze_tells_healthy_breached_and_not_judged_apart() -> None:
    from hotfix_operator.api.status import AnalysisState
    from hotfix_operator.cli.main import ANALYZE_EXIT

    codes = {state: ANALYZE_EXIT[state] for state in AnalysisState}
    assert codes[AnalysisState.HEALTHY] == codes[AnalysisState.NO_TRAFFIC] == 0
    assert codes[AnalysisState.BREACHED] == 3
    assert codes[AnalysisState.INCONCLUSIVE] == codes[AnalysisState.PENDING] == 4
    # Each distinct from bad input (2), which a script must not read as any verdict.
    assert 2 not in codes.values()
