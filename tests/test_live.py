"""Read-only checks against a real Notion or Airtable workspace (skipped by default).

They run only when asked for, with a config for a real workspace and its
token in the environment::

    LEADSYNC_LIVE=1 LEADSYNC_LIVE_CONFIG=/path/to/leadsync.toml NOTION_TOKEN=… \\
        .venv/bin/python -m pytest -m live

They only read the workspace (pulls and id listings): the store they fill is a
temporary file, whatever ``[store] path`` says. CI never sets ``LEADSYNC_LIVE``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from leadsync import open_store
from leadsync.config import Config, parse_config
from leadsync.errors import AuthError
from leadsync.secrets import Secret
from leadsync.sources import open_source
from leadsync.sync import run_sync, tables_to_sync
from leadsync.tables import check_frame

pytestmark = pytest.mark.live


@pytest.fixture
def live_config(tmp_path: Path) -> Config:
    path = os.environ.get("LEADSYNC_LIVE_CONFIG")
    if not path:
        pytest.skip("set LEADSYNC_LIVE_CONFIG to the leadsync.toml of a real workspace")
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    data.setdefault("store", {})["path"] = str(tmp_path / "live.db")
    return parse_config(data, path)


def test_a_first_sync_then_a_quiet_night(live_config: Config) -> None:
    tables = tables_to_sync(live_config)
    first = run_sync(live_config, progress=False)
    assert first.status == "ok"
    assert first.totals["rate_limited"] == 0  # the client-side limiter kept under the rate
    with open_store(live_config.store.path) as store:
        for table in tables:
            frame = store.frame(table)
            assert check_frame(table, frame) == []
            assert frame["source_id"].is_unique
    night = run_sync(live_config, progress=False)
    assert night.status == "ok"
    # no reconciliation due: each table sends its query and nothing else, one page
    # a hundred rows read (rows edited within the overlap of the first run come again)
    for table in night.tables:
        read = table.added + table.updated + table.unchanged
        assert table.requests - table.rate_limited <= max(1, -(-read // 100)), table
        assert not table.reconciled


def test_a_wrong_token_is_an_auth_error_that_does_not_show_it(live_config: Config) -> None:
    table = tables_to_sync(live_config)[0]
    token = "ntn_" + "0" * 46 if live_config.workspace.kind == "notion" else "pat" + "0" * 60
    env = {"NOTION_TOKEN": token, "AIRTABLE_TOKEN": token}
    with pytest.raises(AuthError) as caught:
        open_source(live_config, table, env=env)  # resolving the mapping is a request
    assert token not in str(caught.value)
    assert token not in repr(Secret(token))
