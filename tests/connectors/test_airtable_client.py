"""The client seam: error translation, 429 waits, retries, offsets, POST fallback, no token shown.

A tiny loopback stub answers each request with the next scripted answer (real
HTTP, so pyairtable's real request path runs); the real error bodies come
from ../shared/fixtures/airtable.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from leadsync.connectors.airtable import (
    AirtableClient,
    AirtableSource,
    translate_error,
)
from leadsync.connectors.airtable_formula import record_id_in
from leadsync.connectors.base import Cursor, PullStats, RateLimiter, RetryPolicy

from leadsync.errors import (
    AuthError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    RequestRejectedError,
    SchemaError,
    UpstreamError,
)
from leadsync.testing import ManualClock

TOKEN = "patSECRETtoken1234567.abcdef0123456789"
BASE = "appSTUBSTUBSTUB01"
Loader = Callable[[str], Any]


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]


class Stub:
    """Answers request n with ``script[n]`` (the last answer repeats)."""

    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.seen: list[Seen] = []
        #: answers from the request instead of the script, when set
        self.responder: Callable[[Seen], Answer] | None = None
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                stub.seen.append(Seen(self.command, parts.path, parse_qs(parts.query),
                                      json.loads(raw) if raw else None, dict(self.headers)))
                if stub.responder is not None:
                    answer = stub.responder(stub.seen[-1])
                else:
                    answer = stub.script[min(len(stub.seen), len(stub.script)) - 1]
                if answer.reset:
                    self.close_connection = True
                    self.connection.close()
                    return
                payload = json.dumps(answer.body).encode() if answer.body is not None else b""
                self.send_response(answer.status)
                for name, value in {"Content-Type": "application/json",
                                    **answer.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, *answers: Answer) -> None:
        self.script.extend(answers)


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


FAST = RetryPolicy(backoff_initial=0.01, backoff_max=0.05, default_rate_wait=30.0)


def client_for(stub: Stub, *, limiter: RateLimiter | None = None,
               policy: RetryPolicy = FAST) -> AirtableClient:
    client = AirtableClient(TOKEN, endpoint_url=stub.url, rps=None, policy=policy,
                            timeout=(2, 2))
    if limiter is not None:
        client.limiter = lambda url: limiter  # type: ignore[method-assign]
    return client


def get(client: AirtableClient) -> Any:
    return client.request("GET", str(client.build_url(BASE, "tblSTUB")))


def error_answer(load_fixture: Loader, name: str, status: int, **headers: str) -> Answer:
    return Answer(status, load_fixture(f"airtable/{name}"), headers)


# ---------------------------------------------------------------------------
# Translation of the real error bodies


@pytest.mark.parametrize(
    ("fixture", "status", "error", "code", "words"),
    [
        ("error_401_authentication_required.json", 401, AuthError, "AUTHENTICATION_REQUIRED",
         "AIRTABLE_TOKEN"),
        ("error_403_invalid_permissions_or_model_not_found.json", 403, AuthError,
         "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", "may not exist"),
        ("error_404_not_found_string_form.json", 404, NotFoundError, "NOT_FOUND", "not found"),
        ("error_404_table_not_found.json", 404, NotFoundError, "TABLE_NOT_FOUND",
         "Could not find table Unknown Table"),
        ("error_404_record_not_found.json", 404, NotFoundError, "MODEL_ID_NOT_FOUND",
         "Record not found"),
        ("error_422_invalid_request_unknown.json", 422, RequestRejectedError,
         "INVALID_REQUEST_UNKNOWN", "parameter validation failed"),
        ("error_422_invalid_value_for_column.json", 422, RequestRejectedError,
         "INVALID_VALUE_FOR_COLUMN", "cannot accept a value because the field is computed"),
        ("error_422_list_records_iterator_not_available.json", 422, RequestRejectedError,
         "LIST_RECORDS_ITERATOR_NOT_AVAILABLE", "rejected"),
    ],
)
def test_errors_are_translated_once_into_the_leadsync_tree(
        stub: Stub, load_fixture: Loader, fixture: str, status: int, error: type[Exception],
        code: str, words: str) -> None:
    stub.answer(error_answer(load_fixture, fixture, status))
    client = client_for(stub)
    with pytest.raises(error) as caught:
        get(client)
    exc = caught.value
    assert exc.code == code  # type: ignore[attr-defined]
    assert exc.status == status  # type: ignore[attr-defined]
    assert words in str(exc)
    assert f"GET /v0/{BASE}/tblSTUB" in str(exc)
    assert isinstance(exc.__cause__, requests.HTTPError)
    assert len(stub.seen) == 1  # 4xx are not retried
    assert "403" not in fixture or "scopes" in str(exc)


def test_a_503_is_retried_then_succeeds(stub: Stub, load_fixture: Loader) -> None:
    stub.answer(error_answer(load_fixture, "error_503_retriable_error.json", 503),
                Answer(200, {"records": []}))
    client = client_for(stub)
    assert get(client) == {"records": []}
    assert len(stub.seen) == 2
    assert client.stats.retries == 1
    assert client.stats.requests == 2


def test_5xx_that_persist_end_as_upstream_error(stub: Stub, load_fixture: Loader) -> None:
    stub.answer(error_answer(load_fixture, "error_503_retriable_error.json", 503))
    client = client_for(stub, policy=RetryPolicy(max_attempts=3, backoff_initial=0.01))
    with pytest.raises(UpstreamError, match="RETRIABLE_ERROR") as caught:
        get(client)
    assert caught.value.status == 503
    assert len(stub.seen) == 3


def test_a_reset_connection_is_retried(stub: Stub) -> None:
    stub.answer(Answer(reset=True), Answer(200, {"ok": True}))
    assert get(client_for(stub)) == {"ok": True}
    assert len(stub.seen) == 2


def test_429_waits_out_retry_after_through_the_limiter(stub: Stub, load_fixture: Loader) -> None:
    clock = ManualClock()
    limiter = RateLimiter(5.0, clock=clock, sleep=clock.sleep)
    stub.answer(error_answer(load_fixture, "error_429_rate_limit_reached.json", 429,
                             **{"Retry-After": "7"}),
                Answer(200, {"records": []}))
    client = client_for(stub, limiter=limiter)
    assert get(client) == {"records": []}
    assert clock.now >= 7  # the whole base waited what the server asked
    assert client.stats.rate_limited == 1


def test_429_without_retry_after_waits_airtables_30_seconds(stub: Stub,
                                                            load_fixture: Loader) -> None:
    clock = ManualClock()
    limiter = RateLimiter(5.0, clock=clock, sleep=clock.sleep)
    stub.answer(error_answer(load_fixture, "error_429_rate_limit_reached.json", 429),
                Answer(200, {"records": []}))
    client = client_for(stub, limiter=limiter)
    get(client)
    assert 30 <= clock.now < 31  # not pyairtable's default of a few seconds


def test_429_asking_more_than_max_wait_gives_up_clearly(stub: Stub,
                                                        load_fixture: Loader) -> None:
    stub.answer(error_answer(load_fixture, "error_429_rate_limit_reached.json", 429,
                             **{"Retry-After": "3600"}))
    client = client_for(stub, policy=RetryPolicy(max_wait=60))
    with pytest.raises(RateLimitedError, match="asked to wait 3600s") as caught:
        get(client)
    assert caught.value.retry_after == 3600
    assert len(stub.seen) == 1


def test_billing_quota_is_never_retried_and_said_plainly(stub: Stub) -> None:
    stub.answer(Answer(429, {"error": {"type": "PUBLIC_API_BILLING_LIMIT_EXCEEDED",
                                       "message": "Monthly API call limit exceeded"}}))
    with pytest.raises(QuotaExceededError) as caught:
        get(client_for(stub))
    assert len(stub.seen) == 1
    message = str(caught.value)
    assert "monthly Airtable API call quota" in message
    assert "does not retry" in message
    assert not isinstance(caught.value, RateLimitedError)


def test_translation_of_failures_without_an_answer() -> None:
    retry = translate_error(requests.exceptions.RetryError("too many 429 error responses"),
                            what="GET /v0/app")
    assert isinstance(retry, UpstreamError)
    assert isinstance(translate_error(requests.ReadTimeout()), UpstreamError)
    assert isinstance(translate_error(requests.ConnectionError()), UpstreamError)
    bad_json = translate_error(requests.exceptions.InvalidJSONError("Out of range float"))
    assert isinstance(bad_json, RequestRejectedError)
    garbled = translate_error(requests.exceptions.JSONDecodeError("x", "doc", 0))
    assert isinstance(garbled, UpstreamError)


def test_the_token_is_never_shown(stub: Stub, load_fixture: Loader,
                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    stub.answer(error_answer(load_fixture, "error_503_retriable_error.json", 503),
                error_answer(load_fixture, "error_401_authentication_required.json", 401))
    client = client_for(stub)
    with pytest.raises(AuthError) as caught:
        get(client)
    assert stub.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"  # it was sent
    shown = [str(caught.value), repr(caught.value), repr(client), caplog.text,
             str(caught.value.__cause__)]
    assert caplog.records  # the retry was logged
    for text in shown:
        assert TOKEN not in text


# ---------------------------------------------------------------------------
# Listings through the seam


SCHEMA = {"tables": [{
    "id": "tblSTUB", "name": "Rotation", "primaryFieldId": "fldSPRINT0000001",
    "fields": [
        {"id": "fldSPRINT0000001", "name": "Sprint", "type": "singleLineText"},
        {"id": "fldSTARTS0000001", "name": "Starts", "type": "date"},
        {"id": "fldLEAD000000001", "name": "Lead", "type": "singleLineText"},
    ],
}]}


def rec(n: int) -> dict[str, Any]:
    return {"id": f"rec{n:014d}", "createdTime": "2026-01-01T00:00:00.000Z",
            "fields": {"fldSPRINT0000001": f"Sprint {n}", "fldSTARTS0000001": "2026-01-05",
                       "fldLEAD000000001": "Ada"}}


def rotation_source(stub: Stub) -> AirtableSource:
    return AirtableSource(client_for(stub), BASE, "Rotation", canonical="rotations",
                          mapping={"sprint": "Sprint", "starts_on": "Starts",
                                   "lead_id": "Lead"})


def test_an_expired_offset_restarts_the_listing_without_duplicates(
        stub: Stub, load_fixture: Loader) -> None:
    expired = error_answer(load_fixture, "error_422_list_records_iterator_not_available.json",
                           422)
    stub.answer(Answer(200, SCHEMA),
                Answer(200, {"records": [rec(1), rec(2)], "offset": "itr1/rec2"}),
                expired,
                Answer(200, {"records": [rec(1), rec(2)], "offset": "itr2/rec2"}),
                Answer(200, {"records": [rec(3)]}))
    source = rotation_source(stub)
    records = list(source.fetch())
    assert [r.source_id for r in records] == [rec(n)["id"] for n in (1, 2, 3)]
    assert source.restarts == 1
    pages = [s for s in stub.seen if s.path == f"/v0/{BASE}/tblSTUB"]
    assert [s.query.get("offset") for s in pages] == [None, ["itr1/rec2"], None, ["itr2/rec2"]]
    assert pages[0].query["returnFieldsByFieldId"] == ["1"]
    assert pages[0].query["fields[]"] == ["fldSPRINT0000001", "fldSTARTS0000001",
                                          "fldLEAD000000001"]


def test_an_incremental_pull_filters_on_last_modified_time(stub: Stub) -> None:
    stub.answer(Answer(200, SCHEMA), Answer(200, {"records": [rec(1)]}))
    source = rotation_source(stub)
    cursor = Cursor(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), lag=dt.timedelta(seconds=5))
    assert [r.source_id for r in source.fetch(cursor)] == [rec(1)["id"]]
    assert stub.seen[-1].query["filterByFormula"] == [
        "OR(LAST_MODIFIED_TIME()>=DATETIME_PARSE('2025-12-31T23:59:55.000Z'), "
        "CREATED_TIME()>=DATETIME_PARSE('2025-12-31T23:59:55.000Z'))"]


def test_a_formula_too_long_for_a_url_goes_by_post_as_one_paced_request(stub: Stub) -> None:
    stub.answer(Answer(200, {"records": [rec(1)]}))
    client = client_for(stub)
    table = client.table(BASE, "tblSTUB")
    formula = record_id_in(f"rec{n:014d}" for n in range(800))
    assert len(formula) > 16_000
    pages = list(client.iterate_requests(
        "get", str(table.urls.records), fallback=("post", str(table.urls.records_post)),
        options={"formula": formula, "use_field_ids": True}))
    assert pages == [{"records": [rec(1)]}]
    assert [(s.method, s.path) for s in stub.seen] == [
        ("POST", f"/v0/{BASE}/tblSTUB/listRecords")]
    assert stub.seen[0].body["filterByFormula"] == formula
    assert client.stats.requests == 1  # the GET that was too long was never sent


def test_a_mapped_field_that_is_gone_is_a_clear_schema_error(stub: Stub) -> None:
    stub.answer(Answer(200, SCHEMA))
    source = AirtableSource(client_for(stub), BASE, "tblSTUB", canonical="rotations",
                            mapping={"sprint": "Sprint", "starts_on": "Start date",
                                     "lead_id": "Lead"})
    with pytest.raises(SchemaError) as caught:
        source.field_ids  # noqa: B018
    message = str(caught.value)
    assert "starts_on -> 'Start date'" in message
    assert "'Sprint' (singleLineText), 'Starts' (date), 'Lead' (singleLineText)" in message


def test_required_columns_without_a_field_are_named(stub: Stub) -> None:
    stub.answer(Answer(200, SCHEMA))
    source = AirtableSource(client_for(stub), BASE, "tblSTUB", canonical="rotations",
                            mapping={"sprint": "Sprint"})
    with pytest.raises(SchemaError, match="required column\\(s\\) starts_on, lead_id"):
        source.open()


def test_list_ids_asks_for_one_small_field(stub: Stub) -> None:
    stub.answer(Answer(200, SCHEMA),
                Answer(200, {"records": [{"id": rec(1)["id"], "createdTime": "x",
                                          "fields": {}}], "offset": "itr/1"}),
                Answer(200, {"records": [{"id": rec(2)["id"], "createdTime": "x",
                                          "fields": {}}]}))
    source = rotation_source(stub)
    assert source.list_ids() == {rec(1)["id"], rec(2)["id"]}
    assert stub.seen[1].query["fields[]"] == ["fldSPRINT0000001"]
    assert stub.seen[1].query["pageSize"] == ["100"]


def test_pacing_every_page_request(stub: Stub) -> None:
    clock = ManualClock()
    limiter = RateLimiter(5.0, clock=clock, sleep=clock.sleep)
    pages = [Answer(200, {"records": [rec(n)], "offset": f"itr/{n}"}) for n in range(1, 10)]
    stub.answer(Answer(200, SCHEMA), *pages, Answer(200, {"records": [rec(10)]}))
    source = AirtableSource(client_for(stub, limiter=limiter), BASE, "tblSTUB",
                            canonical="rotations",
                            mapping={"sprint": "Sprint", "starts_on": "Starts",
                                     "lead_id": "Lead"})
    assert len(list(source.fetch())) == 10
    assert clock.slept  # the waiting went to the fake clock, not to time.sleep
    # 11 requests at 5/s: the first at once, the next ten 0.2 s apart
    assert clock.now == pytest.approx(2.0)
    assert source.stats.requests == 11
    assert isinstance(source.stats, PullStats)


# ---------------------------------------------------------------------------
# Writes through the seam


REPORT_SCHEMA = {"tables": [{
    "id": "tblREPORT", "name": "Monthly report", "primaryFieldId": "fldKEY0000000001",
    "fields": [
        {"id": "fldKEY0000000001", "name": "Report key", "type": "singleLineText"},
        {"id": "fldSCORE00000001", "name": "Score", "type": "number"},
        {"id": "fldMONTH00000001", "name": "Month", "type": "date"},
        {"id": "fldNOTE000000001", "name": "Manager note", "type": "multilineText"},
        {"id": "fldTOTAL00000001", "name": "Total", "type": "formula"},
    ],
}]}


def upsert_responder(bad: set[str]) -> Callable[[Seen], Answer]:
    """Rejects a whole batch holding a bad key, like Airtable; else creates every record."""
    def respond(seen: Seen) -> Answer:
        if seen.path.startswith("/v0/meta/"):
            return Answer(200, REPORT_SCHEMA)
        keys = [r["fields"]["fldKEY0000000001"] for r in seen.body["records"]]
        if bad & set(keys):
            return Answer(422, {"error": {
                "type": "INVALID_VALUE_FOR_COLUMN",
                "message": 'Field "Score" cannot accept the provided value'}})
        ids = [f"rec{k:>014}" for k in keys]
        return Answer(200, {"createdRecords": ids, "updatedRecords": [], "records": [
            {"id": i, "createdTime": "2026-11-01T00:00:00.000Z", "fields": r["fields"]}
            for i, r in zip(ids, seen.body["records"], strict=True)]})
    return respond


def report_rows(n: int) -> Any:
    import numpy as np
    import pandas as pd

    return pd.DataFrame({
        "Report key": [f"k{i}" for i in range(n)],
        "Score": pd.array([float(i) if i % 7 else np.nan for i in range(n)], dtype="float64"),
        "Month": [pd.Timestamp("2026-10-01", tz="UTC")] * n,
        "Manager note": ["leave me alone"] * n,
    })


def test_upserts_in_batches_of_ten_sending_only_owned_fields(stub: Stub) -> None:
    from leadsync.connectors.airtable import AirtableWriter

    stub.responder = upsert_responder(set())
    writer = AirtableWriter(client_for(stub), BASE, "Monthly report")
    result = writer.write_rows(report_rows(25), key_fields=["Report key"],
                               owned=["Report key", "Score", "Month"])
    assert result.ok
    assert len(result.created) == 25
    writes = [s for s in stub.seen if s.method == "PATCH"]
    assert [len(s.body["records"]) for s in writes] == [10, 10, 5]
    first = writes[0].body
    assert first["performUpsert"] == {"fieldsToMergeOn": ["fldKEY0000000001"]}
    assert first["typecast"] is False
    assert first["records"][0] == {"fields": {
        "fldKEY0000000001": "k0", "fldSCORE00000001": None, "fldMONTH00000001": "2026-10-01"}}
    assert first["records"][1]["fields"]["fldSCORE00000001"] == 1.0
    sent = {k for s in writes for r in s.body["records"] for k in r["fields"]}
    assert "fldNOTE000000001" not in sent  # not owned: never touched


def test_a_rejected_row_is_isolated_and_the_others_written(stub: Stub) -> None:
    from leadsync.connectors.airtable import AirtableWriter

    stub.responder = upsert_responder({"k13"})
    writer = AirtableWriter(client_for(stub), BASE, "tblREPORT")
    result = writer.write_rows(report_rows(25), key_fields=["Report key"],
                               owned=["Report key", "Score"])
    assert len(result.created) == 24
    assert [row["Report key"] for row, _ in result.failed] == ["k13"]
    assert result.failed[0][1] == (
        'airtable: PATCH /v0/appSTUBSTUBSTUB01/tblREPORT: rejected: Field "Score" cannot '
        'accept the provided value (HTTP 422, INVALID_VALUE_FOR_COLUMN)')
    assert len(result.failed) == 1
    assert result.failed[0][0]["Manager note"] == "leave me alone"  # the row as given
    writes = [s for s in stub.seen if s.method == "PATCH"]
    # 3 batches; the bad one (k10-k19) splits 5+5, then 3+2, then 1+1: 6 more requests
    assert len(writes) == 3 + 6


def test_rows_refused_before_sending(stub: Stub) -> None:
    import pandas as pd
    from leadsync.connectors.airtable import AirtableWriter

    stub.responder = upsert_responder(set())
    writer = AirtableWriter(client_for(stub), BASE, "tblREPORT")
    rows = pd.DataFrame({"Report key": ["a", None, "a", "b"],
                         "Score": [1.0, 2.0, 3.0, "high"]})
    result = writer.write_rows(rows, key_fields=["Report key"])
    reasons = [reason for _, reason in result.failed]
    assert result.created == [f"rec{'a':>014}"]
    assert reasons[0] == "key field(s) Report key empty"
    assert reasons[1] == "same key as row 0; not sent twice"
    assert reasons[2].startswith("'Score' (number) cannot take str 'high'")


def test_writes_that_cannot_be_made_are_refused_up_front(stub: Stub) -> None:
    from leadsync.connectors.airtable import AirtableWriter

    from leadsync.errors import ConfigError

    stub.responder = upsert_responder(set())
    writer = AirtableWriter(client_for(stub), BASE, "tblREPORT")
    with pytest.raises(ConfigError, match="computed by Airtable"):
        writer.write_rows([{"Report key": "a", "Total": 3}], key_fields=["Report key"])
    with pytest.raises(ConfigError, match="must be one of the fields written"):
        writer.write_rows([{"Report key": "a", "Score": 3}], key_fields=["Report key"],
                          owned=["Score"])
    with pytest.raises(ConfigError, match="1 to 3"):
        writer.write_rows([{"Report key": "a"}], key_fields=[])
    with pytest.raises(SchemaError, match="'Nope'"):
        writer.write_rows([{"Report key": "a", "Nope": 1}], key_fields=["Report key"])
    assert [s.method for s in stub.seen] == ["GET"]  # only the schema was read


def test_the_default_mapping_names_what_a_table_lacks(stub: Stub) -> None:
    stub.answer(Answer(200, SCHEMA))
    # no mapping: the sample layout's names, of which "Rotation" has none for signals
    source = AirtableSource(client_for(stub), BASE, "Rotation", canonical="signals")
    with pytest.raises(SchemaError) as caught:
        source.open()
    message = str(caught.value)
    assert "required column(s) member_id, signal_type, date, impact of signals" in message
    assert "pass a mapping" in message
    assert "'Starts' (date)" in message


def test_one_limiter_per_base_shared_by_every_client_and_table() -> None:
    first = AirtableClient(TOKEN, endpoint_url="http://127.0.0.1:9", rps=5.0)
    second = AirtableClient(TOKEN, endpoint_url="http://127.0.0.1:9", rps=5.0)
    signals = first.limiter(f"http://127.0.0.1:9/v0/{BASE}/tblSignals")
    assert signals is second.limiter(f"http://127.0.0.1:9/v0/{BASE}/tblMembers?pageSize=100")
    assert signals is first.limiter(f"http://127.0.0.1:9/v0/meta/bases/{BASE}/tables")
    assert signals is not first.limiter("http://127.0.0.1:9/v0/appOTHEROTHEROTH/tblX")
    assert signals is not None
    assert signals.rate == 5.0
    assert AirtableClient(TOKEN, rps=None).limiter(f"https://api.airtable.com/v0/{BASE}/t") is None


def test_public_names_exist() -> None:
    import leadsync.connectors.airtable as airtable
    import leadsync.connectors.airtable_decode as decode
    import leadsync.connectors.airtable_encode as encode
    import leadsync.connectors.airtable_formula as formula

    for module in (airtable, decode, encode, formula):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_a_source_counts_into_the_stats_the_sync_gives_it(stub: Stub) -> None:
    stub.answer(Answer(200, SCHEMA), Answer(200, {"records": [rec(1)]}))
    source = rotation_source(stub)
    mine = PullStats()
    source.stats = mine
    assert len(list(source.fetch())) == 1
    assert mine.requests == 2
    assert mine.rows == 1
