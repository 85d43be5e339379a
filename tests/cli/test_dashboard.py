"""The dashboard's pages as served: values from the URL never leave the script they are put in."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from kubernetes.client.exceptions import ApiException

from hotfix_operator.cli.dashboard import Dashboard, HotfixReader, _page, row
from hotfix_operator.cli.report_command import ReportOptions


def test_a_crafted_incident_id_cannot_close_the_script() -> None:
    hostile = "/api/incidents/</script><script>alert(1)</script>"
    text = _page("Incident </script><b>", "", SOURCE=hostile).text
    assert "<script>alert(1)" not in text and "</script><b>" not in text
    assert 'const SOURCE = "/api/incidents/\\u003c/script>' in text
    assert text.count("</script>") == 1  # only the page's own


def test_a_row_is_what_the_list_shows() -> None:
    hotfix = {
        "metadata": {"namespace": "prod", "name": "auth-fix", "creationTimestamp": "2026-11-23T10:00:00Z"},
        "spec": {"incident": {"id": "INC-1"}},
        "status": {"phase": "Monitoring", "decision": {"rule": "healthy"}, "lastAnalysis": {"summary": "ok"}},
    }
    assert row(hotfix) == {"namespace": "prod", "name": "auth-fix", "incident": "INC-1", "phase": "Monitoring",
                           "rule": "healthy", "analysis": "ok", "created": "2026-11-23T10:00:00Z"}  # fmt: skip
    assert row({"metadata": {"namespace": "prod", "name": "new"}})["phase"] == "Pending"


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
