"""A thousand manifests generated from the CRD's schema, most of them hostile, applied to the real API server
with the operator running: each is refused naming the field, or ends in a phase with a clear condition;
the operator never crashes and a Hotfix already monitoring keeps being analysed."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from kubernetes.client.exceptions import ApiException

from hostile_manifests import hostile_manifests
from hotfix_operator.api.models import GROUP, PLURAL, VERSION
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import wait_until
from operator_support import FIXED_IMAGE, Cluster, hotfix_manifest
from trust_records import trial

pytestmark = pytest.mark.trust

CORPUS_SIZE = 1000
# A refusal names what is wrong: a field path of the spec, or the unknown field itself.
NAMES_A_FIELD = re.compile(r"spec(\.[A-Za-z]|\[)|unknown field \"spec\.")


def corpus(size: int) -> list[dict[str, Any]]:
    """``size`` distinct manifests, drawn by Hypothesis without a database (derandomized)."""
    drawn: list[dict[str, Any]] = []

    @settings(
        # A few more than needed: the odd duplicate is dropped below.
        max_examples=size + size // 5,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(hostile_manifests())
    def collect(manifest: dict[str, Any]) -> None:
        drawn.append(manifest)

    collect()
    unique = {json.dumps(manifest, sort_keys=True): manifest for manifest in drawn}
    manifests = list(unique.values())[:size]
    assert len(manifests) == size, len(manifests)
    return manifests


def clear(status: dict[str, Any]) -> bool:
    """A phase, and a condition that says why, in words."""
    return bool(status.get("phase")) and any(c.get("reason") and c.get("message") for c in status.get("conditions", []))


def test_a_thousand_hostile_manifests(running_operator: OperatorProcess, cluster: Cluster) -> None:
    with trial("hostile-input", f"{CORPUS_SIZE} manifests generated from the CRD schema") as t:
        cluster.create_deployment("canary")
        cluster.apply_hotfix(hotfix_manifest("canary-fix", ["canary"], FIXED_IMAGE, stability={"checkpoints": ["1h"]}))
        cluster.wait_phase("canary-fix", "Monitoring")
        refused, created, unclear_refusals = 0, [], []
        for index, manifest in enumerate(corpus(CORPUS_SIZE)):
            manifest["metadata"]["name"] = f"hostile-{index:04d}"
            try:
                cluster.custom.create_namespaced_custom_object(
                    GROUP, VERSION, cluster.namespace, PLURAL, manifest, field_validation="Strict"
                )
            except ApiException as error:
                message = json.loads(error.body or "{}").get("message", "")
                if error.status in (400, 422) and NAMES_A_FIELD.search(message):
                    refused += 1
                else:
                    unclear_refusals.append((error.status, message[:300]))
                continue
            created.append(manifest["metadata"]["name"])
        assert not unclear_refusals, unclear_refusals[:5]
        applied_at = time.time()

        def statuses() -> dict[str, dict[str, Any]]:
            listing = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, cluster.namespace, PLURAL)
            return {item["metadata"]["name"]: item.get("status") or {} for item in listing["items"]}

        wait_until(
            lambda: all(clear(status) for name, status in statuses().items() if name in created),
            timeout=180,
            what="every accepted hostile Hotfix to reach a clear phase",
            interval=2,
        )
        settled = round(time.time() - applied_at, 1)
        outcomes: dict[str, int] = {}
        for name, status in statuses().items():
            if name in created:
                reason = next((c["reason"] for c in status["conditions"] if c["type"] == "Succeeded"), "-")
                outcome = f"{status['phase']}/{reason}"
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        # The Hotfix that was monitoring all along is still served: an edit of its spec is observed at once.
        cluster.edit_and_wait_observed("canary-fix", timeout=10)
        assert cluster.status("canary-fix")["phase"] == "Monitoring"
        assert running_operator.process is not None and running_operator.process.poll() is None
        assert refused + len(created) == CORPUS_SIZE
        t.figures.update(
            tried=CORPUS_SIZE,
            refused_naming_the_field=refused,
            accepted_then_clear_phase=len(created),
            outcomes=outcomes,
            settled_seconds=settled,
            crashes=0,
        )
