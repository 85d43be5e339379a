"""Conditions set again at every step: unchanged ones stay as they are, changed ones keep their transition time
unless their status changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hotfix_operator.api.status import set_condition

EARLIER = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
LATER = EARLIER + timedelta(minutes=5)


def test_a_condition_set_to_what_it_says_already_leaves_the_list_as_it_is() -> None:
    conditions = set_condition([], "Healthy", "True", "WithinThresholds", "error rate 0.10% now", EARLIER, 1)
    again = set_condition(conditions, "Healthy", "True", "WithinThresholds", "error rate 0.10% now", LATER, 1)
    assert again is conditions
    assert again[0].last_transition_time == EARLIER


def test_a_new_message_or_generation_is_recorded_without_moving_the_transition_time() -> None:
    conditions = set_condition([], "Healthy", "True", "WithinThresholds", "error rate 0.10% now", EARLIER, 1)
    reworded = set_condition(conditions, "Healthy", "True", "WithinThresholds", "error rate 0.20% now", LATER, 1)
    assert reworded is not conditions
    assert (reworded[0].message, reworded[0].last_transition_time) == ("error rate 0.20% now", EARLIER)
    newer = set_condition(reworded, "Healthy", "True", "WithinThresholds", "error rate 0.20% now", LATER, 2)
    assert (newer[0].observed_generation, newer[0].last_transition_time) == (2, EARLIER)


def test_a_status_change_moves_the_transition_time() -> None:
    conditions = set_condition([], "Healthy", "True", "WithinThresholds", "", EARLIER, 1)
    breached = set_condition(conditions, "Healthy", "False", "ThresholdBreached", "", LATER, 1)
    assert (breached[0].status, breached[0].last_transition_time) == ("False", LATER)
    assert conditions[0].status == "True"  # the list before is not changed
