"""The decision rules: one row per rule and boundary, plus the invariants as properties."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decision_table import TABLE
from hotfix_operator.api.status import AnalysisState
from hotfix_operator.rules.decision import Action, Facts, FactsError, Rule, decide, parse_facts


@pytest.mark.parametrize(("facts", "action", "rule"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_rule_table(facts: dict[str, Any], action: Action, rule: Rule) -> None:
    decision = decide(parse_facts(facts))
    assert (decision.action, decision.rule) == (action, rule)
    assert decision.reason


def test_every_rule_is_reachable() -> None:
    reached = {decide(parse_facts(row[1])).rule for row in TABLE}
    assert reached == set(Rule) - {Rule.MANUAL_REQUEST, Rule.ROLLBACK_BREAKER_OPEN}


def test_documented_example() -> None:
    facts = parse_facts(
        {
            "analysis": "breached",
            "onMissingData": "hold",
            "rootCause": "known",
            "forwardFixEtaIn": "20m",
            "incidentAge": "45m",
            "rollbackLosesData": False,
            "migrations": "none",
            "externalDependenciesCompatible": True,
            "affectedServices": ["auth"],
            "culprit": None,
            "rollbackTargetPresent": True,
        }
    )
    assert decide(facts).model_dump(mode="json")["rule"] == "fast-forward-fix"


@pytest.mark.parametrize(
    ("facts", "field"),
    [
        ({}, "analysis"),
        ({"analysis": "broken"}, "analysis"),
        ({"analysis": "breached", "incidentAge": "an hour"}, "incidentAge"),
        ({"analysis": "breached", "incidentAge": "-5m"}, "incidentAge"),
        ({"analysis": "breached", "incidentAge": 90}, "incidentAge"),
        ({"analysis": "breached", "forwardFixEtaIn": 600.0}, "forwardFixEtaIn"),
        ({"analysis": "breached", "forwardFixEtaIn": "soon"}, "forwardFixEtaIn"),
        ({"analysis": "breached", "migrations": "some"}, "migrations"),
        ({"analysis": "breached", "extra": 1}, "extra"),
    ],
)
def test_bad_facts_name_the_field(facts: dict[str, Any], field: str) -> None:
    with pytest.raises(FactsError) as refused:
        parse_facts(facts)
    assert any(problem.startswith(f"{field}:") for problem in refused.value.problems)


def test_a_bare_number_for_a_duration_is_refused_not_guessed() -> None:
    with pytest.raises(FactsError) as refused:
        parse_facts({"analysis": "breached", "incidentAge": 90})
    assert refused.value.problems == ["incidentAge: a duration with its unit, such as '90s' or '2h', not the bare "
                                      "number 90"]  # fmt: skip


def test_non_mapping_facts_are_refused() -> None:
    with pytest.raises(FactsError):
        parse_facts(["breached"])


durations = st.integers(min_value=-7200, max_value=7200).map(lambda seconds: timedelta(seconds=seconds))
facts_strategy = st.builds(
    Facts,
    analysis=st.sampled_from(AnalysisState),
    on_missing_data=st.sampled_from(["hold", "rollback"]),
    root_cause=st.sampled_from(["unknown", "known"]),
    forward_fix_eta_in=st.none() | durations,
    incident_age=durations.map(abs),
    rollback_loses_data=st.booleans(),
    migrations=st.sampled_from(["none", "reversible", "irreversible"]),
    external_dependencies_compatible=st.booleans(),
    affected_services=st.lists(st.sampled_from(["auth", "checkout", "search"]), min_size=1, max_size=3, unique=True),
    culprit=st.none() | st.sampled_from(["auth", "checkout"]),
    rollback_target_present=st.booleans(),
)


@given(facts_strategy)
def test_never_roll_back_when_it_would_lose_data(facts: Facts) -> None:
    if facts.rollback_loses_data or facts.migrations == "irreversible":
        assert decide(facts).action not in (Action.ROLLBACK, Action.ROLLBACK_ALL)


@given(facts_strategy)
def test_when_unclear_roll_back(facts: Facts) -> None:
    """A breach with an unknown cause and nothing that makes a rollback harmful is always rolled back."""
    unclear = (
        facts.analysis == AnalysisState.BREACHED
        and facts.root_cause == "unknown"
        and not facts.rollback_loses_data
        and facts.migrations != "irreversible"
        and facts.external_dependencies_compatible
        and facts.rollback_target_present
    )
    if unclear:
        assert decide(facts).action in (Action.ROLLBACK, Action.ROLLBACK_ALL)


@given(facts_strategy)
def test_same_facts_same_decision(facts: Facts) -> None:
    copy = Facts.model_validate(facts.model_dump(by_alias=True))
    assert decide(facts) == decide(copy)


@given(facts_strategy)
def test_no_action_without_a_breach(facts: Facts) -> None:
    if facts.analysis in (AnalysisState.HEALTHY, AnalysisState.PENDING):
        assert decide(facts).action == Action.CONTINUE
