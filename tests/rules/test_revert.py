"""The change to revert in Git, and whether a template in Git still holds the rolled-back version."""

from __future__ import annotations

from typing import Any

from hotfix_operator.rules.revert import git_still_bad, revert_changes


def template(image: str, env: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image}
    if env is not None:
        container["env"] = [{"name": key, "value": value} for key, value in env.items()]
    return {
        "metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}},
        "spec": {"containers": [container, {"name": "sidecar", "image": "proxy:1"}], **spec},
    }


def test_the_changed_image_and_env_are_named_bad_then_restored() -> None:
    bad = template("app:1.1", {"MODE": "fast", "LEVEL": "debug"})
    restored = template("app:1.0", {"MODE": "safe", "LEVEL": "debug"})
    texts = [change.text() for change in revert_changes(bad, restored)]
    assert texts == [
        "spec.template.spec.containers[app].image: app:1.1 -> app:1.0",
        "spec.template.spec.containers[app].env[MODE]: fast -> safe",
    ]


def test_a_pod_field_and_a_template_label_are_named_but_not_judged() -> None:
    bad = template("app:1.0", serviceAccountName="new")
    bad["metadata"]["labels"]["pod-template-hash"] = "other"
    bad["metadata"]["labels"]["track"] = "canary"
    changes = revert_changes(bad, template("app:1.0"))
    assert [(c.field, c.bad, c.restored, c.judged) for c in changes] == [
        ("spec.template.spec.serviceAccountName", "new", None, False),
        ("spec.template.metadata.labels[track]", "canary", None, False),
    ]
    assert git_still_bad(template("app:1.0"), changes) is None


def test_a_container_only_on_one_side_is_named_whole() -> None:
    bad = template("app:1.1")
    bad["spec"]["containers"].append({"name": "debug", "image": "busybox"})
    changes = revert_changes(bad, template("app:1.1"))
    assert [c.field for c in changes] == ["spec.template.spec.containers[debug]"]
    assert changes[0].restored is None and not changes[0].judged


def test_git_still_bad_until_every_judged_field_moved_off_its_bad_value() -> None:
    changes = revert_changes(template("app:1.1", {"MODE": "fast"}), template("app:1.0", {"MODE": "safe"}))
    assert git_still_bad(template("app:1.1", {"MODE": "fast"}), changes) is True
    # Half a revert: the image went back, the variable did not.
    assert git_still_bad(template("app:1.0", {"MODE": "fast"}), changes) is True
    assert git_still_bad(template("app:1.0", {"MODE": "safe"}), changes) is False
    # A fix forward counts too: neither bad value is in Git any more.
    assert git_still_bad(template("app:1.2", {"MODE": "tuned"}), changes) is False


def test_identical_templates_have_nothing_to_revert() -> None:
    assert revert_changes(template("app:1.0"), template("app:1.0")) == []
