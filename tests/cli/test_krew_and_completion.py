"""kubectl hotfix as people install and type it: the krew manifest (krew's own validator), its archive,
shell completion through kubectl_complete-hotfix, and status -w on a real Hotfix."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from hotfix_operator.cli import kubectl_plugin
from hotfix_operator.cli.completion import candidates
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBedState
from operator_support import BAD_IMAGE, Cluster, hotfix_manifest
from testbed_support import REPO

sys.path.insert(0, str(REPO / "hack"))
from krew_archive import archive_bytes


@pytest.mark.real
def test_krew_manifest_passes_krews_validation() -> None:
    validator = subprocess.run(
        [str(REPO / "hack" / "build-krew-validate.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    completed = subprocess.run(
        [validator, "-manifest", str(REPO / "plugins" / "hotfix.yaml"), "-skip-install"], capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    assert "structural validation OK" in completed.stderr


def test_krew_archive_matches_the_manifest_and_runs_the_plugin(tmp_path: Path) -> None:
    data = archive_bytes()
    manifest = yaml.safe_load((REPO / "plugins" / "hotfix.yaml").read_text())
    [platform] = manifest["spec"]["platforms"]
    assert hashlib.sha256(data).hexdigest() == platform["sha256"], "run hack/krew_archive.py and update the sha256"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(tmp_path, filter="data")
    launcher = tmp_path / platform["bin"]
    completed = subprocess.run(
        [str(launcher), "--help"], capture_output=True, text=True, env={"HOTFIX_PYTHON": sys.executable, "PATH": ""}
    )
    assert completed.returncode == 0, completed.stderr
    assert "Watch and steer Hotfixes" in completed.stdout


def test_completion_offers_verbs_then_names() -> None:
    def names(namespace: str | None, kubeconfig: str | None, context: str | None) -> list[str]:
        assert (namespace, kubeconfig) == ("shop", "/k")
        return ["cart-fix", "checkout-fix", "search-fix"]

    assert candidates(["ro"], names) == ["rollback"]
    assert candidates([""], names) == ["status", "approve", "rollback", "abort", "report", "policies", "dashboard"]
    assert candidates(["-n", "shop", "--kubeconfig", "/k", "approve", "c"], names) == ["cart-fix", "checkout-fix"]
    assert candidates(["-n", "shop", "--kubeconfig", "/k", "status", "cart-fix", ""], names) == []
    assert candidates(["-n", "shop", "dashboard", ""], names) == []
    assert candidates(["-n", "shop", "--kubeconfig", "/k", "report", "--incident", "INC-1", "s"], names) == [
        "search-fix"
    ]


def test_completion_reads_real_hotfix_names(
    running_operator: OperatorProcess, cluster: Cluster, testbed_state: TestBedState
) -> None:
    cluster.apply_hotfix(hotfix_manifest("cart-fix", ["nowhere"], BAD_IMAGE))
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("kubectl_complete-hotfix")), "--kubeconfig", testbed_state.kubeconfig,
         "-n", cluster.namespace, "approve", "ca"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert completed.stdout.splitlines() == ["cart-fix", ":4"]


def test_status_watch_follows_a_hotfix(
    running_operator: OperatorProcess, cluster: Cluster, testbed_state: TestBedState
) -> None:
    cluster.create_deployment("cart")
    cluster.apply_hotfix(hotfix_manifest("cart-fix", ["cart"], BAD_IMAGE))
    out = io.StringIO()
    args = ["--kubeconfig", testbed_state.kubeconfig, "-n", cluster.namespace, "status", "cart-fix", "-w",
            "--watch-timeout", "120"]  # fmt: skip
    # Watching one Hotfix returns once it is done.
    assert kubectl_plugin.main(args, out, io.StringIO()) == 0
    lines = [line.split() for line in out.getvalue().splitlines() if line[:2].isdigit() and "cart-fix" in line]
    phases = [fields[2] for fields in lines]
    assert "Monitoring" in phases or "RollingOut" in phases, out.getvalue()
    assert phases[-1] == "RolledBack" and lines[-1][3] == "root-cause-unknown", out.getvalue()
