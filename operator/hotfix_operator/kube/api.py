"""The operator's own HTTP client for the Kubernetes API: JSON in, JSON out, on one pooled session.

The adapters need a handful of REST calls (get, list, create, patch, delete) and read every answer as
JSON, so a session on ``requests`` does what the ``kubernetes`` package did for them, without the package's
158 further modules in the process. Synchronous: the operator calls it off the event loop.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from hotfix_operator.kube.credentials import Credentials

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
# Connect and read timeouts: no call of the operator's takes long (no watch goes through here), and a call
# without a bound would hold one of the adapters' threads for ever on an API server that stopped answering.
REQUEST_TIMEOUT_SECONDS = (10.0, 60.0)
# Enough connections for the adapters' threads (the event loop's default executor) and the analyses'.
POOL_CONNECTIONS = 16
# Only a connection that could not be made is tried again at once: a request that was sent may have been
# applied, and the caller decides what a failure means.
TRANSPORT_RETRY = Retry(total=3, connect=3, read=0, status=0, redirect=0, other=0)


class ApiError(Exception):
    """The API server answered with an error status; ``message`` is its Status message when it sent one."""

    def __init__(self, status: int, reason: str, body: str = "", headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.reason = reason
        self.body = body
        self.headers = headers or {}
        self.message = _status_message(body) or reason
        super().__init__(f"{status} {reason}: {self.message}")


def _status_message(body: str) -> str | None:
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        return None
    message = answer.get("message") if isinstance(answer, dict) else None
    return str(message) if message else None


class KubeApi:
    """Calls to one API server as one user (the operator, or a ServiceAccount it impersonates)."""

    def __init__(
        self,
        credentials: Credentials,
        session: requests.Session | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.credentials = credentials
        self.session = session or new_session(credentials)
        self.headers = headers or {}

    def impersonating(self, user: str) -> KubeApi:
        """The same connections, acting as ``user``; the API server adds a ServiceAccount's groups itself."""
        return KubeApi(self.credentials, self.session, {**self.headers, "Impersonate-User": user})

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def list_items(self, path: str, params: dict[str, Any] | None = None, page_size: int = 500) -> list[Any]:
        """Every item of a list, page by page (``limit`` and ``continue``), so a large list is not one answer."""
        items: list[Any] = []
        token: str | None = None
        while True:
            page = self.get(path, {**(params or {}), "limit": page_size, **({"continue": token} if token else {})})
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def create(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, body=body)

    def patch(self, path: str, body: Any, content_type: str = MERGE_PATCH) -> Any:
        return self.request("PATCH", path, body=body, content_type=content_type)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> Any:
        """The answer as JSON; ApiError for an error status, requests' own exceptions for a transport failure.
        A refused token is read again once (a rotated ServiceAccount token, an expired exec token)."""
        response = self._send(method, path, params, body, content_type)
        if response.status_code == 401 and (self.credentials.token_file or self.credentials.exec_plugin):
            self.credentials.expire_token()
            response = self._send(method, path, params, body, content_type)
        if response.status_code >= 400:
            raise ApiError(response.status_code, response.reason or "", response.text, dict(response.headers))
        return response.json() if response.content else None

    def _send(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any, content_type: str
    ) -> requests.Response:
        headers = {**self.headers, "Accept": JSON}
        token = self.credentials.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        return self.session.request(
            method,
            self.credentials.server + path,
            params=params,
            data=data,
            headers=headers,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )


def new_session(credentials: Credentials) -> requests.Session:
    session = requests.Session()
    # The API server's address, proxy and credentials come from the kubeconfig or the pod, never from proxy
    # or netrc settings in the environment (the kubernetes client did not read those either).
    session.trust_env = False
    if credentials.proxy_url:
        session.proxies = {"https": credentials.proxy_url, "http": credentials.proxy_url}
    session.verify = False if credentials.insecure else (credentials.ca_file or True)
    session.cert = credentials.client_cert
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_CONNECTIONS, max_retries=TRANSPORT_RETRY)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
