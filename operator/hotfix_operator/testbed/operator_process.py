"""``hotfix-operator run`` as a child process against a kubeconfig: for the tests, the demo and the bench."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from hotfix_operator.testbed.processes import free_port, stop_pids, wait_until


class OperatorProcess:
    """``hotfix-operator run`` in a subprocess, with its log kept for failing tests."""

    def __init__(
        self,
        kubeconfig: str,
        prometheus_url: str,
        log_path: Path,
        min_rate_window: str = "3s",
        extra_args: tuple[str, ...] = (),
        endpoints: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        # More named Prometheus endpoints than the default one (name -> URL), in an endpoints file.
        self.endpoints = endpoints or {}
        # More of the operator's settings (HOTFIX_*), as a deployment's environment would carry them.
        self.env = env or {}
        self.extra_args = extra_args
        self.prometheus_url = prometheus_url
        self.min_rate_window = min_rate_window
        self.log_path = log_path
        self.metrics_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self) -> float:
        """Start and wait until it serves /metrics (its adapters are wired, engine/boot.py); returns the seconds it
        took. Kopf, and the start-up steps' log lines, come a moment later."""
        started = time.monotonic()
        env = dict(os.environ)
        env.update(
            KUBECONFIG=self.kubeconfig,
            HOTFIX_PROMETHEUS_URL=self.prometheus_url,
            HOTFIX_MIN_RATE_WINDOW=self.min_rate_window,
            HOTFIX_METRICS_PORT=str(self.metrics_port),
            HOTFIX_METRICS_ADDRESS="127.0.0.1",
        )
        env.update(self.env)
        if self.endpoints:
            endpoints_file = self.log_path.with_suffix(".endpoints.yaml")
            listed = [{"name": name, "url": url, "timeoutSeconds": 2} for name, url in self.endpoints.items()]
            endpoints_file.write_text(yaml.safe_dump({"endpoints": listed}))
            env["HOTFIX_PROMETHEUS_ENDPOINTS_FILE"] = str(endpoints_file)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hotfix_operator.cli.main", "run", *self.extra_args],
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )

        def serving() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the operator exited; log:\n{self.log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(self.metrics_url, timeout=1):
                    return True
            except OSError:
                return False

        wait_until(serving, timeout=60, what="the operator to start")
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, exactly what a crashed pod looks like."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_pids([self.process.pid])

    def metrics(self, timeout: float = 2.0) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=timeout) as response:
            return response.read().decode()
