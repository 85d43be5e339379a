"""Go-style duration strings (``90s``, ``5m``, ``1h30m``), the unit every window in the API uses.

Kubernetes users know this syntax from ``kubectl`` flags and from CEL's ``duration()``; accepting it
everywhere lets tests shrink every window to seconds without a second syntax.
"""

from __future__ import annotations

import functools
import re
from datetime import timedelta

# The units the CRD admits; Go also has ns/us, which no window in this API needs.
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_COMPONENT = r"(?:\d+(?:\.\d+)?(?:ms|s|m|h))"
# The pattern the CRD uses, written the same way; a test checks that the two are identical.
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h))+$"
_SIGNED = re.compile(rf"^(-)?({_COMPONENT}+)$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


class DurationError(ValueError):
    """A string that is not a Go-style duration."""


def parse_duration(text: str, *, allow_negative: bool = False) -> timedelta:
    """Parse ``1h30m`` into a timedelta; ``-5m`` only when ``allow_negative``."""
    if not isinstance(text, str):
        raise DurationError(f"expected a duration string such as '90s' or '5m', got {text!r}")
    return _parsed(text, allow_negative)


# Every step parses its Hotfix's spec again, seven durations each, and a cluster's specs use a handful of
# distinct strings: 10,000 Hotfixes an interval parse the same few. Bounded: a spec's strings are the user's.
@functools.lru_cache(maxsize=1024)
def _parsed(text: str, allow_negative: bool) -> timedelta:
    match = _SIGNED.match(text.strip())
    if match is None or (match.group(1) and not allow_negative):
        raise DurationError(f"invalid duration {text!r}: use Go-style units, for example '90s', '5m', '1h30m'")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(match.group(2)))
    return timedelta(seconds=-seconds if match.group(1) else seconds)


def format_duration(value: timedelta) -> str:
    """Format a timedelta the way Go prints a duration, without sub-second noise where there is none."""
    total_ms = round(value.total_seconds() * 1000)
    sign = "-" if total_ms < 0 else ""
    total_ms = abs(total_ms)
    if total_ms == 0:
        return "0s"
    hours, rest_ms = divmod(total_ms, 3_600_000)
    minutes, rest_ms = divmod(rest_ms, 60_000)
    seconds, millis = divmod(rest_ms, 1000)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if millis and not (hours or minutes or seconds):
        parts.append(f"{millis}ms")
    elif millis:
        parts.append(f"{seconds}.{millis:03d}".rstrip("0") + "s")
    elif seconds:
        parts.append(f"{seconds}s")
    return sign + "".join(parts)
