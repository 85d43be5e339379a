"""The templates people's Hotfixes rolled back, so that one applied again after its Hotfix stopped
watching is never silent. Pure: fed from the Hotfix watch, asked by the Deployment watch.

A RolledBack Hotfix watches for its template coming back during its stability window and escalates
(``TemplateReapplied``); a policy's guard gets a new guard after its window (``rules/guard.py``). A Hotfix a
person wrote, on a Deployment no policy selects, has nobody after its window: this book remembers what it
rolled back, and a later revision with that very ReplicaSet is reported on the Hotfix at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hotfix_operator.api.policy import POLICY_LABEL
from hotfix_operator.api.status import Phase
from hotfix_operator.rules.guard import watching_until


@dataclass(frozen=True)
class RolledBackTemplate:
    hotfix: str
    uid: str
    deployment: str
    replica_set: str  # the rolled-back (bad) template's ReplicaSet
    watching_until: datetime | None


def rolled_back_templates(body: dict[str, Any]) -> list[RolledBackTemplate]:
    """What a person's RolledBack Hotfix rolled back, per target; nothing for any other Hotfix."""
    metadata, status = body.get("metadata") or {}, body.get("status") or {}
    if status.get("phase") != Phase.ROLLED_BACK.value or POLICY_LABEL in (metadata.get("labels") or {}):
        return []
    until = watching_until(body)
    return [
        RolledBackTemplate(
            metadata["name"], str(metadata.get("uid", "")), target["deployment"], target["hotfixReplicaSet"], until
        )
        for target in status.get("targets") or []
        if target.get("hotfixReplicaSet") and target.get("deployment")
    ]


class RolledBackBook:
    """(namespace, deployment) -> the templates rolled back there, by Hotfix."""

    def __init__(self) -> None:
        self._templates: dict[tuple[str, str], dict[str, RolledBackTemplate]] = {}
        # (namespace, Hotfix) -> its Deployments in the book: seen on every Hotfix event, so no scan
        self._where: dict[tuple[str, str], list[str]] = {}

    def seen(self, namespace: str, body: dict[str, Any]) -> None:
        name = (body.get("metadata") or {}).get("name", "")
        templates = rolled_back_templates(body)
        if not templates and (namespace, name) not in self._where:
            return  # the common case: not a person's RolledBack Hotfix
        self.gone(namespace, name)
        for template in templates:
            self._templates.setdefault((namespace, template.deployment), {})[name] = template
        if templates:
            self._where[(namespace, name)] = [template.deployment for template in templates]

    def gone(self, namespace: str, name: str) -> None:
        for deployment in self._where.pop((namespace, name), []):
            by_hotfix = self._templates.get((namespace, deployment), {})
            by_hotfix.pop(name, None)
            if not by_hotfix:
                self._templates.pop((namespace, deployment), None)

    def watched(self, namespace: str, deployment: str) -> bool:
        """Whether a Deployment's new revision must be read to compare it (cheap: no API call)."""
        return (namespace, deployment) in self._templates

    def unwatched_reapply(
        self, namespace: str, deployment: str, replica_set: str, now: datetime
    ) -> RolledBackTemplate | None:
        """The rolled-back template this revision applies again after its Hotfix stopped watching, if any
        (inside the window the Hotfix escalates it itself)."""
        for template in self._templates.get((namespace, deployment), {}).values():
            past = template.watching_until is not None and now >= template.watching_until
            if template.replica_set == replica_set and past:
                return template
        return None
