"""`make demo`'s scenario, unattended: the bad hotfix is rolled back, the good one becomes Stable."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hotfix_operator.testbed.demo import Demo
from hotfix_operator.testbed.stack import TestBed

# The demo starts a whole test bed of its own.
pytestmark = pytest.mark.real


def test_demo_scenario(tmp_path: Path) -> None:
    out = io.StringIO()
    demo = Demo(tmp_path / "demo", out=out)
    try:
        phases = demo.run(timeout=240)
    finally:
        TestBed.stop_saved(tmp_path / "demo")
    text = out.getvalue()
    # These machines can run the real node: the demo says so first, and its third hotfix never starts.
    assert demo.real, demo.unavailable
    assert text.startswith("==> real pods: a kubelet runs them"), text[:200]
    assert phases == {"search-fix": "Stable", "auth-fix": "RolledBack", "cart-fix": "RolledBack"}, text
    assert "root-cause-unknown" in text and "rollout-failed" in text and "ImagePull" in text
    assert "# Incident report: INC-2026-0102" in text and "`demo/auth-fix` on auth-api: **RolledBack**" in text
    assert "export KUBECONFIG=" in text
