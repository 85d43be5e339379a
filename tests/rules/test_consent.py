"""Who may ask a Hotfix to roll back: its own namespace, and the namespaces it lists."""

from __future__ import annotations

from hotfix_operator.rules.consent import accepts_request, refusal_for_asked, refusal_for_asker, requester_namespace


def test_the_own_namespace_always_may_and_another_only_when_listed() -> None:
    assert accepts_request("inc-b", [], "inc-b")
    assert not accepts_request("inc-b", [], "inc-a")
    assert accepts_request("inc-b", ["inc-a"], "inc-a")
    assert not accepts_request("inc-b", ["inc-c"], "inc-a")


def test_the_requester_namespace_is_read_from_the_annotation_value() -> None:
    assert requester_namespace("inc-a/auth-fix (multi-service-unclear)") == "inc-a"
    # A value without a namespace names none that could be accepted (not even an empty list entry).
    assert not accepts_request("inc-b", [], requester_namespace("auth-fix"))


def test_the_asker_is_told_the_namespaces_and_not_the_hotfixes_it_may_not_read() -> None:
    told = refusal_for_asker(["inc-c", "inc-b", "inc-b"], "INC-4242")
    assert "inc-b, inc-c" in told and "INC-4242" in told and "acceptRollbackRequestsFrom" in told


def test_the_asked_side_is_told_who_asked_and_what_to_change() -> None:
    told = refusal_for_asked("inc-a/auth-fix (multi-service-unclear)", "inc-a", "INC-4242")
    assert told.startswith("inc-a/auth-fix (multi-service-unclear) asked for a rollback")
    assert "namespace inc-a is not in spec.incident.acceptRollbackRequestsFrom" in told
