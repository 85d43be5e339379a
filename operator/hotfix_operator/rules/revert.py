"""The change to revert in Git: the pod-template fields that differ between the rolled-back (bad) revision
and the restored one, so the person writing the revert does not diff ReplicaSets by hand. Pure.

Containers are matched by name and compared on what a release changes (image, command, args, env by
variable name, resources); any other differing field of the pod template is named as a whole. The same
list tells whether a template found in Git still holds the bad version: when Git's value of every judged
field differs from the bad one, Git has caught up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hotfix_operator.api.status import RevertLine, TargetStatus

CONTAINER_FIELDS = ("image", "command", "args", "env", "resources")
# Compared with Git's raw manifests: the API server stores these as written (no defaulting, no canonical form).
JUDGED_FIELDS = frozenset({"image", "command", "args", "env"})
CONTAINER_LISTS = ("initContainers", "containers")
IGNORED_LABELS = frozenset({"pod-template-hash"})


@dataclass(frozen=True)
class TemplateChange:
    field: str  # e.g. spec.template.spec.containers[app].image
    bad: Any
    restored: Any
    judged: bool  # whether Git's value of this field is compared to tell that Git caught up

    def text(self) -> str:
        return f"{self.field}: {_shown(self.bad)} -> {_shown(self.restored)}"


def _shown(value: Any) -> str:
    if value is None:
        return "(unset)"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {item.get("name"): item.get("value", item.get("valueFrom")) for item in container.get("env") or []}


def _containers(template: dict[str, Any], list_name: str) -> dict[str, dict[str, Any]]:
    return {c.get("name"): c for c in (template.get("spec") or {}).get(list_name) or []}


def _container_changes(bad: dict[str, Any], restored: dict[str, Any]) -> list[TemplateChange]:
    changes = []
    for list_name in CONTAINER_LISTS:
        bad_containers, restored_containers = _containers(bad, list_name), _containers(restored, list_name)
        for name in sorted(set(bad_containers) | set(restored_containers)):
            prefix = f"spec.template.spec.{list_name}[{name}]"
            bad_container, restored_container = bad_containers.get(name), restored_containers.get(name)
            if bad_container is None or restored_container is None:
                changes.append(TemplateChange(prefix, bad_container, restored_container, judged=False))
                continue
            for field in CONTAINER_FIELDS:
                if field == "env":
                    bad_env, restored_env = _env(bad_container), _env(restored_container)
                    for variable in sorted(set(bad_env) | set(restored_env)):
                        if bad_env.get(variable) != restored_env.get(variable):
                            changes.append(TemplateChange(f"{prefix}.env[{variable}]", bad_env.get(variable),
                                                          restored_env.get(variable), judged=True))  # fmt: skip
                elif bad_container.get(field) != restored_container.get(field):
                    bad_value, restored_value = bad_container.get(field), restored_container.get(field)
                    judged = field in JUDGED_FIELDS
                    changes.append(TemplateChange(f"{prefix}.{field}", bad_value, restored_value, judged))
    return changes


def _other_changes(bad: dict[str, Any], restored: dict[str, Any]) -> list[TemplateChange]:
    changes = []
    bad_spec, restored_spec = bad.get("spec") or {}, restored.get("spec") or {}
    for key in sorted((set(bad_spec) | set(restored_spec)) - set(CONTAINER_LISTS)):
        if bad_spec.get(key) != restored_spec.get(key):
            changes.append(TemplateChange(f"spec.template.spec.{key}", bad_spec.get(key), restored_spec.get(key),
                                          judged=False))  # fmt: skip
    for part in ("labels", "annotations"):
        bad_part = {k: v for k, v in ((bad.get("metadata") or {}).get(part) or {}).items() if k not in IGNORED_LABELS}
        restored_part = {
            k: v for k, v in ((restored.get("metadata") or {}).get(part) or {}).items() if k not in IGNORED_LABELS
        }
        for key in sorted(set(bad_part) | set(restored_part)):
            if bad_part.get(key) != restored_part.get(key):
                changes.append(TemplateChange(f"spec.template.metadata.{part}[{key}]", bad_part.get(key),
                                              restored_part.get(key), judged=False))  # fmt: skip
    return changes


def revert_changes(bad_template: dict[str, Any], restored_template: dict[str, Any]) -> list[TemplateChange]:
    """What to change in Git's manifest of the Deployment (bad -> restored), containers first."""
    return _container_changes(bad_template, restored_template) + _other_changes(bad_template, restored_template)


def _git_value(template: dict[str, Any], field: str) -> Any:
    for list_name in CONTAINER_LISTS:
        for name, container in _containers(template, list_name).items():
            prefix = f"spec.template.spec.{list_name}[{name}]"
            if not field.startswith(prefix + "."):
                continue
            rest = field[len(prefix) + 1 :]
            if rest.startswith("env[") and rest.endswith("]"):
                return _env(container).get(rest[4:-1])
            return container.get(rest)
    return None


def git_still_bad(git_template: dict[str, Any], changes: list[TemplateChange]) -> bool | None:
    """Whether Git's pod template still holds the bad version: True when any judged field still has its bad
    value, False when every judged field moved off it, None when no field can be judged (a change outside
    containers' image, command, args and env: only a person can tell)."""
    judged = [change for change in changes if change.judged]
    if not judged:
        return None
    return any(_git_value(git_template, change.field) == change.bad for change in judged)


def template_change(line: RevertLine) -> TemplateChange:
    return TemplateChange(line.field, line.bad, line.restored, line.judged)


def revert_text(targets: list[TargetStatus]) -> str:
    """The change to revert in Git, one Deployment after another, on one line (Events are one line)."""
    parts = []
    for target in targets:
        if target.revert:
            changes = "; ".join(template_change(line).text() for line in target.revert)
            parts.append(f"{target.deployment}: {changes}")
    return " | ".join(parts)
