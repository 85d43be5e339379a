"""Hotfix manifests generated from the CRD's own schema, most of them hostile.

Every field of ``spec`` is walked from ``crds/hotfix.yaml``: a manifest draws how hostile it is, then each
field gets either a value the schema allows (boundaries included) or a hostile one: too long or huge,
unicode and control characters, a wrong type, an out-of-range or overflowing number, a duration the
pattern takes but nothing can use. On top, some manifests get a cross-field contradiction (a forward-fix
ETA without a known root cause, a culprit outside the affected services, a Deployment targeted twice,
unsorted checkpoints, an unknown field).
"""

from __future__ import annotations

import copy
import functools
from datetime import datetime
from typing import Any

import yaml
from hypothesis import strategies as st

from hotfix_operator.api.durations import parse_duration
from hotfix_operator.api.models import GROUP, VERSION
from testbed_support import CRD_PATH

Schema = dict[str, Any]
HOSTILITY = (0.0, 0.0, 0.0, 0.02, 0.08, 0.3)
HOSTILE_TEXT = (
    "",
    " ",
    "\u202eevil",  # right-to-left override
    "💥🔥" * 40,
    "null",
    "a\nb",
    "\x00",
    "\u210c\U0001d52c\U0001d531",  # look-alike letters
    "'; DROP TABLE hotfixes; --",
    "{{ .Values }}",
    "${HOME}",
    "x" * 70_000,
)
HOSTILE_DURATIONS = ("0s", "-5m", "1d", "5", "1.5", "999999999999h", "0.0001ms", "1h-1m", "P1D", "∞")
WRONG_TYPES: tuple[Any, ...] = (None, 0, -1, 1.5, True, [], {}, "", [None], {"a": 1})
BIG_NUMBERS = (2**63, -(2**63), 1e308, -1e-308)


@functools.cache
def spec_schema() -> Schema:
    crd = yaml.safe_load(CRD_PATH.read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def _is_duration(schema: Schema) -> bool:
    return "duration(self)" in str(schema.get("x-kubernetes-validations", ""))


def valid_value(schema: Schema) -> st.SearchStrategy[Any]:
    """A value the schema (and mostly the CEL rules) accepts, boundaries included."""
    kind = schema.get("type")
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("format") == "date-time":
        moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
        return moments.map(lambda moment: moment.replace(microsecond=0).isoformat() + "Z")
    if kind == "string" and _is_duration(schema):
        units = st.sampled_from(["ms", "s", "m", "h"])
        return st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 5000), units) | st.sampled_from(
            ["1s", "90s", "1h30m", "0.5s", "24h", "1ms"]
        )
    if kind == "string" and "pattern" in schema:
        # Names (RFC 1123), built rather than drawn from the regex: as valid, and much faster.
        label = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
        name = st.builds(lambda a, b: f"{a}-{b}" if b else a, label, label | st.just(""))
        return name | st.just("a" * min(schema.get("maxLength", 253), 63)) | st.just("web.v2")
    if kind == "string":
        minimum, maximum = schema.get("minLength", 0), schema.get("maxLength", 60)
        return st.text(min_size=minimum, max_size=min(maximum, 40)) | st.just("k" * maximum if maximum < 5000 else "k")
    if kind == "integer":
        return st.integers(schema.get("minimum", 0) + (1 if schema.get("exclusiveMinimum") else 0),
                           schema.get("maximum", 10**6))  # fmt: skip
    if kind == "number":
        return st.floats(0, 1, exclude_min=True, exclude_max=True, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        item = valid_value(schema["items"])
        return st.lists(item, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 5), 3))
    if kind == "object" and "properties" in schema:
        return _object(schema, 0.0)
    if kind == "object" and "additionalProperties" in schema:
        keys = st.from_regex(r"^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$", fullmatch=True)
        return st.dictionaries(keys, valid_value(schema["additionalProperties"]), min_size=1, max_size=3)
    return st.just({})


