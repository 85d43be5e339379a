"""Telling a passing fault of the API server from an answer about the object.

A 429 (with its Retry-After), a 5xx, a timeout or a refused connection says nothing about a Deployment
or a Hotfix: the same call may succeed in a moment. The controller waits and tries again, where an
answer such as 404 or 422 is acted on (a target that cannot be returned to, a Hotfix that is gone).
"""

from __future__ import annotations

from requests import RequestException
from urllib3.exceptions import HTTPError as TransportError

from hotfix_operator.kube.api import ApiError

# 429 Too Many Requests; 500 (etcd unavailable, a webhook timing out), 502/503/504 from a load balancer
# or an API server that is starting or shutting down.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
# A Retry-After beyond this is not honoured as is: the step comes back sooner and asks again.
MAX_RETRY_AFTER_SECONDS = 30.0


class ApiUnavailable(Exception):
    """The API server could not answer now; ``retry_after`` is its own hint, when it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(error: ApiError) -> float | None:
    value = next((value for header, value in error.headers.items() if header.lower() == "retry-after"), None)
    try:
        seconds = float(value) if value is not None else None
    except ValueError:  # an HTTP date: rare from an API server, and a short retry is as good
        return None
    return None if seconds is None else min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def as_unavailable(error: BaseException, what: str) -> ApiUnavailable | None:
    """The fault as ApiUnavailable when it is a passing one; None when it is an answer to act on."""
    if isinstance(error, ApiError):
        if error.status in TRANSIENT_STATUSES:
            return ApiUnavailable(f"{what}: the API server answered {error.status} {error.reason}", _retry_after(error))
        return None
    # requests' connection errors and timeouts (what the client raises), urllib3's and the OS' own.
    if isinstance(error, RequestException | TransportError | ConnectionError | TimeoutError):
        return ApiUnavailable(f"{what}: the API server is unreachable ({type(error).__name__})")
    return None
