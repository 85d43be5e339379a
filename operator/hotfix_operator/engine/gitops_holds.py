"""A rollback that GitOps cannot undo: hold the Deployment's GitOps owner before the undo, give it back.

Before a target is undone, its owner (Flux Kustomization or HelmRelease, Argo CD Application, read off the
Deployment and confirmed by the owner's own record) is held the way its users hold it in an incident, as
the Hotfix's ServiceAccount, and what was there is recorded. Git still holds the bad version: the Event,
the notification and the report say so, with the change to revert. The owner is given back exactly as it
was when a person runs ``kubectl hotfix resume NAME`` (annotation ``hotfix.dev/resume-gitops``) or when
Git catches up by itself (a newer source revision that no longer holds the rolled-back template). An owner
that cannot be held (no rights, not installed) leaves the rollback as it was: it goes ahead, a re-apply is
escalated, and the reason is said once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hotfix_operator.api.status import GitOpsHold, RevertLine, TargetStatus
from hotfix_operator.engine.core import MIN_POLL_SECONDS, ControllerCore, Step, utcnow
from hotfix_operator.kube.gitops import GitOpsError, Hold, OwnerClient, owner_client
from hotfix_operator.kube.gitops.owners import OWNER_KINDS, GitOpsOwner, gitops_owner
from hotfix_operator.kube.rollouts import DeploymentError
from hotfix_operator.rules.lifecycle import RESUME_GITOPS_REQUEST
from hotfix_operator.rules.revert import revert_changes, revert_text, template_change

# How long after the hold the owner's own status is trusted to show an apply in flight.
HOLD_SETTLE = timedelta(seconds=2)


def _owner(hold: GitOpsHold) -> GitOpsOwner:
    return GitOpsOwner(OWNER_KINDS[hold.kind], hold.namespace, hold.name)


class GitOpsHolds(ControllerCore):
    def _owner_client(self, step: Step, owner: GitOpsOwner) -> OwnerClient:
        return owner_client(self.tenants.api(step.namespace, step.spec.service_account_name or None), owner)

    async def _before_undo(self, step: Step, recorded: TargetStatus) -> bool:
        """Record the change to revert and hold the target's GitOps owner, once, before its undo; False while
        the undo must wait for an apply the owner had in flight when it was held."""
        if recorded.undo_requested_at is not None:
            return True
        try:
            deployment = await self._io(self._deployments(step).get, step.namespace, recorded.deployment)
            replica_sets = await self._io(self._deployments(step).replica_sets, deployment)
        except DeploymentError:
            return True  # the undo reads it again and says what is wrong
        self._record_revert(recorded, deployment, replica_sets)
        owner = gitops_owner(deployment, self.config.argocd_namespace, self.config.argocd_label_tracking)
        if owner is None:
            return True
        await self._hold(step, owner, recorded.deployment)
        return await self._settled(step, owner)

    async def _settled(self, step: Step, owner: GitOpsOwner) -> bool:
        """Whether the held owner has no apply in flight. A hold stops the next reconciliation, not the one
        running: undone under it, the bad version would be applied again a moment later. Waited for within
        the rollback's timeout, then the undo goes ahead anyway (said once)."""
        key = (owner.kind.kind, owner.namespace, owner.name)
        hold = next((h for h in step.status.open_holds() if (h.kind, h.namespace, h.name) == key), None)
        if hold is None or hold.held_at is None:
            return True
        waited = utcnow() - hold.held_at
        if waited < HOLD_SETTLE:
            return False  # a reconciliation that read the owner just before the hold has not said so yet
        client = self._owner_client(step, owner)
        try:
            busy = client.in_flight((await self._io(client.read)).get("status") or {})
        except GitOpsError:
            return True
        if not busy:
            return True
        if waited > step.spec.rollback.timeout:
            self._note(step, "GitOpsStillApplying", f"{owner.describe()} was still applying after "
                       f"{int(waited.total_seconds())}s: the undo goes ahead", warning=True)  # fmt: skip
            return True
        step.logger.info("waiting for %s to finish the apply it had in flight before the undo", owner.describe())
        return False

    @staticmethod
    def _record_revert(recorded: TargetStatus, deployment: dict[str, Any], replica_sets: list[dict[str, Any]]) -> None:
        by_name = {rs["metadata"]["name"]: rs for rs in replica_sets}
        restored = by_name.get(recorded.baseline_replica_set)
        bad = by_name.get(recorded.hotfix_replica_set or "") or deployment
        if restored is None:
            return
        changes = revert_changes((bad.get("spec") or {}).get("template") or {}, restored["spec"].get("template") or {})
        recorded.revert = [RevertLine(field=c.field, bad=c.bad, restored=c.restored, judged=c.judged) for c in changes]

    async def _hold(self, step: Step, owner: GitOpsOwner, deployment: str) -> None:
        for existing in step.status.gitops:
            if (existing.kind, existing.namespace, existing.name) == (owner.kind.kind, owner.namespace, owner.name):
                existing.deployments = sorted({*existing.deployments, deployment})
                if existing.held_at is None and existing.refused is None:
                    # Recorded, then a restart before the patch: hold it now, from the record.
                    await self._apply_hold(step, self._owner_client(step, owner), existing, owner, deployment)
                return
        client = self._owner_client(step, owner)
        try:
            owner_object = await self._io(client.read)
            if not client.applies(owner_object, step.namespace, deployment):
                unconfirmed = f"{deployment} is marked as applied by {owner.describe()}, whose record does not list it"
                self._note(step, "GitOpsOwnerUnconfirmed", unconfirmed + ": not held", warning=True)
                return
            hold = client.prepare(owner_object)
        except GitOpsError as error:
            refused = GitOpsHold(kind=owner.kind.kind, namespace=owner.namespace, name=owner.name,
                                 deployments=[deployment], refused=str(error))  # fmt: skip
            step.status.gitops = [*step.status.gitops, refused]
            self._not_held(step, owner, deployment, str(error))
            return
        if hold is None:
            self._note(step, "GitOpsNotReapplying", f"{owner.describe()} applies {deployment} but re-applies "
                       "nothing by itself now (suspended, or automated sync off): nothing to hold")  # fmt: skip
            return
        await self._hold_recorded(step, client, owner, deployment, hold)

    async def _hold_recorded(
        self, step: Step, client: OwnerClient, owner: GitOpsOwner, deployment: str, hold: Hold
    ) -> None:
        record = GitOpsHold(kind=owner.kind.kind, namespace=owner.namespace, name=owner.name,
                            deployments=[deployment], previous=hold.previous,
                            source_revision=hold.source_revision)  # fmt: skip
        # What was there is written before the owner is changed: a restart in between holds it again from
        # this record, never from the held object (which would say "already held" and never give it back).
        step.status.gitops = [*step.status.gitops, record]
        await self._save(step)
        await self._apply_hold(step, client, record, owner, deployment)

    async def _apply_hold(
        self, step: Step, client: OwnerClient, record: GitOpsHold, owner: GitOpsOwner, deployment: str
    ) -> None:
        try:
            await self._io(client.hold)
        except GitOpsError as error:
            record.refused = str(error)
            self._not_held(step, owner, deployment, str(error))
            return
        record.held_at = utcnow()
        revert = revert_text([target for target in step.status.targets if target.deployment == deployment])
        self._note(step, "GitOpsHeld", f"{owner.describe()} held before the undo of {deployment}, so that it does "
                   f"not apply the rolled-back version again. Git still holds the bad version; revert it, then "
                   f"`kubectl hotfix resume {step.name}` (or it resumes by itself once Git no longer holds it)"
                   + (f". The change to revert: {revert}" if revert else ""), warning=True, notify=True)  # fmt: skip

    def _not_held(self, step: Step, owner: GitOpsOwner, deployment: str, why: str) -> None:
        self._note(step, "GitOpsNotHeld", f"{owner.describe()} applies {deployment} and could not be held: {why}. "
                   "The rollback goes ahead; it will apply Git's bad version again at its next sync, which "
                   "escalates", warning=True, notify=True)  # fmt: skip

    async def _tend_gitops(self, step: Step) -> float | None:
        """Give the held owners back when a person asks or Git caught up; the next check's delay, or None
        when nothing is held any more."""
        holds = step.status.open_holds()
        if not holds:
            return None
        request = step.annotations.get(RESUME_GITOPS_REQUEST)
        for hold in holds:
            client = self._owner_client(step, _owner(hold))
            try:
                if request is not None:
                    await self._release(step, hold, client, request or "someone", f"asked by {request or 'someone'}")
                else:
                    await self._release_if_caught_up(step, hold, client)
            except GitOpsError as error:
                step.logger.warning("GitOps owner %s: %s; trying again at the next check", hold.describe(), error)
        return self._holding_delay(step)

    @staticmethod
    def _holding_delay(step: Step) -> float | None:
        """Until the next look at the held owners; None when none is held."""
        if not step.status.open_holds():
            return None
        return max(step.spec.analysis.interval.total_seconds(), MIN_POLL_SECONDS)

    async def _release_if_caught_up(self, step: Step, hold: GitOpsHold, client: OwnerClient) -> None:
        source = Hold(
            previous=hold.previous, source_revision=hold.source_revision, judged_revision=hold.judged_revision
        )
        verdicts = []
        for deployment in hold.deployments:
            target = step.status.target(deployment)
            changes = [template_change(line) for line in (target.revert if target else [])]
            verdicts.append(await self._io(client.caught_up, source, step.namespace, deployment, changes))
        revision = verdicts[0].revision if verdicts else None
        if all(verdict.up is True for verdict in verdicts):
            await self._release(step, hold, client, "git", "; ".join(verdict.why for verdict in verdicts))
            return
        if revision and revision not in (hold.source_revision, hold.judged_revision):
            hold.judged_revision = revision
            why = "; ".join(verdict.why for verdict in verdicts if verdict.up is not True)
            self._note(step, "GitOpsStillHeld", f"{hold.describe()} stays held: {why}. Resume it with "
                       f"`kubectl hotfix resume {step.name}` once Git holds the fix", warning=True)  # fmt: skip

    async def _release(self, step: Step, hold: GitOpsHold, client: OwnerClient, by: str, why: str) -> None:
        await self._io(client.release, hold.previous)
        hold.resumed_at, hold.resumed_by = utcnow(), by
        self._note(step, "GitOpsResumed", f"{hold.describe()} given back as it was ({why})", notify=True)
