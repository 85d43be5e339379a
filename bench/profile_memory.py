"""Where the operator's memory goes with many Hotfixes in Monitoring: the resident size with and without
Hotfixes, then tracemalloc in the operator's process, started at steady state (every Hotfix has had its
first decision) so that tracing does not slow the start, and dumped two intervals later: what each Hotfix
keeps from one analysis to the next.

    BENCH_LOAD_HOTFIXES=1000 python bench/profile_memory.py      (prints the report's path and its top)
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from kubernetes import config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_operator import LOAD_HOTFIXES, LOAD_INTERVAL, _rss_mib, create_load, wait_monitoring

from hotfix_operator.api.durations import parse_duration
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBed
from testbed_support import install_crd

HOOK = Path(__file__).resolve().parent / "tracemalloc_hook"
TRACE_FROM = os.environ.get("BENCH_TRACE_FROM", "steady")


def main() -> None:
    bed = TestBed(Path(tempfile.mkdtemp(prefix="hotfix-profile-")))
    state = bed.start()
    report = bed.work_dir / "tracemalloc.txt"
    python_path = os.pathsep.join(filter(None, [str(HOOK), os.environ.get("PYTHONPATH", "")]))
    env = {"PYTHONPATH": python_path, "HOTFIX_TRACEMALLOC_OUT": str(report)}
    operator = OperatorProcess(state.kubeconfig, state.prometheus_url, bed.work_dir / "operator.log", env=env)
    try:
        api_client = config.new_client_from_config(state.kubeconfig)
        install_crd(api_client)
        operator.start()
        assert operator.process is not None
        rss_before = _rss_mib(operator.process.pid)
        if TRACE_FROM == "load":
            os.kill(operator.process.pid, signal.SIGUSR2)
        create_load(api_client, ["bench-load"], LOAD_HOTFIXES, LOAD_INTERVAL)
        wait_monitoring(api_client, ["bench-load"], LOAD_HOTFIXES)
        interval = parse_duration(LOAD_INTERVAL).total_seconds()
        time.sleep(interval)
        print(f"RSS {rss_before:.0f} MiB with no Hotfix; {_rss_mib(operator.process.pid):.0f} MiB with "
              f"{LOAD_HOTFIXES} in Monitoring")  # fmt: skip
        if TRACE_FROM != "load":
            os.kill(operator.process.pid, signal.SIGUSR2)
        time.sleep(2 * interval)
        os.kill(operator.process.pid, signal.SIGUSR1)
        # A snapshot of a whole start's allocations takes minutes to group; the hook renames it in when done.
        deadline = time.monotonic() + 900
        while not report.exists() and time.monotonic() < deadline:
            time.sleep(1)
        print(f"tracemalloc report: {report}")
        print("\n".join(report.read_text().splitlines()[:60]))
    finally:
        operator.stop()  # also when the report never came: a stray operator would outlive its test bed
        bed.stop()


if __name__ == "__main__":
    main()
