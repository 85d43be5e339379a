"""Policy guards at work: every new revision of a selected Deployment gets a guard Hotfix.

What the Deployment watch delivers is reduced at once to a revision number per Deployment; the
ReplicaSets are read only when a selected Deployment reaches a new revision. The plan comes from the
pure rules in ``rules/guard.py``; this module only reads, creates and annotates. The circuit breaker
that caps the guards' automatic rollbacks lives here too, fed from the Hotfix watch, so that a restart
forgets none of the rollbacks in its window.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from hotfix_operator.api.models import GROUP, VERSION, SpecError
from hotfix_operator.api.policy import POLICY_KIND, POLICY_LABEL, parse_policy_spec
from hotfix_operator.engine.config import OperatorConfig
from hotfix_operator.kube.hotfixes import HotfixClient
from hotfix_operator.kube.identity import TenantClients
from hotfix_operator.kube.rollouts import (
    DeploymentError,
    current_revision,
    revision_history,
    revision_of,
    rollout_status,
)
from hotfix_operator.rules.breaker import CLUSTER_SCOPE, Limit, RollbackBreaker, policy_scope, rollback_admitted_at
from hotfix_operator.rules.claims import ClaimBook
from hotfix_operator.rules.guard import (
    DeploymentChange,
    GuardAction,
    GuardBook,
    PolicyRef,
    created_at,
    guard_manifest,
    plan_guard,
    safety_for,
)
from hotfix_operator.rules.lifecycle import SUPERSEDED_BY
from hotfix_operator.rules.rolled_back import RolledBackBook

log = logging.getLogger("hotfix_operator.guard")


def policy_reference(namespace: str, name: str, uid: str) -> dict[str, Any]:
    """Enough of a policy object to post an Event on it."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": POLICY_KIND,
        "metadata": {"namespace": namespace, "name": name, "uid": uid},
    }