def hostile_value(schema: Schema) -> st.SearchStrategy[Any]:
    kind = schema.get("type")
    choices: list[Any] = list(WRONG_TYPES)
    if kind == "string":
        choices += list(HOSTILE_TEXT)
        if _is_duration(schema):
            choices += list(HOSTILE_DURATIONS)
        if "maxLength" in schema:
            choices.append("y" * (schema["maxLength"] + 1))
    if kind in ("integer", "number"):
        choices += list(BIG_NUMBERS)
        for bound in ("minimum", "maximum"):
            if bound in schema:
                choices += [schema[bound], schema[bound] - 1, schema[bound] + 1]
    if kind == "array":
        choices.append([valid_example(schema["items"])] * (schema.get("maxItems", 50) + 1))
    return st.sampled_from(choices)


def valid_example(schema: Schema) -> Any:
    """One plain valid value, for building oversized arrays."""
    if "enum" in schema:
        return schema["enum"][0]
    if _is_duration(schema):
        return "1m"
    return {"string": "svc", "integer": 1, "number": 0.5, "boolean": True}.get(schema.get("type", ""), {})


@st.composite
def _field(draw: st.DrawFn, schema: Schema, hostility: float) -> Any:
    if schema.get("type") == "object" and "properties" in schema:
        return draw(_object(schema, hostility))
    if hostility and draw(st.floats(0, 1)) < hostility:
        return draw(hostile_value(schema))
    return draw(valid_value(schema))


@st.composite
def _object(draw: st.DrawFn, schema: Schema, hostility: float) -> dict[str, Any]:
    required = set(schema.get("required", []))
    result: dict[str, Any] = {}
    for name, field_schema in schema["properties"].items():
        dropped = hostility and draw(st.floats(0, 1)) < hostility / 4
        wanted = name in required or draw(st.booleans())
        if wanted and not (name in required and dropped):
            result[name] = draw(_field(field_schema, hostility))
    return result


CROSS_FIELD = (
    "eta-without-root-cause",
    "culprit-not-affected",
    "duplicate-target",
    "unsorted-checkpoints",
    "unknown-field",
    "window-longer-than-interval",
)


def _contradict(spec: dict[str, Any], how: str) -> None:
    incident = spec.setdefault("incident", {"id": "INC-1", "severity": "SEV1"})
    if how == "eta-without-root-cause":
        incident.update(rootCause="unknown", forwardFixEta="10m")
    elif how == "culprit-not-affected":
        incident.update(culprit="ghost", affectedServices=["cart", "checkout"])
    elif how == "duplicate-target":
        spec["targets"] = [{"deployment": "twice"}, {"deployment": "twice"}]
    elif how == "unsorted-checkpoints":
        spec["stability"] = {"checkpoints": ["4h", "1h"]}
    elif how == "unknown-field":
        spec["rollbak"] = {"mode": "auto"}
    else:
        spec["analysis"] = {"interval": "10m", "latencyP95": {"window": "1s"}}


def _reconcile(spec: dict[str, Any]) -> None:
    """Make a well-meant manifest agree with the cross-field rules (the contradictions are drawn apart)."""
    incident = spec.get("incident") or {}
    if "forwardFixEta" in incident:
        incident["rootCause"] = "known"
    if incident.get("culprit") and incident.get("affectedServices"):
        incident["culprit"] = incident["affectedServices"][0]
    unique = {target.get("deployment"): target for target in spec.get("targets", [])}
    spec["targets"] = list(unique.values())
    checkpoints = (spec.get("stability") or {}).get("checkpoints")
    if checkpoints:
        spec["stability"]["checkpoints"] = sorted(set(checkpoints), key=parse_duration)


@st.composite
def hostile_manifests(draw: st.DrawFn) -> dict[str, Any]:
    hostility = draw(st.sampled_from(HOSTILITY))
    spec = draw(_object(spec_schema(), hostility))
    if hostility == 0:
        _reconcile(spec)
    if draw(st.integers(0, 4)) == 0:
        _contradict(spec, draw(st.sampled_from(CROSS_FIELD)))
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Hotfix",
        "metadata": {"name": "placeholder"},
        "spec": copy.deepcopy(spec),
    }
