"""The postmortem template's pieces from one Hotfix's status, as the report puts them together."""

from __future__ import annotations

from hotfix_operator.report.incident import incident_report
from hotfix_samples import held_by_flux, rolled_back_hotfix


def report_of(hotfix: dict) -> str:
    return incident_report("INC-7", [hotfix], [], []).markdown


def test_one_hotfix_reported_has_every_section_with_the_facts() -> None:
    report = report_of(rolled_back_hotfix())
    for heading in ("## Summary", "## Timeline", "## Alert triggers", "## Follow-up actions", "## Root cause"):
        assert heading in report
    assert "**Severity:** SEV1" in report and "**Duration:** 7m30s" in report
    assert "`prod/auth-fix` on auth-api: **RolledBack**, rule `root-cause-unknown`" in report
    assert "errorRate = 0.05 (threshold 0.01)" in report
    assert "| RollbackPatched | auth-api: undo to revision 4 |" in report
    assert "x \\| y" in report  # table cells escape pipes
    assert "root cause of the regression" in report


def test_a_hotfix_in_flight() -> None:
    hotfix = rolled_back_hotfix()
    hotfix["status"] = {"phase": "Monitoring", "timeline": []}
    report = report_of(hotfix)
    assert "**Duration:** ongoing" in report
    assert "No threshold was breached." in report


def test_the_change_to_revert_and_the_held_owner_are_in_the_report() -> None:
    markdown = report_of(held_by_flux(rolled_back_hotfix()))
    assert "## Git" in markdown and "### `prod/auth-fix`" in markdown
    assert "- `auth-api` spec.template.spec.containers[app].image: auth:1.1 -> auth:1.0" in markdown
    assert "Kustomization flux-system/apps (auth-api): held since" in markdown
    assert "`kubectl hotfix resume auth-fix`" in markdown
    assert "- [ ] Revert the rolled-back change in Git: auth-api: spec.template" in markdown


def test_no_git_section_without_a_change_to_revert() -> None:
    assert "## Git" not in report_of(rolled_back_hotfix())
