"""The monthly report job: the store in, the month's report files out (``leadsync report``).

:func:`run_report` reads the local store through its public methods (the
nightly sync keeps it fresh), builds the month's report as of the end of the
month in UTC, and writes it with :func:`~leadsync.reports.write.write_report`;
with ``push`` it also pushes it into the workspace
(:func:`~leadsync.reports.writers.push.push_report`: a Notion page, or the
Reports and Scores rows in Airtable), recording what it wrote in the store.
A ``dry_run`` push writes nothing, not even the local files.
The time of the run comes in as ``now`` (the command passes the clock), so
the job is reproducible in tests.

Errors, as the command turns them into exit codes: a month that is malformed,
not over yet or in the future is a :class:`~leadsync.errors.ConfigError`
(exit 2); a store that is missing or has nothing to report on (no successful
sync, no members or signals) a :class:`~leadsync.errors.StoreError` (exit 1).
A store whose last successful sync is older than :data:`STALE_AFTER` is
reported on, with a warning in the result and in the report.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from leadsync.connectors.base import Limiters
from leadsync.reports.links import row_links
from leadsync.reports.model import SyncStamp, last_complete_month, month_end
from leadsync.reports.report import LeadershipReport, build_report
from leadsync.reports.write import FORMATS, WrittenReport, write_report
from leadsync.reports.writers.ledger import PushOutcome

from leadsync.config import Config
from leadsync.errors import ConfigError, StoreError
from leadsync.store import open_store, store_path
from leadsync.tables import TABLES

__all__ = ["STALE_AFTER", "ReportRun", "member_records", "parse_month", "read_frames",
           "read_report", "run_report"]

#: A store last synced longer ago than this is warned about.
STALE_AFTER = dt.timedelta(days=3)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str | None, *, now: dt.datetime) -> pd.Period:
    """``"2026-10"`` as a month that is over by ``now``; None means the last complete month."""
    latest: pd.Period = last_complete_month(now)
    if text is None:
        return latest
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ConfigError(f"{text!r} is not a month like 2026-10", key="--month")
    month: pd.Period = pd.Period(text.strip(), freq="M")
    if month > latest:
        when = "is not over yet" if month == latest + 1 else "is in the future"
        raise ConfigError(f"{month} {when}; the last complete month is {latest}",
                          key="--month")
    return month


@dataclass
class ReportRun:
    """What :func:`run_report` did: the report, the files, the pushes and the warnings."""

    report: LeadershipReport
    written: WrittenReport | None
    warnings: list[str] = field(default_factory=list)
    pushed: list[PushOutcome] = field(default_factory=list)

    def describe(self) -> str:
        lines = []
        month = self.report.title.split(": ", 1)[1]
        if self.written is not None:
            files = ", ".join(str(p) for p in self.written.files.values())
            charts = (f" and {len(self.written.charts)} chart images" if self.written.charts
                      else "")
            lines.append(f"wrote the {month} report (as of {self.report.as_of:%Y-%m-%d}, "
                         f"end of day UTC) to {files}{charts}")
        lines += [outcome.describe() for outcome in self.pushed]
        return "\n".join(lines)

    def to_json(self) -> str:
        sync = self.report.sync
        return json.dumps({
            "status": "ok",
            "month": self.report.month,
            "as_of": self.report.as_of.isoformat(),
            **(self.written.to_dict() if self.written is not None else
               {"directory": None, "files": {}, "charts": []}),
            "sync": {"run_id": sync.run_id, "finished_at": sync.finished_at.isoformat()}
            if sync else None,
            "warnings": self.warnings,
            "headline": self.report.headline,
            "pushed": [outcome.to_dict() for outcome in self.pushed],
        }, indent=2)


def _last_sync(runs: pd.DataFrame) -> SyncStamp | None:
    done = runs[(runs["status"] == "ok") & runs["finished_at"].notna()]
    if done.empty:
        return None
    newest = done.sort_values("id").iloc[-1]
    return SyncStamp(int(newest["id"]), pd.Timestamp(newest["finished_at"]))


def read_frames(config: Config) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, SyncStamp]:
    """``config``'s tables from its store, the quarantine, and the sync they reflect.

    Raises :class:`~leadsync.errors.StoreError` when the store has nothing to
    report on (no finished sync, no members or signals).
    """
    path = store_path(config)
    with open_store(path) as store:
        sync = _last_sync(store.runs(1000))
        if sync is None:
            raise StoreError(f"{path}: nothing to report on, no sync has finished yet; "
                             "run `leadsync sync` first")
        frames = {name: store.frame(name) for name in config.tables if name in TABLES}
        quarantine = store.quarantine()
    if frames["members"].empty or frames["signals"].empty:
        empty = "members" if frames["members"].empty else "signals"
        raise StoreError(f"{path}: nothing to report on, the store has no {empty}; "
                         "run `leadsync sync` first")
    return frames, quarantine, sync


def read_report(config: Config, *, month: pd.Period,
                now: dt.datetime | None) -> LeadershipReport:
    """The report for ``month`` from ``config``'s store, as of the end of the month (UTC).

    ``now`` stamps the report and decides whether the store is stale; None
    (the demo, a fixed example) leaves both out.
    """
    frames, quarantine, sync = read_frames(config)
    return build_report(
        frames, as_of=month_end(month),
        impact_weights=config.scoring.impact_weights,
        half_life_days=config.scoring.half_life_days,
        quarantine=quarantine, sync=sync, generated_at=now, stale_after=STALE_AFTER,
        row_url=row_links(config),
    )


def member_records(config: Config) -> dict[str, str] | None:
    """Member id -> the member's Airtable record id (its ``source_id``), for the Scores
    rows' link; None for a Notion workspace."""
    if config.workspace.kind != "airtable" or "members" not in config.tables:
        return None
    with open_store(store_path(config)) as store:
        members = store.frame("members")
    return {str(m): str(s) for m, s in zip(members["member_id"], members["source_id"],
                                           strict=True) if pd.notna(m) and pd.notna(s)}


