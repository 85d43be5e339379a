"""The postmortem draft and the plugin's table, from a Hotfix as the operator leaves it."""

from __future__ import annotations

from hotfix_operator.report.postmortem import postmortem_markdown
from hotfix_samples import held_by_flux, rolled_back_hotfix


def test_postmortem_has_every_section_with_the_facts() -> None:
    report = postmortem_markdown(rolled_back_hotfix())
    for heading in ("## Summary", "## Timeline", "## Alert triggers", "## Remediation actions", "## Follow-ups"):
        assert heading in report
    assert "**Severity:** SEV1" in report
    assert "**Start:** 2026-11-22 10:00:00 UTC" in report
    assert "**End:** 2026-11-22 10:07:30 UTC" in report
    assert "**Duration:** 7m30s" in report
    assert "auth-api (revision 4 -> 5)" in report
    assert "errorRate = 0.05 (threshold 0.01)" in report
    assert "RollbackPatched: auth-api: undo to revision 4" in report
    assert "x \\| y" in report  # table cells escape pipes
    assert "root cause of the regression" in report


def test_postmortem_of_a_hotfix_in_flight() -> None:
    hotfix = rolled_back_hotfix()
    hotfix["status"] = {"phase": "Monitoring", "timeline": []}
    report = postmortem_markdown(hotfix)
    assert "**Duration:** ongoing" in report
    assert "No threshold was breached." in report


def test_the_change_to_revert_and_the_held_owner_are_in_the_report() -> None:
    hotfix = held_by_flux(rolled_back_hotfix())
    markdown = postmortem_markdown(hotfix)
    assert "## Git" in markdown
    assert "- `auth-api` spec.template.spec.containers[app].image: auth:1.1 -> auth:1.0" in markdown
    assert "Kustomization flux-system/apps (auth-api): held since" in markdown
    assert "`kubectl hotfix resume auth-fix`" in markdown
    assert "- [ ] Revert the rolled-back change in Git: auth-api: spec.template" in markdown


def test_no_git_section_without_a_change_to_revert() -> None:
    assert "## Git" not in postmortem_markdown(rolled_back_hotfix())
