"""Alertmanager (API v2) as a notifier: the decisions that need people, through the routes a team has.

Each Hotfix's set of alerts (``people_alerts``) is handed over at every step; a background loop posts
the firing ones every ``resend`` with ``endsAt`` a few periods ahead (Alertmanager resolves an alert
that is not re-sent), and posts an alert that left the set once with ``endsAt`` now, which resolves
it. Posting happens off the event loop and never holds up a step: with Alertmanager down the alerts
wait in memory and go out when it answers again. The URL and credentials are operator-wide; a Hotfix
only chooses routing labels.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hotfix_operator.notify.people_alerts import Alert

log = logging.getLogger("hotfix_operator.alertmanager")


@dataclass(frozen=True)
class AlertmanagerSettings:
    url: str
    resend: timedelta = timedelta(minutes=1)
    timeout_seconds: float = 5.0
    bearer_token_file: Path | None = None
    ca_file: Path | None = None


def _fingerprint(alert: Alert) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(alert["labels"].items()))


def post_alerts(settings: AlertmanagerSettings, alerts: list[dict[str, Any]]) -> None:
    headers = {"Content-Type": "application/json"}
    if settings.bearer_token_file is not None:
        headers["Authorization"] = f"Bearer {settings.bearer_token_file.read_text().strip()}"
    request = urllib.request.Request(
        f"{settings.url.rstrip('/')}/api/v2/alerts", data=json.dumps(alerts).encode(), headers=headers, method="POST"
    )
    context = ssl.create_default_context(cafile=str(settings.ca_file)) if settings.ca_file else None
    with urllib.request.urlopen(request, timeout=settings.timeout_seconds, context=context) as response:
        response.read()


class AlertmanagerNotifier:
    def __init__(
        self,
        settings: AlertmanagerSettings,
        post: Callable[[AlertmanagerSettings, list[dict[str, Any]]], None] = post_alerts,
    ) -> None:
        self.settings = settings
        self.post = post
        self._firing: dict[str, dict[tuple[tuple[str, str], ...], Alert]] = {}
        self._starts: dict[tuple[tuple[str, str], ...], datetime] = {}
        self._resolved: list[Alert] = []
        self._wake = asyncio.Event()

    def sync(self, key: str, alerts: list[Alert]) -> None:
        """The alerts that hold now for Hotfix ``key``; those that no longer hold are resolved."""
        current = {_fingerprint(alert): alert for alert in alerts}
        previous = self._firing.get(key, {})
        self._resolved += [alert for fingerprint, alert in previous.items() if fingerprint not in current]
        new = any(fingerprint not in previous for fingerprint in current)
        self._firing[key] = current
        if new or len(current) != len(previous):
            self._wake.set()

    def forget(self, key: str) -> None:
        """The Hotfix is gone: resolve whatever it had firing."""
        self.sync(key, [])
        self._firing.pop(key, None)

    async def run(self) -> None:
        """Post firing alerts every ``resend`` (sooner when the set changes), and resolutions once."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.resend.total_seconds())
            self._wake.clear()
            await self._send()

    async def _send(self) -> None:
        now = datetime.now(UTC)
        until = now + 4 * self.settings.resend
        payload = []
        for alerts in self._firing.values():
            for fingerprint, alert in alerts.items():
                started = self._starts.setdefault(fingerprint, now)
                payload.append({**alert, "startsAt": started.isoformat(), "endsAt": until.isoformat()})
        resolved = list(self._resolved)
        for alert in resolved:
            started = self._starts.pop(_fingerprint(alert), now)
            payload.append({**alert, "startsAt": started.isoformat(), "endsAt": now.isoformat()})
        if not payload:
            return
        try:
            await asyncio.to_thread(self.post, self.settings, payload)
        except Exception as error:  # Alertmanager down: keep everything and try again next period
            log.warning("alerts not delivered to Alertmanager (%d kept for the next try): %s", len(payload),
                        type(error).__name__)  # fmt: skip
            return
        self._resolved = [alert for alert in self._resolved if alert not in resolved]
