"""A service's rate limit covers every table of a run, not one client at a time.

The connectors and the emulator share one frozen clock (``frozen_pacing``): the
clients' waits move it, and the emulator's buckets refill by it, so "no 429" is
exact, whatever the machine's speed, and nothing sleeps.
"""

from __future__ import annotations

import tomllib

from leadsync.connectors.airtable import AirtableSource
from leadsync.connectors.base import shared_limiter
from leadsync.connectors.notion import BURST as NOTION_BURST
from leadsync.connectors.notion import NotionSource

from leadsync.config import parse_config
from leadsync.emulator import Emulator, FrozenClock, Limits, SampleOrg
from tests.conftest import frozen_pacing

TABLES = ("members", "signals", "milestones", "checkins", "rotations", "reviews", "projects")


def test_same_scope_same_limiter() -> None:
    assert shared_limiter("notion x abc", 3.0) is shared_limiter("notion x abc", 3.0)
    assert shared_limiter("notion x abc", 3.0) is not shared_limiter("notion x def", 3.0)


def test_notion_tables_pulled_back_to_back_meet_no_429() -> None:
    # A small burst makes the emulator strict: room for the connector's own burst
    # and one more request; seven clients pacing themselves separately would each
    # start with a full burst, together up to 21 at once, and be refused.
    org = SampleOrg.generate(seed=8, members=10, signals=60)
    limits = Limits(notion_rps=3.0, notion_burst=NOTION_BURST + 1, airtable_rps=None)
    clock = FrozenClock()
    pacing = frozen_pacing(clock)
    with Emulator(seed=8, limits=limits, clock=clock, sample=org,
                  workspaces=("notion",)) as emu:
        config = parse_config(tomllib.loads(emu.config_toml("notion")), "emu.toml")
        env = {"NOTION_TOKEN": emu.notion_token}
        rows = 0
        for table in TABLES:
            source = NotionSource.from_config(config, table, env, progress=False,
                                              limiters=pacing)
            rows += sum(1 for _ in source.fetch())
            assert source.stats.rate_limited == 0, table
        assert emu.stats.rate_limited["notion"] == 0
        assert rows == sum(len(records) for records in org.tables.values())
        # the waits were real pacing: the seven tables' requests took their time at 3/s
        # (all but the one burst of the shared limiter)
        requests = emu.stats.total("notion")
        assert clock.monotonic() - FrozenClock().monotonic() >= \
            (requests - NOTION_BURST) / 3.0 - 1e-6


def test_airtable_tables_of_one_base_share_its_limit() -> None:
    org = SampleOrg.generate(seed=9, members=10, signals=60)
    limits = Limits(notion_rps=None, airtable_rps=5.0, airtable_burst=2,
                    airtable_penalty_seconds=0.5, fractional_retry_after=True)
    clock = FrozenClock()
    pacing = frozen_pacing(clock)
    with Emulator(seed=9, limits=limits, clock=clock, sample=org,
                  workspaces=("airtable",)) as emu:
        config = parse_config(tomllib.loads(emu.config_toml("airtable")), "emu.toml")
        env = {"AIRTABLE_TOKEN": emu.airtable_token}
        for table in TABLES:
            source = AirtableSource.from_config(config, table, env=env, limiters=pacing)
            assert sum(1 for _ in source.fetch()) == len(org.table(table))
        assert emu.stats.rate_limited["airtable"] == 0
