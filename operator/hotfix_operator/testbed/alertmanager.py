"""A real Alertmanager (Debian's prometheus-alertmanager) on a loopback port, for the tests.

Routes and receivers come from the caller; clustering is off. Stopped by process id, log kept.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from hotfix_operator.testbed.processes import free_port, stop_pids, wait_ready


def alertmanager_binary() -> str:
    found = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not found:
        raise RuntimeError("no Alertmanager binary: hack/install-prometheus.sh installs Debian's package")
    return found


class LocalAlertmanager:
    def __init__(self, work_dir: Path, config: dict[str, Any]) -> None:
        self.work_dir = work_dir.resolve()
        self.config = config
        self.port = 0
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "alertmanager.log"

    def start(self, timeout: float = 30.0) -> str:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.work_dir / "alertmanager.yml"
        config_path.write_text(yaml.safe_dump(self.config))
        # A restart keeps the port, as a real Alertmanager coming back would.
        self.port = self.port or free_port()
        process = subprocess.Popen(
            [
                alertmanager_binary(),
                f"--config.file={config_path}",
                f"--storage.path={self.work_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = process.pid

        wait_ready(process, self.url, self.log_path, "alertmanager", timeout)
        return self.url

    def stop(self) -> None:
        if self.pid is not None:
            stop_pids([self.pid])
            self.pid = None
