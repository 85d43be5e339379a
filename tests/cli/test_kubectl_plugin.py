"""``kubectl hotfix policies``: what each policy selects, guards now, and how near its breaker is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hotfix_operator.cli.kubectl_plugin import policies_table

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def policy(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "creationTimestamp": "2026-11-23T11:00:00Z"}, "spec": spec}


def guard(name: str, policy_name: str, phase: str, decided_minutes_ago: float | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if decided_minutes_ago is not None:
        at = (NOW - timedelta(minutes=decided_minutes_ago)).isoformat()
        status |= {"decision": {"action": "rollback", "rule": "root-cause-unknown", "at": at}, "rollbackStartedAt": at}
    return {"metadata": {"name": name, "labels": {"hotfix.dev/policy": policy_name}}, "status": status}


def test_the_table_shows_selector_active_guards_and_the_breaker() -> None:
    policies = [
        policy("shop", selector={"matchLabels": {"team": "shop"}}, breaker={"maxRollbacks": 2, "window": "10m"}),
        policy("all"),
    ]
    hotfixes = [
        guard("checkout-rev4", "shop", "Monitoring"),
        guard("cart-rev2", "shop", "RolledBack", decided_minutes_ago=3),
        guard("search-rev7", "shop", "RolledBack", decided_minutes_ago=30),  # out of the window
        guard("ledger-rev2", "shop", "Stable"),
        guard("web-rev3", "all", "RollingBack", decided_minutes_ago=1),
        {"metadata": {"name": "auth-fix"}, "status": {"phase": "Monitoring"}},  # a person's Hotfix
    ]
    lines = policies_table(policies, hotfixes, NOW).splitlines()
    assert lines[0].split() == ["NAME", "SELECTOR", "GUARDING", "ROLLBACKS", "AGE"]
    shop = next(line for line in lines if line.startswith("shop"))
    assert "team=shop" in shop and "1/2 in 10m" in shop and "(open)" not in shop
    assert "checkout-rev4 (Monitoring)" in shop and "cart-rev2 (RolledBack)" in shop
    assert "ledger-rev2" not in shop and "auth-fix" not in shop
    every = next(line for line in lines if line.startswith("all"))
    assert "(every Deployment)" in every and "1/3 in 10m" in every and "1h" in every


def test_an_open_breaker_says_so() -> None:
    hotfixes = [guard(f"s{i}-rev2", "shop", "RolledBack", decided_minutes_ago=i) for i in range(3)]
    [_, line] = policies_table([policy("shop")], hotfixes, NOW).splitlines()
    assert "3/3 in 10m (open)" in line