class PolicyGuarding:
    def __init__(
        self, tenants: TenantClients, hotfixes: HotfixClient, claims: ClaimBook, post_event: Any, config: OperatorConfig
    ) -> None:
        self.tenants = tenants
        self.hotfixes = hotfixes
        self.claims = claims
        self.post_event = post_event
        self.config = config
        self.guards = GuardBook()
        self.rolled_back = RolledBackBook()
        self.breaker = RollbackBreaker()
        # namespace -> policy name -> the policy, or why its spec does not parse
        self.policies: dict[str, dict[str, PolicyRef | SpecError]] = {}
        # (namespace, deployment) -> the last revision the watch delivered
        self.revisions: dict[tuple[str, str], int] = {}

    # -- policies ----------------------------------------------------------------------------

    def policy_seen(self, body: dict[str, Any]) -> SpecError | None:
        metadata = body["metadata"]
        namespace, name = metadata["namespace"], metadata["name"]
        try:
            entry: PolicyRef | SpecError = PolicyRef(namespace, name, metadata["uid"],
                                                     parse_policy_spec(dict(body.get("spec") or {})))  # fmt: skip
        except SpecError as error:
            entry = error
        self.policies.setdefault(namespace, {})[name] = entry
        return entry if isinstance(entry, SpecError) else None

    def policy_gone(self, namespace: str, name: str) -> None:
        policies = self.policies.get(namespace, {})
        policies.pop(name, None)
        if not policies:
            self.policies.pop(namespace, None)

    def policy(self, namespace: str, name: str) -> PolicyRef | None:
        entry = self.policies.get(namespace, {}).get(name)
        return entry if isinstance(entry, PolicyRef) else None

    def _policy_guarding(self, namespace: str, deployment: dict[str, Any]) -> PolicyRef | None:
        """The first policy (by name) of the namespace that selects this Deployment."""
        metadata = deployment["metadata"]
        labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
        for name in sorted(self.policies.get(namespace, {})):
            policy = self.policy(namespace, name)
            if policy is not None and policy.spec.guards(metadata["name"], labels, annotations):
                return policy
        return None

    # -- Hotfixes (the guards, and the rollbacks the breaker counts) ------------------------

    def hotfix_seen(self, namespace: str, body: dict[str, Any]) -> None:
        self.guards.seen(namespace, body)
        self.rolled_back.seen(namespace, body)
        policy = ((body.get("metadata") or {}).get("labels") or {}).get(POLICY_LABEL)
        status = body.get("status") or {}
        admitted = rollback_admitted_at(status)
        if policy and admitted is not None:
            key = f"{namespace}/{body['metadata']['name']}"
            self.breaker.record(key, [policy_scope(namespace, policy), CLUSTER_SCOPE], admitted)

    def hotfix_gone(self, namespace: str, name: str) -> None:
        self.guards.gone(namespace, name)
        self.rolled_back.gone(namespace, name)

    def breaker_limits(self, namespace: str, policy_name: str) -> list[Limit]:
        limits = [Limit(CLUSTER_SCOPE, self.config.guard_max_rollbacks, self.config.guard_rollback_window)]
        policy = self.policy(namespace, policy_name)
        if policy is not None:
            breaker = policy.spec.breaker
            limits.insert(0, Limit(policy_scope(namespace, policy_name), breaker.max_rollbacks, breaker.window))
        return limits

    def admit_rollback(self, namespace: str, name: str, policy_name: str, now: datetime) -> str | None:
        """None when the guard may roll back automatically; else why a person must decide."""
        return self.breaker.admit(f"{namespace}/{name}", self.breaker_limits(namespace, policy_name), now)

    # -- Deployments ---------------------------------------------------------------------------

    def new_revision(self, event_type: str, deployment: dict[str, Any]) -> bool:
        """Whether this watch event brings a revision to consider (cheap: no API call)."""
        metadata = deployment["metadata"]
        key = (metadata["namespace"], metadata["name"])
        if event_type == "DELETED":
            self.revisions.pop(key, None)
            return False
        revision = revision_of(deployment) or 0
        last_seen = self.revisions.get(key)
        self.revisions[key] = revision
        if revision <= 1 or last_seen == revision:
            # A new Deployment (no revision yet, or its first) has nothing to roll back to: no API call.
            return False
        if last_seen is None:
            # First sight (the operator just started): a finished rollout is history; one in progress may be a
            # change the operator missed while it was down (a guard that exists already is not made twice).
            return not rollout_status(deployment).done
        return True

    async def deployment_seen(self, event_type: str, deployment: dict[str, Any], logger: logging.Logger) -> None:
        if not self.new_revision(event_type, deployment):
            return
        namespace = deployment["metadata"]["namespace"]
        policy = self._policy_guarding(namespace, deployment)
        if policy is None:
            if self.rolled_back.watched(namespace, deployment["metadata"]["name"]):
                await asyncio.to_thread(self._report_unwatched_reapply, deployment, logger)
            return
        try:
            await self._guard(policy, deployment, logger)
        except Exception:
            # Not guarded yet: the Deployment's next watch event (a rollout brings many) tries again.
            self.revisions.pop((namespace, deployment["metadata"]["name"]), None)
            raise

    async def _guard(self, policy: PolicyRef, deployment: dict[str, Any], logger: logging.Logger) -> None:
        """Read the revisions (off the event loop), plan on the loop (the books are the loop's alone), create."""
        change = await asyncio.to_thread(self._change, policy, deployment)
        if change is None:
            return
        persons = [claim for claim in self.claims.in_namespace(change.namespace)
                   if not self.guards.is_guard(change.namespace, claim.name)]  # fmt: skip
        latest = self.guards.latest(change.namespace, change.deployment)
        plan = plan_guard(change, latest, persons, datetime.now(UTC))
        logger.info("deployment %s/%s revision %d: %s", change.namespace, change.deployment, change.revision,
                    plan.reason)  # fmt: skip
        if plan.action is GuardAction.SKIP:
            return
        created = await self._create_guard(policy, change, plan.supersedes, logger)
        if created is None:
            return
        self.guards.seen(change.namespace, created)
        reference = policy_reference(policy.namespace, policy.name, policy.uid)
        _, problems = safety_for(policy.spec.safety, change.annotations)
        for problem in problems:
            self.post_event(reference, type="Warning", reason="GuardSafetyAnnotation",
                            message=f"deployment {change.deployment}: {problem}")  # fmt: skip
        self.post_event(reference, type="Normal", reason="Guarding", message=f"deployment {change.deployment}: "
                        f"{plan.reason}; rollback target revision {change.previous_revision}")  # fmt: skip
        if plan.supersedes:
            name = created["metadata"]["name"]
            await asyncio.to_thread(self.hotfixes.annotate, change.namespace, plan.supersedes, {SUPERSEDED_BY: name})

    async def _create_guard(
        self, policy: PolicyRef, change: DeploymentChange, supersedes: str | None, logger: logging.Logger
    ) -> dict[str, Any] | None:
        """Create the guard; None when it exists already. A guard of that name left by an earlier Deployment of
        the same name (deleted and created again, its revisions counting from 1) gets a name of its own."""
        manifest = guard_manifest(policy, change, supersedes)
        created = await asyncio.to_thread(self.hotfixes.create, change.namespace, manifest)
        if created is not None:
            return created
        name = manifest["metadata"]["name"]
        existing = await asyncio.to_thread(self.hotfixes.get, change.namespace, name)
        if existing is None or created_at(existing) >= change.created_at:
            logger.info("guard %s exists already", name)
            return None
        manifest = guard_manifest(policy, change, supersedes, suffix=change.uid[:5])
        return await asyncio.to_thread(self.hotfixes.create, change.namespace, manifest)

    def _report_unwatched_reapply(self, deployment: dict[str, Any], logger: logging.Logger) -> None:
        """A template a person's Hotfix rolled back, live again after that Hotfix stopped watching and with no
        policy to guard it: said at once on that Hotfix (a Warning Event), never silent."""
        namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
        client = self.tenants.deployments(namespace, None)
        try:
            fresh = client.get(namespace, name)
            current = current_revision(fresh, client.replica_sets(fresh))
        except DeploymentError:
            return
        template = self.rolled_back.unwatched_reapply(namespace, name, current.name, datetime.now(UTC))
        if template is None:
            return
        message = (
            f"deployment {name} revision {current.number} re-applies the template this Hotfix rolled back "
            f"({current.name}), after it stopped watching; no policy guards {name}: a person must judge it"
        )
        logger.warning("%s/%s: %s", namespace, template.hotfix, message)
        reference = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Hotfix",
                     "metadata": {"namespace": namespace, "name": template.hotfix, "uid": template.uid}}  # fmt: skip
        self.post_event(reference, type="Warning", reason="TemplateReapplied", message=message)

    def _change(self, policy: PolicyRef, deployment: dict[str, Any]) -> DeploymentChange | None:
        """The Deployment's current and previous revisions, read as the policy's ServiceAccount."""
        metadata = deployment["metadata"]
        client = self.tenants.deployments(metadata["namespace"], policy.spec.service_account_name or None)
        try:
            fresh = client.get(metadata["namespace"], metadata["name"])
            replica_sets = client.replica_sets(fresh)
            current = current_revision(fresh, replica_sets)
        except DeploymentError as error:
            # Gone, or its ReplicaSet not created yet: the next event of the Deployment brings it again.
            log.info("deployment %s/%s not guarded now: %s", metadata["namespace"], metadata["name"], error)
            self.revisions.pop((metadata["namespace"], metadata["name"]), None)
            return None
        history = revision_history(fresh, replica_sets)
        earlier = [revision.number for revision in history if revision.number < current.number]
        return DeploymentChange(
            namespace=metadata["namespace"],
            deployment=metadata["name"],
            revision=current.number,
            replica_set=current.name,
            previous_revision=max(earlier, default=None),
            annotations=dict(fresh["metadata"].get("annotations") or {}),
            created_at=created_at(fresh),
            uid=str(fresh["metadata"].get("uid", "")),
        )
