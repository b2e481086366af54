"""The Notion client wrapper over notion-client and httpx (respx): errors, pacing, retries."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from leadsync.connectors.base import PullStats, RateLimiter, RetryPolicy
from leadsync.connectors.notion import NotionAPI, parse_notion_id, translate_error

from leadsync.errors import (
    AuthError,
    ConfigError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    UpstreamError,
)
from leadsync.testing import ManualClock

BASE = "https://api.notion.com"
TOKEN = "ntn_secret_token_that_must_never_leak_123456"
DS = "a2db53d6-be98-4b59-a4d3-befc6a77a739"
QUERY = f"{BASE}/v1/data_sources/{DS}/query"
EMPTY = {"object": "list", "results": [], "next_cursor": None, "has_more": False,
         "type": "page_or_data_source", "page_or_data_source": {}}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(clock: ManualClock) -> Iterator[NotionAPI]:
    limiter = RateLimiter(1000.0, clock=clock, sleep=clock.sleep)
    with NotionAPI(TOKEN, base_url=BASE, limiter=limiter, sleep=clock.sleep,
                   policy=RetryPolicy(max_attempts=4, max_wait=60)) as notion:
        yield notion


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


def error(load_fixture: Any, name: str, status: int | None = None,
          headers: dict[str, str] | None = None) -> httpx.Response:
    body = load_fixture(f"notion/{name}")
    return httpx.Response(status or body["status"], json=body, headers=headers)


def query(api: NotionAPI) -> dict[str, Any]:
    return api.query(DS, {"page_size": 100})


# ---------------------------------------------------------------------------
# Translation, once, into leadsync's tree


def test_401_is_an_auth_error_not_retried_and_the_token_never_shows(
        api: NotionAPI, mock: respx.MockRouter, caplog: pytest.LogCaptureFixture) -> None:
    route = mock.post(QUERY).respond(401, json={
        "object": "error", "status": 401, "code": "unauthorized",
        "message": "API token is invalid.", "request_id": "req-401"})
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as info:
        query(api)
    assert route.call_count == 1
    assert info.value.request_id == "req-401"
    assert info.value.status == 401
    assert "NOTION_TOKEN" in str(info.value)
    # the token went out in the header, and nowhere else
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
    for text in (str(info.value), repr(info.value), caplog.text, repr(api)):
        assert TOKEN not in text


def test_404_says_to_share_the_database_and_carries_the_request_id(
        api: NotionAPI, mock: respx.MockRouter, load_fixture: Any) -> None:
    mock.get(f"{BASE}/v1/data_sources/{DS}").mock(
        return_value=error(load_fixture, "error_404_object_not_found_data_source.json"))
    with pytest.raises(NotFoundError) as info:
        api.retrieve_data_source(DS)
    assert info.value.request_id == "9d721d55-886e-4cb9-a885-0c3c85c8d7a2"
    assert "Share the database with the integration" in str(info.value)
    assert "object_not_found" in str(info.value)


def test_400_and_409_are_rejected_requests(api: NotionAPI, mock: respx.MockRouter,
                                           load_fixture: Any) -> None:
    route = mock.post(QUERY).mock(side_effect=[
        error(load_fixture, "error_400_validation_error.json"),
        httpx.Response(409, json={"object": "error", "status": 409, "code": "conflict_error",
                                  "message": "Conflict occurred while saving."})])
    with pytest.raises(RequestRejectedError, match="should be a valid uuid") as info:
        query(api)
    assert info.value.request_id == "62cf6149-0938-433d-b191-bab105e5b913"
    with pytest.raises(RequestRejectedError, match="conflict_error"):
        query(api)
    assert route.call_count == 2  # neither was retried


def test_translation_covers_unknown_codes_and_transport_errors() -> None:
    from notion_client.errors import RequestTimeoutError, UnknownHTTPResponseError

    overload = UnknownHTTPResponseError(
        529, headers=httpx.Headers({"retry-after": "3"}),
        raw_body_text=json.dumps({"object": "error", "status": 529, "code": "service_overload",
                                  "message": "Overloaded.", "request_id": "req-529"}))
    exc = translate_error(overload, "query")
    assert isinstance(exc, UpstreamError)
    assert (exc.code, exc.request_id) == ("service_overload", "req-529")
    assert isinstance(translate_error(RequestTimeoutError(), "q"), UpstreamError)
    assert isinstance(translate_error(httpx.RemoteProtocolError("reset"), "q"), UpstreamError)
    html = UnknownHTTPResponseError(502, raw_body_text="<html>Bad gateway</html>")
    assert isinstance(translate_error(html, "q"), UpstreamError)


# ---------------------------------------------------------------------------
# Rate limits: our limiter, Retry-After honoured exactly, no stacked waits


def test_429_waits_retry_after_through_the_limiter_then_succeeds(
        api: NotionAPI, mock: respx.MockRouter, clock: ManualClock, load_fixture: Any) -> None:
    route = mock.post(QUERY).mock(side_effect=[
        error(load_fixture, "error_429_rate_limited_docs_example.json",
              headers={"Retry-After": "7"}),
        httpx.Response(200, json=EMPTY)])
    assert query(api)["results"] == []
    assert route.call_count == 2
    assert api.stats.rate_limited == 1
    assert api.stats.retries == 1
    # the server's 7 seconds, waited once (the limiter's own pacing adds 1 ms at 1000/s)
    assert clock.now == pytest.approx(7.0, abs=0.01)
    assert sum(clock.slept) == pytest.approx(7.0, abs=0.01)


def test_a_long_retry_after_is_waited_in_full_when_the_cap_allows(
        mock: respx.MockRouter, clock: ManualClock) -> None:
    limiter = RateLimiter(1000.0, clock=clock, sleep=clock.sleep)
    with NotionAPI(TOKEN, base_url=BASE, limiter=limiter, sleep=clock.sleep,
                   policy=RetryPolicy(max_wait=900)) as notion:
        mock.post(QUERY).mock(side_effect=[
            httpx.Response(429, headers={"Retry-After": "460"},
                           json={"object": "error", "status": 429, "code": "rate_limited",
                                 "message": "Slow down."}),
            httpx.Response(200, json=EMPTY)])
        query(notion)
    assert clock.now == pytest.approx(460, abs=0.01)  # notion-client would have cut it to 60


def test_a_retry_after_over_the_callers_cap_gives_up_clearly(
        api: NotionAPI, mock: respx.MockRouter, clock: ManualClock) -> None:
    mock.post(QUERY).respond(429, headers={"Retry-After": "600"}, json={
        "object": "error", "status": 429, "code": "rate_limited", "message": "Slow down.",
        "request_id": "req-429"})
    with pytest.raises(RateLimitedError, match="asked to wait 600s, more than the 60s") as info:
        query(api)
    assert info.value.retry_after == 600
    assert info.value.request_id == "req-429"
    assert clock.now < 1


def test_notion_clients_own_retries_are_off(api: NotionAPI, mock: respx.MockRouter) -> None:
    route = mock.post(QUERY).respond(429, headers={"Retry-After": "1"}, json={
        "object": "error", "status": 429, "code": "rate_limited", "message": "Slow down."})
    with pytest.raises(RateLimitedError):
        api.once("query", api.client.data_sources.query, data_source_id=DS)
    assert route.call_count == 1


def test_requests_are_paced_at_the_configured_rate(mock: respx.MockRouter,
                                                   clock: ManualClock) -> None:
    limiter = RateLimiter(3.0, clock=clock, sleep=clock.sleep)
    with NotionAPI(TOKEN, base_url=BASE, limiter=limiter, sleep=clock.sleep) as notion:
        mock.post(QUERY).respond(200, json=EMPTY)
        for _ in range(10):
            query(notion)
    assert clock.now == pytest.approx(3.0)  # 10 requests at 3/s: the first at once, 9 × 1/3 s


# ---------------------------------------------------------------------------
# 5xx, timeouts and resets: retried, queries included


def test_503_on_a_query_post_is_retried(api: NotionAPI, mock: respx.MockRouter,
                                        load_fixture: Any) -> None:
    route = mock.post(QUERY).mock(side_effect=[
        error(load_fixture, "error_503_service_unavailable_docs_example.json"),
        error(load_fixture, "error_503_service_unavailable_docs_example.json"),
        httpx.Response(200, json=EMPTY)])
    assert query(api) == EMPTY
    assert route.call_count == 3
    assert api.stats.retries == 2


def test_529_service_overload_is_retried(api: NotionAPI, mock: respx.MockRouter) -> None:
    route = mock.post(QUERY).mock(side_effect=[
        httpx.Response(529, json={"object": "error", "status": 529, "code": "service_overload",
                                  "message": "Overloaded."}),
        httpx.Response(200, json=EMPTY)])
    query(api)
    assert route.call_count == 2


@pytest.mark.parametrize("fault", [httpx.ReadTimeout("read timed out"),
                                   httpx.ConnectError("connection refused"),
                                   httpx.RemoteProtocolError("peer closed connection"),
                                   httpx.ReadError("connection reset by peer")])
def test_timeouts_and_resets_are_retried(api: NotionAPI, mock: respx.MockRouter,
                                         fault: Exception) -> None:
    route = mock.post(QUERY).mock(side_effect=[fault, httpx.Response(200, json=EMPTY)])
    assert query(api) == EMPTY
    assert route.call_count == 2


def test_upstream_errors_that_outlast_the_retries_are_transient(
        api: NotionAPI, mock: respx.MockRouter) -> None:
    route = mock.post(QUERY).mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(UpstreamError, match="did not answer in time"):
        query(api)
    assert route.call_count == 4  # max_attempts


# ---------------------------------------------------------------------------
# Requests as sent


def test_filter_properties_is_encoded_once(api: NotionAPI, mock: respx.MockRouter) -> None:
    route = mock.post(QUERY).respond(200, json=EMPTY)
    api.query(DS, {"page_size": 100, "filter": None}, filter_properties=["%3FB%3AW", "title"])
    request = route.calls.last.request
    assert "filter_properties=%3FB%3AW" in str(request.url)
    assert "%253F" not in str(request.url)
    assert json.loads(request.content) == {"page_size": 100}  # no "filter": null


def test_the_client_uses_our_timeouts_and_one_logger(api: NotionAPI) -> None:
    timeout = api.client.client.timeout
    assert (timeout.connect, timeout.read) == (10.0, 70.0)
    assert api.client.logger.name == "leadsync.connectors.notion.client"
    before = len(logging.getLogger("notion_client").handlers)
    NotionAPI(TOKEN, base_url=BASE).close()
    assert len(logging.getLogger("notion_client").handlers) == before
    assert not api.client.logger.handlers


def test_stats_count_requests(api: NotionAPI, mock: respx.MockRouter) -> None:
    mock.post(QUERY).respond(200, json=EMPTY)
    stats_before = PullStats(**vars(api.stats))
    query(api)
    query(api)
    assert api.stats.requests - stats_before.requests == 2


@pytest.mark.parametrize(("ref", "expected"), [
    ("1f2e3d4c5b6a79881f2e3d4c5b6a7988", "1f2e3d4c-5b6a-7988-1f2e-3d4c5b6a7988"),
    ("1F2E3D4C-5B6A-7988-1F2E-3D4C5B6A7988", "1f2e3d4c-5b6a-7988-1f2e-3d4c5b6a7988"),
    ("https://www.notion.so/acme/Leadership-Signals-1f2e3d4c5b6a79881f2e3d4c5b6a7988"
     "?v=abcdef0123456789abcdef0123456789", "1f2e3d4c-5b6a-7988-1f2e-3d4c5b6a7988"),
    ("https://acme.notion.site/1f2e3d4c5b6a79881f2e3d4c5b6a7988",
     "1f2e3d4c-5b6a-7988-1f2e-3d4c5b6a7988"),
])
def test_ids_and_urls(ref: str, expected: str) -> None:
    assert parse_notion_id(ref) == expected


def test_a_reference_without_an_id_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a Notion id"):
        parse_notion_id("Leadership Signals")
