"""One Hotfix acts on a Deployment at a time.

Two Hotfixes on the same Deployment would each record the other's change as their baseline and undo each
other's work. The older one (by creation time, then name) holds the Deployment while it may still act on
it; a younger one is refused with the holder's name, so a person can finish it, delete it, or put the new
images into its spec as a forward fix. A rolled-back Hotfix only watches, so it holds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hotfix_operator.api.status import Phase

# The phases in which a Hotfix may still patch or undo its Deployments (a Hotfix without a phase is new).
ACTING_PHASES = frozenset(
    {
        None,
        Phase.PENDING,
        Phase.AWAITING_APPROVAL,
        Phase.ROLLING_OUT,
        Phase.MONITORING,
        Phase.FORWARD_FIX_PENDING,
        Phase.ROLLING_BACK,
    }
)


@dataclass(frozen=True)
class Claim:
    """What one Hotfix of the namespace says about itself, as far as holding Deployments goes."""

    name: str
    created_at: datetime
    phase: Phase | None
    deployments: frozenset[str]


@dataclass(frozen=True)
class Conflict:
    deployment: str
    holder: str
    holder_phase: Phase | None

    def message(self) -> str:
        phase = self.holder_phase.value if self.holder_phase else "new"
        return (
            f"deployment {self.deployment} is already in the hands of Hotfix {self.holder} (phase {phase}); one "
            f"Hotfix acts on a Deployment at a time: let {self.holder} finish, delete it, or put the new images "
            f"into its spec as a forward fix"
        )


def conflicting_claim(own: Claim, others: list[Claim]) -> Conflict | None:
    """The older Hotfix that holds one of ``own``'s Deployments, if any."""
    for other in sorted(others, key=lambda claim: (claim.created_at, claim.name)):
        if other.name == own.name or other.phase not in ACTING_PHASES:
            continue
        if (other.created_at, other.name) >= (own.created_at, own.name):
            continue
        shared = sorted(own.deployments & other.deployments)
        if shared:
            return Conflict(deployment=shared[0], holder=other.name, holder_phase=other.phase)
    return None


def claim_of(body: dict[str, Any]) -> Claim:
    """What a Hotfix object holds; one whose spec does not parse acts on nothing it does not name."""
    metadata = body["metadata"]
    created = datetime.fromisoformat(metadata["creationTimestamp"].replace("Z", "+00:00"))
    targets = (body.get("spec") or {}).get("targets") or []
    deployments = frozenset(
        t["deployment"] for t in targets if isinstance(t, dict) and isinstance(t.get("deployment"), str)
    )
    return Claim(metadata["name"], created, _phase((body.get("status") or {}).get("phase")), deployments)


def _phase(value: object) -> Phase | None:
    # Read on every watch event: the phase alone, not the whole status through the model.
    try:
        return Phase(value) if value else None
    except ValueError:
        return None


class ClaimBook:
    """Every Hotfix's claim by namespace, kept from the watch: no list call per new Hotfix."""

    def __init__(self) -> None:
        self._by_namespace: dict[str, dict[str, Claim]] = {}

    def seen(self, namespace: str, body: dict[str, Any]) -> None:
        claim = claim_of(body)
        self._by_namespace.setdefault(namespace, {})[claim.name] = claim

    def gone(self, namespace: str, name: str) -> None:
        claims = self._by_namespace.get(namespace, {})
        claims.pop(name, None)
        if not claims:
            self._by_namespace.pop(namespace, None)

    def in_namespace(self, namespace: str) -> list[Claim]:
        return list(self._by_namespace.get(namespace, {}).values())
