"""``leadsync demo``: the whole job against the emulator, no account needed.

1. start the emulator with the sample organisation, at the real rate limits;
2. write a ``leadsync.toml`` pointing at it and run the first sync into a store;
3. let a day pass upstream (signals added, one edited, one deleted) and run the
   nightly incremental sync, which fetches only what changed;
4. build the leadership-sync report for the sample's last month (October
   2026) from the store and print it; save it as HTML (charts embedded) and
   Markdown (charts beside it) next to the store, owner-only, through the
   same writer as ``leadsync report``. A notebook can open the store with
   ``leadsync.open_store("<out>/leadsync.db")``;
5. push the report into the emulated workspace as ``leadsync report --push``
   does (Notion: a page of native blocks under the config's parent page;
   Airtable: the month's Reports row and a Scores row per member), say where
   it went, and push it again to show an unchanged month writes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from leadsync.config import TOKEN_VARIABLES, Config, load_config
from leadsync.emulator import Emulator, Limits, SampleOrg
from leadsync.reports import render_text, write_report
from leadsync.reports.job import member_records, read_report
from leadsync.reports.writers.ledger import PushOutcome
from leadsync.reports.writers.push import ledger_store, push_report
from leadsync.sync import SyncSummary, run_sync

__all__ = ["DemoResult", "run_demo"]

Kind = Literal["notion", "airtable"]


@dataclass
class DemoResult:
    """Where the demo left its files, and what the two syncs did."""

    out_dir: Path
    config_path: Path
    store_path: Path
    report_path: Path
    html_path: Path
    first: SyncSummary
    nightly: SyncSummary
    report_text: str
    #: The push into the emulated workspace, then the unchanged re-push.
    pushed: list[PushOutcome]


def _fresh_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _a_day_passes(emu: Emulator, kind: Kind, org: SampleOrg) -> str:
    """Upstream edits as a team makes them: three new signals, one edited, one deleted."""
    members = [m for m in org.members if not m["is_leader"]][:3]
    leader = next(m for m in org.members if m["is_leader"])
    day = org.as_of - dt.timedelta(days=1)
    new = [
        ("Summarized the incident review for the APAC team",
         "Summarizes meeting outcomes for timezone gaps", "Communication", "High"),
        ("Proposed splitting the payments service", "Proposes architectural improvements",
         "Technical", "Medium"),
        ("Coordinated the hand-off of the on-call rotation",
         "Coordinates hand-offs between teams", "Operational", "Medium"),
    ]
    edited = org.signals[4]["signal_id"]
    deleted = org.signals[6]["signal_id"]
    if kind == "notion":
        notion = emu.notion
        users = notion.member_user_ids
        notion.create_data_source_rows(notion.data_source_ids["signals"], [
            {"Summary": summary, "Team Member": [users[m["member_id"]]], "Signal Type": kind_,
             "Indicator": indicator, "Impact": impact, "Date": day,
             "Evidence": f"https://docs.acme.example/adr/{900 + i}",
             "Observed by": [users[leader["member_id"]]]}
            for i, (m, (summary, indicator, kind_, impact)) in enumerate(zip(members, new,
                                                                             strict=False))
        ])
        notion.edit_page(notion.page_for["signals"][edited], {"Impact": "High"})
        notion.trash_page(notion.page_for["signals"][deleted])
    else:
        airtable = emu.airtable
        base, table = airtable.sample_base_id, airtable.sample_table_ids["signals"]
        airtable.insert_records(base, table, [
            {"Summary": summary, "Team Member": [airtable.member_record_ids[m["member_id"]]],
             "Signal Type": kind_, "Indicator": indicator, "Impact": impact,
             "Date": f"{day.isoformat()}T00:00:00.000Z",
             "Evidence": f"https://docs.acme.example/adr/{900 + i}",
             "Observed by": {"id": airtable.member_user_ids[leader["member_id"]]}}
            for i, (m, (summary, indicator, kind_, impact)) in enumerate(zip(members, new,
                                                                             strict=False))
        ])
        airtable.edit_record(base, table, airtable.record_for["signals"][edited],
                             {"Impact": "High"})
        airtable.delete_records(base, table, [airtable.record_for["signals"][deleted]])
    return (f"3 signals added, {edited} raised to High impact, {deleted} deleted "
            "(deletions are caught by the weekly reconciliation, `leadsync sync --full`)")


def run_demo(
    *,
    kind: Kind = "notion",
    seed: int = 0,
    members: int = 60,
    out_dir: str | Path = "leadsync-demo",
    fast: bool = False,
    progress: bool | None = None,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Run the demo; ``fast`` switches the emulator's rate limits off."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store_path = out / "leadsync.db"
    config_path = out / "leadsync.toml"
    _fresh_store(store_path)

    org = SampleOrg.generate(seed=seed, members=members)
    limits = Limits.unlimited() if fast else Limits()
    with Emulator(seed=seed, limits=limits, sample=org) as emu:
        token = emu.notion_token if kind == "notion" else emu.airtable_token
        env = {TOKEN_VARIABLES[kind]: token}
        # the store path in a config is relative to the config file
        text = emu.config_toml(kind, store_path=store_path.name)
        if fast:  # the emulator is not limiting, so neither should leadsync
            text += "\n[limits]\nnotion_rps = 1000.0\nairtable_rps = 1000.0\n"
        config_path.write_text(text, encoding="utf-8")
        config = load_config(config_path)
        rate = "no rate limits" if fast else (
            "Notion's 3 requests/s" if kind == "notion" else "Airtable's 5 requests/s per base")
        echo(f"[1/5] Emulated {kind} workspace at {emu.url} ({rate}): {len(org.members)} "
             f"members in {len({m['timezone'] for m in org.members})} time zones, "
             f"{len(org.signals)} signals over 12 months.")
        echo(f"      Config written to {config_path}.")

        first = run_sync(config, env=env, progress=progress)
        echo(f"[2/5] First sync: {first.describe().splitlines()[0]}")

        change = _a_day_passes(emu, kind, org)
        echo(f"      A day passes upstream: {change}.")
        nightly = run_sync(config, env=env, progress=progress)
        echo(f"[3/5] Nightly sync: {nightly.describe().splitlines()[0]}")

        # The sample's data runs to its as-of date: report on the month before it.
        month = pd.Period(org.as_of, freq="M") - 1
        report = read_report(config, month=month, now=None)
        written = write_report(report, out)
        text = render_text(report)
        echo(f"[4/5] Report for {month.strftime('%B %Y')} (also saved to "
             f"{written.files['html']} and {written.files['md']}):")
        echo("")
        echo(text)

        records = member_records(config)
        pushed: list[PushOutcome] = []
        for _ in range(2):  # the second push finds the month unchanged
            with ledger_store(config, dry_run=False) as store:
                pushed += push_report(report, config, document=report.document, store=store,
                                      env=env, progress=progress, member_records=records)
        echo(f"[5/5] Pushed into the emulated {kind} workspace: {pushed[0].describe()}")
        echo(f"      In the emulator: {_where(emu, kind, config, pushed[0])}")
        echo(f"      Pushed again: {pushed[1].describe()}")
    echo(f"In a notebook: leadsync.open_store({str(store_path)!r}).frame('signals')")
    return DemoResult(out, config_path, store_path, written.files["md"], written.files["html"],
                      first, nightly, text, pushed)


def _where(emu: Emulator, kind: Kind, config: Config, outcome: PushOutcome) -> str:
    """The pushed page or row as the emulator serves it (the outcome's URL is the real
    service's, which the emulator's ids do not reach)."""
    # outcome.url: https://www.notion.so/<page id> or https://airtable.com/<base>/<tbl>/<rec>
    tail = outcome.url.rsplit("/", 3)
    if kind == "notion":
        return (f"GET {emu.url}/v1/blocks/{uuid.UUID(tail[-1])}/children (the page "
                f"{outcome.title!r} under the parent page {config.report.notion_parent_page})")
    base, table, record = tail[-3:]
    return (f"GET {emu.url}/v0/{base}/{table}/{record} (the {outcome.key} row of the "
            f"Reports table; the Scores table holds a row per member)")
