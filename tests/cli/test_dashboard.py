"""The dashboard's pages as served: values from the URL never leave the script they are put in."""

from __future__ import annotations

from hotfix_operator.cli.dashboard import _page, row


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
