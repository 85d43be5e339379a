"""The templates people's Hotfixes rolled back: one applied again after its Hotfix stopped watching is found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hotfix_operator.rules.rolled_back import RolledBackBook, rolled_back_templates

UNDONE = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def hotfix(name: str, phase: str = "RolledBack", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "labels": labels or {}},
        "spec": {"stability": {"checkpoints": ["5m", "30m"]}},
        "status": {"phase": phase, "rollbackCompletedAt": UNDONE.isoformat(),
                   "targets": [{"deployment": "web", "hotfixReplicaSet": "web-bad"}]},
    }  # fmt: skip


def test_only_a_persons_rolled_back_hotfix_is_remembered() -> None:
    [template] = rolled_back_templates(hotfix("web-fix"))
    assert (template.hotfix, template.deployment, template.replica_set) == ("web-fix", "web", "web-bad")
    assert template.watching_until == UNDONE + timedelta(minutes=30)
    assert rolled_back_templates(hotfix("web-fix", phase="Monitoring")) == []
    # A policy's guard has its own rule: a new guard after its window.
    assert rolled_back_templates(hotfix("web-rev2", labels={"hotfix.dev/policy": "p"})) == []


def test_the_same_template_after_the_window_is_found_not_during_it_nor_another() -> None:
    book = RolledBackBook()
    book.seen("shop", hotfix("web-fix"))
    assert book.watched("shop", "web") and not book.watched("shop", "cart")
    during = UNDONE + timedelta(minutes=10)
    after = UNDONE + timedelta(minutes=31)
    assert book.unwatched_reapply("shop", "web", "web-bad", during) is None  # the Hotfix escalates it itself
    assert book.unwatched_reapply("shop", "web", "web-other", after) is None
    found = book.unwatched_reapply("shop", "web", "web-bad", after)
    assert found is not None and found.uid == "uid-web-fix"


def test_a_deleted_or_changed_hotfix_is_forgotten() -> None:
    book = RolledBackBook()
    book.seen("shop", hotfix("web-fix"))
    book.gone("shop", "web-fix")
    assert not book.watched("shop", "web")
    book.seen("shop", hotfix("web-fix"))
    book.seen("shop", hotfix("web-fix", phase="Escalated"))
    assert not book.watched("shop", "web")
