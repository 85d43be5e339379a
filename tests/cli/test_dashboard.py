"""The dashboard's pages as served: values from the URL never leave the script they are put in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from kubernetes.client.exceptions import ApiException

from hotfix_operator.cli.dashboard import Dashboard, HotfixReader, _page, card
from hotfix_operator.cli.report_command import ReportOptions


def test_a_crafted_incident_id_cannot_close_the_script() -> None:
    hostile = "/api/incidents/</script><script>alert(1)</script>"
    text = _page("Incident </script><b>", "", SOURCE=hostile).text
    assert "<script>alert(1)" not in text and "</script><b>" not in text
    assert 'const SOURCE = "/api/incidents/\\u003c/script>' in text
    assert text.count("</script>") == 1  # only the page's own


def test_a_card_is_what_a_person_needs_at_a_glance() -> None:
    hotfix = {
        "metadata": {"namespace": "prod", "name": "auth-fix", "creationTimestamp": "2026-11-23T10:00:00Z"},
        "spec": {"incident": {"id": "INC-1", "severity": "SEV1"},
                 "targets": [{"deployment": "auth", "images": {"app": "registry.example/auth:1.4"}}]},
        "status": {"phase": "Monitoring", "decision": {"rule": "healthy"}, "lastAnalysis": {
            "result": "healthy", "metrics": {"prod/auth": [
                {"metric": "errorRate", "state": "healthy", "reason": "error rate 0.20% now; not above 1.00%"}]}}},
    }  # fmt: skip
    shown = card(hotfix, datetime(2026, 11, 23, 10, 30, tzinfo=UTC))
    assert shown["tone"] == "busy" and shown["severity"] == "SEV1" and shown["age"] == "30m"
    assert shown["targets"] == [{"deployment": "auth", "image": "auth:1.4"}]
    assert shown["thresholds"] == [{"state": "healthy", "symbol": "✔",
                                    "text": "prod/auth: error rate 0.20% now; not above 1.00%"}]  # fmt: skip
    assert shown["next"].endswith("kubectl hotfix rollback auth-fix")
    new = card({"metadata": {"namespace": "prod", "name": "new"}}, datetime(2026, 11, 23, tzinfo=UTC))
    assert (new["phase"], new["tone"], new["thresholds"]) == ("Pending", "idle", [])


class RefusingReader(HotfixReader):
    """What a kubeconfig without rights on the namespace gets from the API server."""

    def __init__(self, status: int, reason: str) -> None:
        self.status, self.reason = status, reason

    def list(self) -> list[dict[str, Any]]:
        raise ApiException(status=self.status, reason=self.reason)

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        raise ApiException(status=self.status, reason=self.reason)


def test_a_refused_read_is_passed_on_with_its_status() -> None:
    async def answers() -> list[tuple[int, str]]:
        results = []
        for status, reason, path in ((403, "Forbidden", "/api/hotfixes"), (404, "Not Found", "/api/hotfixes/a/b")):
            board = Dashboard(RefusingReader(status, reason), ReportOptions())
            async with TestClient(TestServer(board.app())) as http:
                response = await http.get(path)
                results.append((response.status, (await response.json())["error"]))
        return results

    assert asyncio.run(answers()) == [(403, "403 Forbidden"), (404, "404 Not Found")]
