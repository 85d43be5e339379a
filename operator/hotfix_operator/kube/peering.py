"""The Kubernetes adapter for Kopf's peering objects: this replica's keep-alive, written as Kopf writes it.

Kopf keeps one entry per live operator in the peering object's status (``{identity: {priority, lifetime,
lastseen}}``, a merge patch; the peering CRDs have no status subresource). Writing the entry and reading the
others come in one request: the answer is the object after the write, so of two replicas that start at once
the later one always sees the earlier one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hotfix_operator.kube.api import ApiError, KubeApi
from hotfix_operator.kube.unavailable import as_unavailable

PEERING_GROUP_VERSION = "kopf.dev/v1"


def peering_path(name: str, namespace: str | None) -> str:
    """A ``ClusterKopfPeering`` for a cluster-wide operator, a ``KopfPeering`` in each namespace otherwise."""
    if namespace is None:
        return f"/apis/{PEERING_GROUP_VERSION}/clusterkopfpeerings/{name}"
    return f"/apis/{PEERING_GROUP_VERSION}/namespaces/{namespace}/kopfpeerings/{name}"


class PeeringClient:
    def __init__(self, api: KubeApi) -> None:
        self.api = api

    def announce(
        self, name: str, namespace: str | None, identity: str, priority: int, lifetime: int, now: datetime
    ) -> dict[str, Any] | None:
        """Write this replica's keep-alive into the peering object and return every peer's entry as it stands
        after the write (this one's included); None when the peering object does not exist."""
        entry = {"priority": priority, "lifetime": lifetime, "lastseen": now.isoformat()}
        try:
            updated: dict[str, Any] = self.api.patch(peering_path(name, namespace), {"status": {identity: entry}})
        except ApiError as error:
            if error.status == 404:
                return None
            where = f"{namespace}/{name}" if namespace else name
            raise as_unavailable(error, f"writing the keep-alive into the peering {where}") or error from None
        return dict(updated.get("status") or {})
