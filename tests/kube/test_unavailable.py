"""A passing API fault is told from an answer about the object (pure: no server needed)."""

from __future__ import annotations

import requests
from urllib3.exceptions import MaxRetryError, ProtocolError

from hotfix_operator.kube.api import ApiError
from hotfix_operator.kube.unavailable import as_unavailable


def api_exception(status: int, headers: dict[str, str] | None = None) -> ApiError:
    return ApiError(status, "Reason", "", headers)


def test_throttling_keeps_the_servers_retry_after() -> None:
    unavailable = as_unavailable(api_exception(429, {"Retry-After": "3"}), "reading x")
    assert unavailable is not None and unavailable.retry_after == 3.0
    assert str(unavailable) == "reading x: the API server answered 429 Reason"


def test_retry_after_is_bounded_and_dates_are_ignored() -> None:
    assert as_unavailable(api_exception(429, {"Retry-After": "3600"}), "x").retry_after == 30.0  # type: ignore[union-attr]
    dated = as_unavailable(api_exception(503, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}), "x")
    assert dated is not None and dated.retry_after is None


def test_server_errors_and_transport_failures_are_passing() -> None:
    for status in (500, 502, 503, 504):
        assert as_unavailable(api_exception(status), "x") is not None
    assert as_unavailable(MaxRetryError(None, "/apis", "refused"), "x") is not None  # type: ignore[arg-type]
    assert as_unavailable(ProtocolError("connection cut"), "x") is not None
    assert as_unavailable(ConnectionRefusedError(), "x") is not None
    # What the operator's client raises for a refused or cut connection and for a timeout.
    assert as_unavailable(requests.ConnectionError("refused"), "x") is not None
    assert as_unavailable(requests.ReadTimeout("no answer"), "x") is not None


def test_retry_after_is_found_whatever_the_header_case() -> None:
    unavailable = as_unavailable(api_exception(503, {"retry-after": "2"}), "x")
    assert unavailable is not None and unavailable.retry_after == 2.0


def test_answers_about_the_object_are_not_passing() -> None:
    for status in (400, 403, 404, 409, 422):
        assert as_unavailable(api_exception(status), "x") is None
    assert as_unavailable(ValueError("bug"), "x") is None
