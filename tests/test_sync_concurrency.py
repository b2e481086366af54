"""Two syncs started together: exactly one writes, the other exits 75; readers never fail."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from leadsync import open_store
from leadsync.config import load_config
from leadsync.sync import run_sync
from leadsync.testing import FAKE_TOKEN, FakeWorkspace, compare_store

ENV = {"NOTION_TOKEN": FAKE_TOKEN}

READER = r"""
import sys, time
from pathlib import Path
from leadsync import open_store

path, stop = Path(sys.argv[1]), Path(sys.argv[2])
reads, sizes, held = 0, set(), open_store(path)
while not stop.exists():
    # a fresh connection every other read, a long-lived one in between
    store = open_store(path) if reads % 2 else held
    frame = store.frame("signals")
    assert frame["source_id"].is_unique, "a row twice"
    assert len(frame) >= int(sys.argv[3]), f"rows lost: {len(frame)}"
    store.quarantine("signals"); store.runs(); store.cursor("signals")
    if store is not held:
        store.close()
    sizes.add(len(frame))
    reads += 1
print(reads, len(sizes))
"""


def test_one_writer_one_exit_75_and_a_reader_that_never_fails(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(members=6, signals=600, seed=21, page_size=25)
    config = tmp_path / "leadsync.toml"
    config.write_text(ws.config_toml("leadsync.db", full_every_days=0))
    path = tmp_path / "leadsync.db"
    run_sync(load_config(config), sources=ws.open_source, env=ENV, progress=False)
    with open_store(path) as store:
        live_before = len(store.frame("signals"))

    ws.tick(minutes=20)
    ws.mutate(random.Random(5), inserts=150, edits=300, deletes=0)
    ws.page_delay = 0.1  # every request takes a while: the two runs overlap
    saved = tmp_path / "workspace.json"
    ws.save(saved)
    env = {**os.environ, **ENV}
    env.pop("LEADSYNC_CRASH_AT", None)
    stop = tmp_path / "stop"

    reader = subprocess.Popen([sys.executable, "-c", READER, str(path), str(stop),
                               str(live_before)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    command = [sys.executable, "-m", "leadsync.testing", str(saved), "-c", str(config), "sync",
               "--json"]
    syncs = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        results = [p.communicate(timeout=120) for p in syncs]
    finally:
        stop.touch()
        reader_out, reader_err = reader.communicate(timeout=60)
        for p in syncs:
            p.kill()
    outcomes = [(p.pid, p.returncode, out, err)
                for p, (out, err) in zip(syncs, results, strict=True)]

    assert sorted(code for _, code, _, _ in outcomes) == [0, 75], outcomes
    (winner, _, out, _), = [o for o in outcomes if o[1] == 0]
    (_, _, _, refused), = [o for o in outcomes if o[1] == 75]
    message = refused.strip().splitlines()[-1]
    assert re.fullmatch(rf"leadsync: error: another leadsync sync is running \(pid {winner}, "
                        r"started \d\d:\d\d:\d\dZ\); exiting", message), message
    assert '"status": "ok"' in out

    with open_store(path) as store:
        runs = store.runs()
        assert list(runs["status"]) == ["ok", "ok"]  # the first sync, then the winner only
        assert runs["pid"][0] == winner
        assert compare_store(store, ws) == []

    assert reader.returncode == 0, reader_err
    reads, sizes = map(int, reader_out.split())
    assert reads > 0
    assert sizes >= 1


def test_two_leadsync_syncs_against_the_emulator_one_writes(tmp_path: Path) -> None:
    """The same race with the real console script and connector, paced at Notion's 3/s."""
    import shutil
    import tomllib

    from leadsync.config import parse_config
    from leadsync.emulator import Emulator, FrozenClock, Limits, SampleOrg

    leadsync = shutil.which("leadsync", path=str(Path(sys.executable).parent))
    assert leadsync is not None
    org = SampleOrg.generate(seed=5, members=8, signals=150)
    # frozen dates, real pacing: the syncs must last long enough to overlap
    with Emulator(seed=5, limits=Limits(), clock=FrozenClock(pacing=time.monotonic),
                  sample=org, workspaces=("notion",)) as emu:
        config = tmp_path / "leadsync.toml"
        config.write_text(emu.config_toml("notion", store_path="leadsync.db"))
        data = tomllib.loads(config.read_text())
        data["limits"] = {"notion_rps": 1000.0}
        path = tmp_path / "leadsync.db"
        env = {**os.environ, "NOTION_TOKEN": emu.notion_token}
        env.pop("LEADSYNC_CRASH_AT", None)
        with emu.paused_limits():  # the first sync, quickly
            fast = parse_config({**data, "store": {"path": str(path)}}, source="<test>")
            run_sync(fast, env=env, progress=False)
        with open_store(path) as store:
            live_before = len(store.frame("signals"))
        stop = tmp_path / "stop"
        reader = subprocess.Popen([sys.executable, "-c", READER, str(path), str(stop),
                                   str(live_before)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        syncs = [subprocess.Popen([leadsync, "-c", str(config), "sync", "--full"], cwd=tmp_path,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        try:
            results = [p.communicate(timeout=120) for p in syncs]
        finally:
            stop.touch()
            reader_out, reader_err = reader.communicate(timeout=60)
            for p in syncs:
                p.kill()
    codes = sorted(p.returncode for p in syncs)
    assert codes == [0, 75], results
    winner = next(p.pid for p in syncs if p.returncode == 0)
    refused = next(err for p, (_, err) in zip(syncs, results, strict=True) if p.returncode == 75)
    assert refused.strip().splitlines()[-1].startswith(
        f"leadsync: error: another leadsync sync is running (pid {winner}, started ")
    with open_store(path) as store:
        runs = store.runs()
        assert list(runs["status"]) == ["ok", "ok"]
        assert runs["pid"][0] == winner
    assert reader.returncode == 0, reader_err
    assert int(reader_out.split()[0]) > 0
