from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hotfix_operator.api.status import Phase
from hotfix_operator.rules.claims import Claim, conflicting_claim

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def claim(name: str, seconds: int, phase: Phase | None, *deployments: str) -> Claim:
    return Claim(name, T0 + timedelta(seconds=seconds), phase, frozenset(deployments))


def test_an_older_acting_hotfix_holds_the_deployment() -> None:
    own = claim("second", 10, Phase.PENDING, "checkout", "cart")
    conflict = conflicting_claim(own, [own, claim("first", 0, Phase.MONITORING, "cart")])
    assert conflict is not None
    assert (conflict.deployment, conflict.holder) == ("cart", "first")
    assert "already in the hands of Hotfix first (phase Monitoring)" in conflict.message()


def test_the_older_one_is_never_refused_for_a_younger_one() -> None:
    own = claim("first", 0, Phase.PENDING, "cart")
    assert conflicting_claim(own, [own, claim("second", 10, None, "cart")]) is None


def test_same_creation_time_is_decided_by_name() -> None:
    a, b = claim("a", 0, Phase.PENDING, "cart"), claim("b", 0, Phase.PENDING, "cart")
    assert conflicting_claim(a, [a, b]) is None
    assert conflicting_claim(b, [a, b]) is not None


def test_finished_and_rolled_back_hotfixes_hold_nothing() -> None:
    own = claim("new", 10, Phase.PENDING, "cart")
    others = [claim(f"old-{phase}", 0, phase, "cart") for phase in (Phase.ROLLED_BACK, Phase.STABLE, Phase.FAILED)]
    assert conflicting_claim(own, [own, *others]) is None


def test_other_deployments_do_not_conflict() -> None:
    own = claim("new", 10, Phase.PENDING, "cart")
    assert conflicting_claim(own, [own, claim("old", 0, Phase.ROLLING_BACK, "checkout")]) is None


def test_the_claim_book_follows_the_watch() -> None:
    from hotfix_operator.rules.claims import ClaimBook

    book = ClaimBook()
    body = {
        "metadata": {"name": "a", "creationTimestamp": "2026-11-23T12:00:00Z"},
        "spec": {"targets": [{"deployment": "cart"}, {"deployment": 7}, "junk"]},
        "status": {"phase": "Monitoring"},
    }
    book.seen("shop", body)
    assert book.in_namespace("shop") == [claim("a", 0, Phase.MONITORING, "cart")]
    assert book.in_namespace("other") == []
    book.gone("shop", "a")
    assert book.in_namespace("shop") == []
