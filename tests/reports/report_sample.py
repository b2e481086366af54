"""The sample organisation's canonical frames and its October 2026 report, fixed for tests.

The frames are built as a sync would store them (``build_frame`` on the
sample's records, each table's quarantine kept in ``attrs`` as a notebook
pull leaves it). The report is as of the end of October 2026 and stamped
with a fixed sync, so its renderings can be compared with a snapshot.
"""

from __future__ import annotations

import functools

import pandas as pd
from leadsync.reports import LeadershipReport, SyncStamp, build_report, month_end

from leadsync.emulator.sample import SampleOrg
from leadsync.tables import TABLES, build_frame

MONTH = "2026-10"
SYNC = SyncStamp(run_id=2, finished_at=pd.Timestamp("2026-11-01T03:17:00Z"))
MADE = pd.Timestamp("2026-11-02T08:00:00Z")


def sample_frames(seed: int = 0, members: int = 60) -> dict[str, pd.DataFrame]:
    org = SampleOrg.generate(seed=seed, members=members)
    built = build_frame("members", [{**m, "source_id": m["member_id"]} for m in org.members])
    frames = {"members": built.frame}
    frames["members"].attrs["quarantine"] = built.quarantine
    for name, records in org.tables.items():
        if name == "members":
            continue
        key = TABLES[name].key
        result = build_frame(name, [{**r, "source_id": r[key]} for r in records],
                             members=built.frame)
        frames[name] = result.frame
        frames[name].attrs["quarantine"] = result.quarantine
    return frames


def row_url(table: str, source_id: str) -> str:
    return f"https://workspace.example/{table}/{source_id}"


@functools.cache
def sample_report() -> LeadershipReport:
    """The October 2026 report of the sample organisation (seed 0, 60 members)."""
    return build_report(sample_frames(), as_of=month_end(MONTH), sync=SYNC, generated_at=MADE,
                        row_url=row_url)
