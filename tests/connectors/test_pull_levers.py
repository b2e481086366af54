"""Issue 16: a pull uses the burst the services allow, and asks for no more than it decodes.

Everything runs against the emulator. The pacing tests share one frozen clock
between the connectors' limiters and the emulator's buckets
(:func:`~tests.conftest.frozen_pacing`), so "no 429" and the time the requests
took are exact, whatever the machine's speed; nothing here measures speed.
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from leadsync.connectors import notion as notion_connector
from leadsync.connectors.airtable import AirtableSource
from leadsync.connectors.base import Limiters, client_burst
from leadsync.connectors.notion import NotionSource

from leadsync.config import Config, parse_config
from leadsync.emulator import Emulator, FrozenClock, Limits, SampleOrg
from leadsync.emulator.core import Request, Response
from leadsync.tables import META_COLUMNS
from tests.conftest import frozen_pacing

SIGNALS = 700  # 7 query pages: the burst is a small part of the pull


def _config(emu: Emulator, kind: str) -> Config:
    return parse_config(tomllib.loads(emu.config_toml(kind)), "emu.toml")


def _env(emu: Emulator) -> dict[str, str]:
    return {"NOTION_TOKEN": emu.notion_token, "AIRTABLE_TOKEN": emu.airtable_token}


@pytest.fixture
def seen() -> list[tuple[str, dict[str, Any]]]:
    """Every request the emulator answered, as (route, query parameters), once
    :func:`_record` has patched the emulator."""
    return []


def _record(emu: Emulator, seen: list[tuple[str, dict[str, Any]]],
            monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``emu`` note in ``seen`` what each request asked for, as the server took it."""
    handle = emu.handle

    def recording(request: Request) -> Response:
        response = handle(request)
        seen.append((request.route, {k: list(v) for k, v in request.query.items()}))
        return response

    monkeypatch.setattr(emu, "handle", recording)


# ---------------------------------------------------------------------------
# The burst


def test_the_client_burst_is_at_most_a_second_of_the_rate_asked() -> None:
    assert client_burst(3.0, 3.0) == 3.0
    assert client_burst(3.0, 1.0) == 1.0  # a user sharing the integration slows it down
    assert client_burst(2.0, 0.5) == 1.0  # one request can always go
    assert client_burst(2.0, 100_000.0) == 2.0  # an unpaced benchmark: no bigger burst
    limiters = Limiters()
    assert limiters.get("x", 5.0, 2.0).burst == 2.0
    assert limiters.get("x", 5.0, 2.0) is limiters.get("x", 5.0, 2.0)
    assert limiters.get("x", 5.0) is not limiters.get("x", 5.0, 2.0)


def test_notion_pulls_burst_at_the_published_limits_without_a_429() -> None:
    org = SampleOrg.generate(seed=21, members=12, signals=SIGNALS)
    clock = FrozenClock()
    with Emulator(seed=21, limits=Limits(), clock=clock, sample=org,
                  workspaces=("notion",)) as emu:
        config, env = _config(emu, "notion"), _env(emu)
        for process in ("first", "second, started as the first ends"):
            before_requests = emu.stats.total("notion")
            started = clock.monotonic()
            source = NotionSource.from_config(config, "signals", env, progress=False,
                                              limiters=frozen_pacing(clock))
            assert sum(1 for _ in source.fetch()) == SIGNALS
            assert emu.stats.rate_limited["notion"] == 0, process
            assert source.stats.rate_limited == 0, process
            requests = emu.stats.total("notion") - before_requests
            # the first three requests went at once, the others at 3/s: two thirds of a
            # second less than a bucket of one would take for them, not a request faster
            took = clock.monotonic() - started
            assert took == pytest.approx((requests - 3) / 3.0, abs=1e-3)


def test_airtable_pulls_keep_the_published_rate_without_a_429() -> None:
    org = SampleOrg.generate(seed=22, members=12, signals=SIGNALS, malformed_rate=0.0)
    clock = FrozenClock()
    with Emulator(seed=22, limits=Limits(), clock=clock, sample=org,
                  workspaces=("airtable",)) as emu:
        config, env = _config(emu, "airtable"), _env(emu)
        for process in ("first", "second, started as the first ends"):
            before_requests = emu.stats.total("airtable")
            started = clock.monotonic()
            source = AirtableSource.from_config(config, "signals", env=env,
                                                limiters=frozen_pacing(clock))
            assert sum(1 for _ in source.fetch()) == SIGNALS
            assert emu.stats.rate_limited["airtable"] == 0, process  # no 30 s lock either
            requests = emu.stats.total("airtable") - before_requests
            # one request at once, the others at 5/s: Airtable publishes no burst
            took = clock.monotonic() - started
            assert took == pytest.approx((requests - 1) / 5.0, abs=1e-3)


