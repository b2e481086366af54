"""The emulator's machinery over real HTTP: auth, rate limits, faults, stats."""

from __future__ import annotations

import httpx
import pytest

from leadsync.emulator import Emulator, Fault, FrozenClock, Limits
from leadsync.emulator.core import TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_the_average_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(rate=3, capacity=3, monotonic=t)
    assert [bucket.take() for _ in range(3)] == [None, None, None]
    wait = bucket.take()
    assert wait == pytest.approx(1 / 3)
    t.now += 1 / 3
    assert bucket.take() is None


def test_token_bucket_penalty_locks_the_key() -> None:
    t = FakeTime()
    bucket = TokenBucket(rate=5, capacity=5, penalty=30, monotonic=t)
    for _ in range(5):
        assert bucket.take() is None
    assert bucket.take() == 30
    t.now += 10
    assert bucket.take() == pytest.approx(20)  # still locked, tokens refilled or not
    t.now += 20.01
    assert bucket.take() is None


@pytest.fixture
def emu() -> Emulator:
    with Emulator(seed=3, limits=Limits.unlimited()) as emulator:
        yield emulator


def users(emu: Emulator, token: str | None = None, **kwargs: object) -> httpx.Response:
    return httpx.get(
        f"{emu.url}/v1/users",
        headers={"Authorization": f"Bearer {token or emu.notion_token}",
                 "Notion-Version": "2025-09-03"},
        **kwargs,  # type: ignore[arg-type]
    )


def test_wrong_token_gets_the_services_401(emu: Emulator) -> None:
    response = users(emu, token="ntn_wrong")
    assert response.status_code == 401
    body = response.json()
    assert body["object"] == "error"
    assert body["code"] == "unauthorized"
    assert "request_id" in body
    airtable = httpx.get(f"{emu.url}/v0/meta/bases", headers={"Authorization": "Bearer nope"})
    assert airtable.status_code in (401, 404)


def test_unknown_route_answers_in_the_services_shape(emu: Emulator) -> None:
    response = httpx.get(f"{emu.url}/v1/no/such/thing",
                         headers={"Authorization": f"Bearer {emu.notion_token}"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request_url"


def test_rate_limit_answers_429_with_retry_after() -> None:
    limits = Limits(notion_rps=1.0, notion_burst=3)
    clock = FrozenClock()  # the bucket refills only when the test moves the clock
    with Emulator(seed=1, limits=limits, clock=clock) as emu:
        statuses = [users(emu).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        limited = users(emu)
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate_limited"
        assert float(limited.headers["Retry-After"]) == 1
        assert emu.stats.rate_limited["notion"] == 3
        clock.advance(seconds=1)  # one token back
        assert [users(emu).status_code for _ in range(2)] == [200, 429]


def test_error_fault_fires_at_its_rate_and_limit(emu: Emulator) -> None:
    emu.faults.add(Fault("error", route="notion.users.*", status=503, limit=2))
    codes = [users(emu).status_code for _ in range(4)]
    assert codes == [503, 503, 200, 200]
    assert users(emu).json()["object"] == "list"
    assert emu.stats.count("notion.users.list", 503) == 2


def test_storm_answers_consecutive_429s(emu: Emulator) -> None:
    emu.faults.add(Fault("storm", route="notion.*", length=3, retry_after=0.25, limit=1))
    codes = [users(emu).status_code for _ in range(5)]
    assert codes == [429, 429, 429, 200, 200]


def test_reset_drops_the_connection(emu: Emulator) -> None:
    emu.faults.add(Fault("reset", route="notion.users.list", limit=1))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)):
        users(emu)
    assert users(emu).status_code == 200


def test_faults_are_reproducible_from_the_seed() -> None:
    def run() -> list[int]:
        with Emulator(seed=11, limits=Limits.unlimited()) as emu:
            emu.faults.add(Fault("error", route="*", rate=0.5, status=500))
            return [users(emu).status_code for _ in range(20)]
    first, second = run(), run()
    assert first == second
    assert 500 in first
    assert 200 in first


def test_the_emulator_only_listens_on_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Emulator(host="0.0.0.0")


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock("2026-11-01T09:00:30Z")
    before = clock.now()
    assert clock.now() == before
    assert clock.advance(20).isoformat() == "2026-11-01T09:00:50+00:00"
