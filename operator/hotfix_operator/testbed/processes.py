"""Small process helpers for the test bed: free loopback ports, waiting, stopping by process id."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS picks it, so parallel runs do not collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``condition`` until it holds; raise TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A zombie child of ours is dead for every purpose here; reap it.
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        return reaped == 0
    except ChildProcessError:
        return True


def stop_pids(pids: Iterable[int], grace: float = 10.0) -> None:
    """SIGTERM each process group, wait up to ``grace`` seconds, then SIGKILL what is left."""
    pids = list(pids)
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            continue
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue


def wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path, what: str, timeout: float) -> None:
    """Wait until a Prometheus-style server answers ``/-/ready``; fail with its log if it exits."""

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(
                f"{what} exited with code {process.returncode}; log {log_path}:\n"
                + log_path.read_text(errors="replace")[-3000:]
            )
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    wait_until(ready, timeout=timeout, what=f"{what} to become ready")