def run_report(
    config: Config,
    *,
    month: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    formats: Iterable[str] = ("html", "md"),
    now: dt.datetime,
    push: bool = False,
    dry_run: bool = False,
    force: bool = False,
    env: Mapping[str, str] | None = None,
    progress: bool | None = None,
    limiters: Limiters | None = None,
) -> ReportRun:
    """Build ``month``'s report (default: the last complete one), write it and, with
    ``push``, push it into the workspace.

    ``out_dir`` defaults to ``leadsync-reports/<month>`` in the working
    directory. ``dry_run`` (with ``push``) says what the push would do and
    writes nothing at all; ``force`` rewrites the page or rows even when the
    content is unchanged (bringing back blocks or rows deleted by hand).
    See the module doc for the errors.
    """
    chosen = list(formats)
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ConfigError(f"{','.join(chosen) or 'nothing'}: formats are "
                          f"{', '.join(FORMATS)} (comma-separated)", key="--format")
    if dry_run and not push:
        raise ConfigError("goes with --push (it says what a push would do)",
                          key="--dry-run")
    period = parse_month(month, now=now)
    if push:
        config.token(env)  # a missing token is a usage error before anything is built
    report = read_report(config, month=period, now=now)
    out = Path(out_dir) if out_dir is not None else Path("leadsync-reports") / str(period)
    written = None if dry_run else write_report(report, out, formats=chosen)
    pushed: list[PushOutcome] = []
    if push:
        from leadsync.reports.writers.push import ledger_store, push_report

        from leadsync.store_hooks import CrashPoints

        records = member_records(config)
        with ledger_store(config, dry_run=dry_run) as store:
            pushed = push_report(report, config, document=report.document, store=store,
                                 env=env, dry_run=dry_run, force=force, progress=progress,
                                 checkpoint=CrashPoints.from_env(), limiters=limiters,
                                 member_records=records)
    warnings = list(report.warnings)
    for outcome in pushed:
        warnings += outcome.notes
    return ReportRun(report, written, warnings, pushed)
