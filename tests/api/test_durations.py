from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotfix_operator.api.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5h", timedelta(minutes=90)),
        ("0s", timedelta(0)),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5 m", "1d", "m5", "-5m", "5M", "1h-30m"])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_negative_only_when_allowed() -> None:
    assert parse_duration("-90s", allow_negative=True) == timedelta(seconds=-90)


def test_non_string_refused() -> None:
    with pytest.raises(DurationError):
        parse_duration(30)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=120), "2m"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(milliseconds=1500), "1.5s"),
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(0), "0s"),
        (timedelta(seconds=-61), "-1m1s"),
    ],
)
def test_format(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_round_trip(milliseconds: int) -> None:
    value = timedelta(milliseconds=milliseconds)
    assert parse_duration(format_duration(value), allow_negative=True) == value
