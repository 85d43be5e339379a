"""War-room notifications: a Slack-compatible webhook and a generic JSON webhook.

URLs come from Secrets and are never logged. Sending happens in the background with a few retries, so
a slow or broken webhook can never hold up a rollback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from collections.abc import Callable
from typing import Any

from hotfix_operator.api.models import HotfixSpec

RETRY_DELAYS = (1.0, 3.0, 9.0)


def _post_json(url: str, payload: dict[str, Any], timeout: float) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


class Notifier:
    def __init__(
        self,
        read_secret: Callable[[str, str, str, str | None], str],
        timeout: float = 5.0,
        post: Callable[[str, dict[str, Any], float], None] = _post_json,
    ) -> None:
        self.read_secret = read_secret
        self.timeout = timeout
        self.post = post
        self._tasks: set[asyncio.Task[None]] = set()

    def notify(self, body: dict[str, Any], spec: HotfixSpec, kind: str, message: str, logger: logging.Logger) -> None:
        """Queue a notification to every configured destination; returns at once."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        incident = spec.incident
        payload = {
            "hotfix": f"{namespace}/{name}",
            "incident": incident.id,
            "severity": incident.severity.value,
            "event": kind,
            "message": message,
            "phase": (body.get("status") or {}).get("phase"),
        }
        destinations = []
        if spec.notify.slack is not None:
            ref = spec.notify.slack.webhook_secret_ref
            text = f"[{incident.severity.value}] {incident.id} hotfix {namespace}/{name}: {kind}: {message}"
            slack = {"text": text} | ({"channel": spec.notify.slack.channel} if spec.notify.slack.channel else {})
            destinations.append(("slack", ref.name, ref.key, slack))
        if spec.notify.webhook is not None:
            ref = spec.notify.webhook.url_secret_ref
            destinations.append(("webhook", ref.name, ref.key, payload))
        for destination, secret, key, data in destinations:
            task = asyncio.create_task(
                self._send(namespace, spec.service_account_name or None, destination, secret, key, data, logger)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(
        self,
        namespace: str,
        service_account: str | None,
        destination: str,
        secret: str,
        key: str,
        payload: dict[str, Any],
        logger: logging.Logger,
    ) -> None:
        # The URL is read from the Hotfix's own namespace, as the Hotfix's ServiceAccount when it names one.
        try:
            url = await asyncio.to_thread(self.read_secret, namespace, secret, key, service_account)
        except Exception as error:
            logger.warning(
                "notification to %s skipped: cannot read secret %s key %s: %s", destination, secret, key, error
            )
            return
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            await asyncio.sleep(delay)
            try:
                await asyncio.to_thread(self.post, url, payload, self.timeout)
                return
            except Exception as error:
                # The URL is a credential: name the destination and the failure, never the URL.
                logger.warning(
                    "notification to %s failed (attempt %d): %s", destination, attempt + 1, type(error).__name__
                )
        logger.error("notification to %s given up after %d attempts", destination, len(RETRY_DELAYS) + 1)
