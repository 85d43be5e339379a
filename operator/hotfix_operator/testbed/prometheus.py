"""A real Prometheus server on loopback with a generated configuration and an empty data directory."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from hotfix_operator.testbed.cluster import REPO_ROOT
from hotfix_operator.testbed.processes import free_port, stop_pids, wait_ready

INSTALL_SCRIPT = REPO_ROOT / "hack" / "install-prometheus.sh"


class PrometheusError(RuntimeError):
    """Prometheus could not be installed or started; the message carries its log."""


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found:
        return found
    completed = subprocess.run([str(INSTALL_SCRIPT)], stdout=subprocess.PIPE, text=True, check=False)
    if completed.returncode != 0:
        raise PrometheusError(f"{INSTALL_SCRIPT} failed with exit code {completed.returncode}")
    return completed.stdout.strip().splitlines()[-1]


class LocalPrometheus:
    """A Prometheus that scrapes ``targets`` every second; stopped by process id."""

    def __init__(
        self,
        work_dir: Path,
        targets: list[str],
        scrape_interval: str = "1s",
        jobs: list[dict[str, Any]] | None = None,
        binary: str | None = None,
    ) -> None:
        self.work_dir = work_dir.resolve()
        self.targets = targets
        # Scrape jobs of their own (the real node's: its pods through Kubernetes discovery, kube-state-metrics)
        # instead of the simulator's static targets, and the binary that can run them (Debian's has no
        # Kubernetes discovery); None: Debian's (hack/install-prometheus.sh).
        self.jobs = jobs
        self.binary = binary
        self.scrape_interval = scrape_interval
        self.port = 0
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rules_dir(self) -> Path:
        return self.work_dir / "rules"

    def load_rules(self, name: str, groups: list[dict[str, Any]]) -> None:
        """Write a rule file (the ``spec.groups`` of a PrometheusRule) and have Prometheus reload it."""
        (self.rules_dir / f"{name}.yaml").write_text(yaml.safe_dump({"groups": groups}))
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    @property
    def log_path(self) -> Path:
        return self.work_dir / "prometheus.log"

    def start(self, timeout: float = 60.0) -> str:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.rules_dir.mkdir(exist_ok=True)
        config = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
            "rule_files": [str(self.rules_dir / "*.yaml")],
            "scrape_configs": self.jobs
            or [
                {
                    "job_name": "workload-simulator",
                    "honor_labels": True,
                    "static_configs": [{"targets": self.targets}],
                }
            ],
        }
        config_path = self.work_dir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        # A restart keeps the port (and the data directory), as a real Prometheus coming back would.
        self.port = self.port or free_port()
        log = self.log_path.open("ab")
        process = subprocess.Popen(
            [
                self.binary or prometheus_binary(),
                f"--config.file={config_path}",
                f"--storage.tsdb.path={self.work_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                # Tests backfill and delete series for exact timings.
                "--web.enable-admin-api",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = process.pid

        try:
            wait_ready(process, self.url, self.log_path, "prometheus", timeout)
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        if self.pid is not None:
            stop_pids([self.pid])
            self.pid = None
