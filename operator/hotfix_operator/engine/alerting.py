"""The hotfix window's alert rules: published as a PrometheusRule while the window is open, withdrawn
when it closes, so the team's own Prometheus and Alertmanager routes see the same thresholds."""

from __future__ import annotations

from hotfix_operator.analysis.alert_rules import RuleContext, alert_rule_group
from hotfix_operator.api.status import Phase
from hotfix_operator.engine.core import ControllerCore, Step
from hotfix_operator.kube.prometheus_rules import PrometheusRulesUnsupported

# The window: from the rollout's start through monitoring (and a rollback in progress).
WINDOW_PHASES = frozenset({Phase.ROLLING_OUT, Phase.MONITORING, Phase.FORWARD_FIX_PENDING, Phase.ROLLING_BACK})


def rule_name(step: Step) -> str:
    return f"hotfix-{step.name}"


class AlertRulePublishing(ControllerCore):
    async def _sync_alert_rules(self, step: Step) -> None:
        if not self.config.alert_rules:
            return
        opened = step.status.rollout_started_at
        recorded = step.status.alert_rules or {}
        in_window = step.status.phase in WINDOW_PHASES and opened is not None
        if in_window and recorded.get("state") == "unsupported":
            return
        if in_window and recorded.get("windowOpen") != opened.isoformat():
            await self._publish_alert_rules(step)
        elif not in_window and recorded.get("state") == "published":
            await self._withdraw_alert_rules(step)

    async def _publish_alert_rules(self, step: Step) -> None:
        opened = step.status.rollout_started_at
        assert opened is not None
        request = self._analysis_request(step, opened)
        context = RuleContext(
            hotfix=step.name,
            namespace=step.namespace,
            incident=step.spec.incident.id,
            severity=step.spec.incident.severity,
            window_open=opened.timestamp(),
            team=step.labels.get("team", ""),
            severities=dict(self.config.alert_severities),
        )
        group = alert_rule_group(self.config.query_settings, request, context)
        name = rule_name(step)
        try:
            await self._io(self.prometheus_rules.apply, step.body, name, dict(self.config.rule_labels), [group])
        except PrometheusRulesUnsupported as error:
            step.status.alert_rules = {"state": "unsupported", "at": step.now.isoformat()}
            message = f"no PrometheusRule CRD in this cluster ({error}); `hotfix-operator rules` prints a rule file"
            self._condition(step, "AlertRulesPublished", "False", "PrometheusRuleCRDMissing", message)
            self._note(step, "AlertRulesUnsupported", message, warning=True)
            return
        except Exception as error:  # publishing rules informs people; it must never stop a hotfix
            step.logger.warning("alert rules not published: %s", error)
            self._condition(step, "AlertRulesPublished", "False", "PublishFailed", str(error)[:500])
            return
        step.status.alert_rules = {
            "state": "published",
            "name": name,
            "windowOpen": opened.isoformat(),
            "rules": len(group["rules"]),
        }
        message = f"PrometheusRule {name}: {len(group['rules'])} rules for the window opened {opened.isoformat()}"
        self._condition(step, "AlertRulesPublished", "True", "Published", message)
        self._note(step, "AlertRulesPublished", message)

    async def _withdraw_alert_rules(self, step: Step) -> None:
        name = step.status.alert_rules.get("name") or rule_name(step)
        try:
            await self._io(self.prometheus_rules.delete, step.namespace, name)
        except Exception as error:  # the owner reference still garbage-collects it with the Hotfix
            step.logger.warning("alert rules not withdrawn: %s", error)
            return
        step.status.alert_rules = {"state": "withdrawn", "name": name, "at": step.now.isoformat()}
        self._condition(step, "AlertRulesPublished", "False", "WindowClosed", f"PrometheusRule {name} removed")
        self._note(
            step, "AlertRulesWithdrawn", f"the window closed ({step.status.phase}): PrometheusRule {name} removed"
        )
