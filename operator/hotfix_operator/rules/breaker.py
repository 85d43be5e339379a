"""The circuit breaker on automatic rollbacks by policy guards.

Many guards deciding to roll back at once usually means that the telemetry or a shared dependency is
broken, not every deploy: past a limit within a window, a rollback decision becomes an escalation to a
person. Each scope (a policy, the whole cluster) counts the rollbacks admitted within its window; a
rollback is admitted only when every one of its scopes has room, and then counts in all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hotfix_operator.api.durations import format_duration
from hotfix_operator.api.status import Phase
from hotfix_operator.rules.decision import ROLLBACK_ACTIONS, Rule

CLUSTER_SCOPE = "cluster"


def policy_scope(namespace: str, policy: str) -> str:
    return f"policy {namespace}/{policy}"


@dataclass(frozen=True)
class Limit:
    scope: str
    max_rollbacks: int
    window: timedelta


@dataclass
class RollbackBreaker:
    # scope -> Hotfix (namespace/name) -> when its rollback was admitted
    admitted: dict[str, dict[str, datetime]] = field(default_factory=dict)

    def record(self, hotfix: str, scopes: list[str], at: datetime) -> None:
        """A rollback that happened (seen on a Hotfix after a restart, say); recording it again changes nothing."""
        for scope in scopes:
            self.admitted.setdefault(scope, {}).setdefault(hotfix, at)

    def recent(self, scope: str, window: timedelta, now: datetime) -> list[str]:
        """The Hotfixes whose rollbacks count in ``scope`` at ``now``."""
        # No upper bound: steps run side by side, and one that began a moment before another may be admitted
        # after it; a rollback "from the future" by a few seconds is still in the window.
        return sorted(key for key, at in self.admitted.get(scope, {}).items() if now - window < at)

    def admit(self, hotfix: str, limits: list[Limit], now: datetime) -> str | None:
        """Admit (and count) a rollback, or say which limit refuses it. A Hotfix admitted before is
        admitted again: its one rollback is counted once."""
        if all(hotfix in self.admitted.get(limit.scope, {}) for limit in limits):
            return None
        for limit in limits:
            # Rollbacks that left the window never count again: drop them (a deleted Hotfix's rollback stays
            # counted until then).
            scope = self.admitted.get(limit.scope, {})
            for key in [key for key, at in scope.items() if at <= now - limit.window]:
                del scope[key]
            recent = [key for key in self.recent(limit.scope, limit.window, now) if key != hotfix]
            if len(recent) >= limit.max_rollbacks:
                return (
                    f"the {limit.scope} breaker is open: {len(recent)} automatic rollbacks within "
                    f"{format_duration(limit.window)} ({', '.join(recent)}), at most {limit.max_rollbacks}; many "
                    "rollbacks at once usually mean broken telemetry or a shared dependency, so a person decides"
                )
        self.record(hotfix, [limit.scope for limit in limits], now)
        return None


def rollback_admitted_at(status: dict[str, Any]) -> datetime | None:
    """When a Hotfix's automatic rollback was decided, from its status: the decision that put it in RollingBack."""
    decision = status.get("decision") or {}
    if status.get("phase") != Phase.ROLLING_BACK.value and not status.get("rollbackStartedAt"):
        return None
    if decision.get("action") not in {action.value for action in ROLLBACK_ACTIONS} or not decision.get("at"):
        return None
    if decision.get("rule") == Rule.MANUAL_REQUEST.value:
        return None  # a person's rollback is never held back, so it does not count either
    return datetime.fromisoformat(str(decision["at"]).replace("Z", "+00:00"))