def test_a_burst_larger_than_the_service_allows_is_refused() -> None:
    """The emulator is strict enough for the test above to mean something: a client
    whose burst exceeded the service's would meet a 429 (then wait it out)."""
    org = SampleOrg.generate(seed=23, members=12, signals=SIGNALS)
    clock = FrozenClock()
    limits = Limits(notion_burst=notion_connector.BURST - 1)
    with Emulator(seed=23, limits=limits, clock=clock, sample=org,
                  workspaces=("notion",)) as emu:
        source = NotionSource.from_config(_config(emu, "notion"), "signals", _env(emu),
                                          progress=False, limiters=frozen_pacing(clock))
        assert sum(1 for _ in source.fetch()) == SIGNALS
        assert emu.stats.rate_limited["notion"] >= 1


# ---------------------------------------------------------------------------
# Only the mapped properties and fields


def test_the_emulator_sees_notion_queries_ask_for_the_mapped_properties_only(
        seen: list[tuple[str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    org = SampleOrg.generate(seed=24, members=12, signals=250)
    with Emulator(seed=24, limits=Limits.unlimited(), sample=org,
                  workspaces=("notion",)) as emu:
        _record(emu, seen, monkeypatch)
        source = NotionSource.from_config(_config(emu, "notion"), "signals", _env(emu),
                                          progress=False)
        frame = source.pull_frame()
        assert len(frame) + len(frame.attrs["quarantine"]) == 250
        mapped = {ref.id for column, ref in source.fields.items()
                  if column not in META_COLUMNS}
        schema = emu.notion.ws.data_sources[source.data_source_id].properties
        every = {prop.id for prop in schema.values()}
        assert mapped < every  # the data source has properties leadsync does not map
        queries = [query for route, query in seen if route == "notion.data_sources.query"]
        assert len(queries) == 3
        for query in queries:
            asked = query.get("filter_properties", []) + query.get("filter_properties[]", [])
            assert len(asked) == len(set(asked))
            assert {schema_id(schema, name) for name in asked} == mapped

        seen.clear()
        assert len(source.list_ids()) == 250
        (query,) = [q for route, q in seen if route == "notion.data_sources.query"][:1]
        assert query["filter_properties"] == ["title"]


def schema_id(schema: Any, asked: str) -> str:
    """The id of the property ``asked`` names (Notion takes names or ids, unencoded)."""
    from urllib.parse import unquote

    for prop in schema.values():
        if unquote(prop.id) == asked or prop.name == asked:
            return str(prop.id)
    raise AssertionError(f"the query asked for {asked!r}, no property of the data source")


def test_the_emulator_sees_airtable_listings_ask_for_the_mapped_fields_only(
        seen: list[tuple[str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    org = SampleOrg.generate(seed=25, members=12, signals=250, malformed_rate=0.0)
    with Emulator(seed=25, limits=Limits.unlimited(), sample=org,
                  workspaces=("airtable",)) as emu:
        _record(emu, seen, monkeypatch)
        source = AirtableSource.from_config(_config(emu, "airtable"), "signals",
                                            env=_env(emu))
        frame = source.pull_frame()
        assert len(frame) + len(frame.attrs["quarantine"]) == 250
        mapped = {f.id for column, f in source.fields.items() if column not in META_COLUMNS}
        table = emu.airtable.table(emu.airtable.sample_base_id, "Signals")
        assert mapped < {f.id for f in table.fields}  # fields leadsync does not map
        # and the table's last-modified field: each row's edit time (its meta column)
        (edited,) = [f.id for f in table.fields if f.type == "lastModifiedTime"]
        listings = [query for route, query in seen if route == "airtable.records.list"]
        assert len(listings) == 3
        for query in listings:
            asked = query["fields[]"]
            assert len(asked) == len(set(asked))
            assert set(asked) == mapped | {edited}
            assert query["returnFieldsByFieldId"] == ["1"]
