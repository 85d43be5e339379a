"""Who may ask a Hotfix to roll back: its own namespace, and the namespaces it names.

The rule multi-service-unclear rolls back every recent deploy of an incident, found by incident id. An id
is free text that anyone can copy from a status page, so a Hotfix of another namespace is asked only when
that Hotfix consents (``spec.incident.acceptRollbackRequestsFrom`` lists the asking namespace): the consent
is written by someone with rights in the namespace that would be rolled back. Checked by the asking side
(it does not ask) and again by the asked side (it does not act), so neither check alone holds the line.
"""

from __future__ import annotations

from collections.abc import Iterable

CONSENT_FIELD = "spec.incident.acceptRollbackRequestsFrom"


def requester_namespace(requested_by: str) -> str:
    """The namespace of the Hotfix behind a rollback-requested-by value, ``<namespace>/<name> (<rule>)``."""
    return requested_by.split("/", 1)[0].strip()


def accepts_request(own_namespace: str, accepted_from: Iterable[str], requester: str) -> bool:
    return requester == own_namespace or requester in set(accepted_from)


def refusal_for_asked(requester_key: str, requester: str, incident: str) -> str:
    """What the Hotfix that was not asked (or does not act) is told."""
    return (
        f"{requester_key} asked for a rollback with every recent deploy of incident {incident}; refused: "
        f"namespace {requester} is not in {CONSENT_FIELD}"
    )


def refusal_for_asker(namespaces: Iterable[str], incident: str) -> str:
    """What the asking Hotfix is told: the namespaces, not the names of Hotfixes it has no rights to see."""
    listed = ", ".join(sorted(set(namespaces)))
    return (
        f"not asked to roll back: Hotfixes of incident {incident} in namespace {listed}, which do not accept "
        f"rollback requests from this namespace ({CONSENT_FIELD}); someone with rights there must roll them back"
    )
