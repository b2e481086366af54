"""Shared connector machinery: pacing, retries, mapping, cursors, records, progress."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from leadsync.connectors.base import (
    Cursor,
    FieldRef,
    Progress,
    PullStats,
    RateLimiter,
    Record,
    RetryPolicy,
    SchemaCache,
    records_to_frame,
    resolve_fields,
    retrying,
)

from leadsync.errors import AuthError, RateLimitedError, SchemaError, UpstreamError
from leadsync.tables import MemberRef
from leadsync.testing import ManualClock


def test_limiter_paces_requests_at_the_rate() -> None:
    clock = ManualClock()
    limiter = RateLimiter(3.0, clock=clock, sleep=clock.sleep)
    for _ in range(7):
        limiter.acquire()
    # the first goes at once, the other six one third of a second apart
    assert clock.now == pytest.approx(2.0)


def test_limiter_hold_makes_everyone_wait_out_retry_after() -> None:
    clock = ManualClock()
    limiter = RateLimiter(5.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.hold(30)
    waited = limiter.acquire()
    assert waited >= 30
    assert clock.now >= 30


def test_retry_waits_retry_after_then_succeeds() -> None:
    clock = ManualClock()
    limiter = RateLimiter(100.0, clock=clock, sleep=clock.sleep)
    answers = [RateLimitedError("slow down", service="notion", retry_after=7), "ok"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    stats = PullStats()
    assert retrying(call, policy=RetryPolicy(), limiter=limiter, stats=stats,
                    sleep=clock.sleep) == "ok"
    assert stats.requests == 2
    assert stats.rate_limited == 1
    assert stats.retries == 1
    assert clock.now >= 7  # the wait was the server's, not a guess


def test_retry_after_longer_than_the_cap_gives_up_with_a_clear_message() -> None:
    def call() -> None:
        raise RateLimitedError("limited", service="notion", retry_after=1200)

    with pytest.raises(RateLimitedError, match="asked to wait 1200s, more than the 900s"):
        retrying(call, policy=RetryPolicy(max_wait=900), sleep=lambda s: None)


def test_upstream_errors_retry_with_backoff_then_raise() -> None:
    calls = []

    def call() -> None:
        calls.append(1)
        raise UpstreamError("boom", service="airtable", status=503)

    slept: list[float] = []
    with pytest.raises(UpstreamError):
        retrying(call, policy=RetryPolicy(max_attempts=4, backoff_initial=1, backoff_max=4),
                 sleep=slept.append)
    assert len(calls) == 4
    assert len(slept) == 3
    assert all(0 <= s <= 4 for s in slept)


def test_auth_errors_are_not_retried() -> None:
    calls = []

    def call() -> None:
        calls.append(1)
        raise AuthError("bad token", service="notion", status=401)

    with pytest.raises(AuthError):
        retrying(call, policy=RetryPolicy(), sleep=lambda s: None)
    assert calls == [1]


FIELDS = [FieldRef("title", "Name", "title"), FieldRef("a%3Fb", "Time zone", "select"),
          FieldRef("zzz", "Leader", "checkbox")]


def test_resolve_by_id_survives_a_rename() -> None:
    renamed = [FieldRef("title", "Full name", "title"), *FIELDS[1:]]
    resolved = resolve_fields({"name": "title", "timezone": "time ZONE"}, renamed, where="members")
    assert resolved["name"].name == "Full name"
    assert resolved["timezone"].id == "a%3Fb"


def test_missing_field_lists_the_fields_that_exist() -> None:
    with pytest.raises(SchemaError) as info:
        resolve_fields({"name": "Name", "email": "E-mail"}, FIELDS, where="Team Members")
    text = str(info.value)
    assert "email -> 'E-mail'" in text
    assert "'Time zone' (select)" in text
    assert "'Leader' (checkbox)" in text


def test_cursor_moves_to_the_newest_server_time_and_keeps_its_lag() -> None:
    t0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
    cursor = Cursor(t0)
    assert cursor.query_from == t0 - dt.timedelta(minutes=2)
    records = [Record("a", None, t0 + dt.timedelta(minutes=5), {}),
               Record("b", None, t0 + dt.timedelta(minutes=3), {}),
               Record("c", None, None, {})]
    assert cursor.advanced(records).since == t0 + dt.timedelta(minutes=5)
    assert Cursor().advanced([]).since is None


def test_records_to_frame_quarantines_undecodable_records() -> None:
    records = [
        Record("p1", None, None, {"member_id": "u1", "name": "Ada", "timezone": "Europe/Paris"}),
        Record("p2", None, None, {"name": "Bo"}, problem="Time zone: unexpected value {'x': 1}"),
        Record("p3", None, None, {"member_id": "u3", "name": "Cy",
                                  "mentor_id": MemberRef("relation", "p1")}),
    ]
    result = records_to_frame("members", records)
    assert list(result.frame["source_id"]) == ["p1", "p3"]
    assert result.frame.set_index("source_id").at["p3", "mentor_id"] == "u1"
    assert list(result.quarantine["source_id"]) == ["p2"]
    assert "unexpected value" in result.quarantine["reason"].iloc[0]


def test_progress_logs_plain_lines_off_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="leadsync"), \
            Progress("pull signals", show=False) as progress:
        progress.update(100)
        progress.update(50)
    assert progress.done == 150
    assert "pull signals: 150 rows in" in caplog.text


def test_a_schema_cache_reads_each_key_once_until_refreshed() -> None:
    reads: list[str] = []

    def read(name: str) -> Any:
        def go() -> str:
            reads.append(name)
            return f"{name} v{reads.count(name)}"
        return go

    cache = SchemaCache()
    assert cache.get("base", read("base")) == "base v1"
    assert cache.get("base", read("base")) == "base v1"
    assert "base" in cache
    assert "other" not in cache
    assert cache.refresh("base", read("base")) == "base v2"
    assert cache.get("base", read("base")) == "base v2"
    assert SchemaCache().get("base", read("base")) == "base v3"  # another run reads again
    assert reads == ["base"] * 3


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from email.utils import format_datetime

    from leadsync.connectors.base import parse_retry_after

    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    assert 80 < parse_retry_after(format_datetime(later, usegmt=True)) <= 90
    # "-0000" makes a date with no zone: read as UTC, not an error
    assert 80 < parse_retry_after(format_datetime(later.replace(tzinfo=None))) <= 90
    assert parse_retry_after("Fri, 20 Nov 2020 03:00:00 GMT") == 0.0


def test_progress_counts_its_own_seconds_not_its_callers(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    caplog.set_level(logging.INFO, logger="leadsync.connectors")
    with Progress("pull signals", show=False, clock=clock) as bar:
        for _ in range(3):
            clock.sleep(0.5)  # fetching a page
            bar.update(1)
            with bar.paused():
                clock.sleep(2.0)  # the caller writing the row somewhere
    assert bar.idle_seconds == 6.0
    assert bar.seconds == 1.5
    assert "pull signals: 3 rows in 1.5s" in caplog.text
