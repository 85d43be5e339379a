"""deploy/argocd/health.lua, run in a real Lua interpreter the way Argo CD runs it (obj in, hs out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lupa import LuaRuntime

HEALTH_LUA = Path(__file__).resolve().parents[2] / "deploy" / "argocd" / "health.lua"


def to_lua(lua: LuaRuntime, value: Any) -> Any:
    if isinstance(value, dict):
        return lua.table_from({key: to_lua(lua, item) for key, item in value.items()})
    if isinstance(value, list):
        return lua.table_from([to_lua(lua, item) for item in value])
    return value


def health(obj: dict[str, Any]) -> tuple[str, str]:
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = to_lua(lua, obj)
    result = lua.execute(HEALTH_LUA.read_text())
    return result["status"], result["message"]


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Stable", "Healthy"),
        ("Superseded", "Healthy"),
        ("RolledBack", "Degraded"),
        ("Escalated", "Degraded"),
        ("Failed", "Degraded"),
        ("AwaitingApproval", "Suspended"),
        ("Monitoring", "Progressing"),
        ("RollingBack", "Progressing"),
        ("ForwardFixPending", "Progressing"),
    ],
)
def test_phase_to_argocd_health(phase: str, expected: str) -> None:
    status, message = health({"status": {"phase": phase, "decision": {"reason": "why"}}})
    assert status == expected
    assert message == f"{phase}: why"


def test_without_status_it_is_progressing() -> None:
    assert health({"spec": {}})[0] == "Progressing"
