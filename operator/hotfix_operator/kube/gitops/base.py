"""What every GitOps owner client does, and the errors and answers they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from hotfix_operator.kube.api import ApiError, KubeApi
from hotfix_operator.kube.gitops.owners import GitOpsOwner
from hotfix_operator.rules.revert import TemplateChange


class GitOpsError(Exception):
    """The owner could not be read or changed; the message says why and what a person can do."""


@dataclass(frozen=True)
class Hold:
    """What was there before the operator held the owner (restored as it was on resume)."""

    previous: Any
    source_revision: str | None
    # A later revision already judged (not caught up): not read again until Git moves on.
    judged_revision: str | None = None


@dataclass(frozen=True)
class Caught:
    """Whether Git caught up: ``up`` True (resume), False (Git still holds the bad version) or None (cannot
    tell: a person resumes); ``revision`` is the source revision judged, ``why`` the words for the timeline."""

    up: bool | None
    revision: str | None
    why: str


def api_problem(error: ApiError, owner: GitOpsOwner, doing: str) -> GitOpsError:
    if error.status == 403:
        return GitOpsError(f"forbidden to {doing} {owner.describe()} ({error.reason}): grant get and patch on "
                           f"{owner.kind.plural}.{owner.kind.group} in namespace {owner.namespace}")  # fmt: skip
    if error.status == 404:
        return GitOpsError(f"{owner.describe()} was not found (is {owner.kind.kind} installed?)")
    return GitOpsError(f"could not {doing} {owner.describe()}: {error}")


class OwnerClient(ABC):
    """One owner of one tool. Subclasses say how it is held, given back, and asked whether Git caught up."""

    def __init__(self, api: KubeApi, owner: GitOpsOwner) -> None:
        self.api = api
        self.owner = owner

    def read(self, doing: str = "read") -> dict[str, Any]:
        try:
            return dict(self.api.get(self.owner.path))
        except ApiError as error:
            raise api_problem(error, self.owner, doing) from error

    def patch(self, body: dict[str, Any], doing: str) -> None:
        try:
            self.api.patch(self.owner.path, body)
        except ApiError as error:
            raise api_problem(error, self.owner, doing) from error

    @abstractmethod
    def applies(self, owner_object: dict[str, Any], namespace: str, deployment: str) -> bool:
        """Whether the owner's own record lists this Deployment: a label on a Deployment is the tenant's to
        write, so it never alone makes the operator hold somebody else's owner."""

    @abstractmethod
    def prepare(self, owner_object: dict[str, Any]) -> Hold | None:
        """What to remember before holding, read from the object as it is now; None when nothing would
        re-apply Git (already suspended, automated sync off): then there is nothing to hold."""

    @abstractmethod
    def in_flight(self, status: dict[str, Any]) -> bool:
        """Whether the owner's status shows an apply under way (which a hold does not stop)."""

    @abstractmethod
    def hold(self) -> None:
        """Stop the owner re-applying Git, the way its own users do in an incident."""

    @abstractmethod
    def release(self, previous: Any) -> None:
        """Give reconciliation back exactly as it was before the hold."""

    @abstractmethod
    def caught_up(self, hold: Hold, namespace: str, deployment: str, changes: list[TemplateChange]) -> Caught:
        """Whether what Git now holds for the Deployment is no longer the rolled-back template."""
