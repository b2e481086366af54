"""The promotion packet job: the store in, packets out (``leadsync packet``).

:func:`run_packets` reads the store, finds the nominees (a name or an id
each, or every open nomination), builds each packet as of the end of the
month (:func:`~leadsync.reports.packet.build_packet`), writes it as HTML and
Markdown (``packet-<member id>.html`` / ``.md``, owner-only, atomically),
and with ``push`` pushes it into the workspace like the report.

Errors: a name that matches no member, or several, is a
:class:`~leadsync.errors.ConfigError` listing the candidates (exit 2), as is
``--all`` without a reviews table; a store with nothing to report on is a
:class:`~leadsync.errors.StoreError` (exit 1).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from leadsync.connectors.base import Limiters

from leadsync.config import Config
from leadsync.errors import ConfigError

from .job import parse_month, read_frames
from .links import row_links
from .model import month_end
from .packet import PromotionPacket, build_packet, open_nominations
from .packet_compose import compose_packet, packet_anchor, packet_slug
from .write import FORMATS, WrittenReport, write_document
from .writers.ledger import PushOutcome

__all__ = ["PacketRun", "resolve_member", "run_packets"]

#: Candidates listed when a name is unknown or ambiguous.
CANDIDATES = 8


def resolve_member(members: pd.DataFrame, query: str) -> str:
    """The member id ``query`` names: an id, else a name (case-insensitive), else a
    :class:`ConfigError` listing the members it could mean."""
    text = query.strip()
    ids = members["member_id"].astype("object")
    names = members["name"].astype("object")
    if (ids == text).any():
        return text
    folded = names.map(lambda n: n.casefold() if isinstance(n, str) else "")
    exact = members[folded == text.casefold()]

    def listed(rows: pd.DataFrame) -> str:
        shown = [f"{n} ({m})" for m, n in zip(rows["member_id"], rows["name"], strict=True)]
        more = len(shown) - CANDIDATES
        return ", ".join(shown[:CANDIDATES]) + (f" and {more} more" if more > 0 else "")

    if len(exact) == 1:
        return str(exact["member_id"].iloc[0])
    if len(exact) > 1:
        raise ConfigError(f"{len(exact)} members are named {text!r}: {listed(exact)}; give the "
                          "member id instead", key="MEMBER")
    partial = members[folded.map(lambda n: text.casefold() in n)]
    if partial.empty:
        close = difflib.get_close_matches(text.casefold(), list(folded), n=CANDIDATES,
                                          cutoff=0.6)
        partial = members[folded.isin(close)]
    if partial.empty:
        raise ConfigError(f"no member is named or has the id {text!r}", key="MEMBER")
    raise ConfigError(f"no member is named {text!r}; did you mean {listed(partial)}?",
                      key="MEMBER")


@dataclass
class PacketRun:
    """What :func:`run_packets` did: the packets, their files, the pushes."""

    packets: list[PromotionPacket]
    written: dict[str, WrittenReport] = field(default_factory=dict)
    pushed: list[PushOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if not self.packets:
            return "no open nomination in the reviews table: no packet to write"
        lines = []
        for packet in self.packets:
            written = self.written.get(packet.member_id)
            if written is not None:
                files = ", ".join(str(p) for p in written.files.values())
                lines.append(f"wrote the packet of {packet.name} ({packet.member_id}, "
                             f"{packet.status}) as of {packet.as_of:%Y-%m-%d} to {files}")
        lines += [outcome.describe() for outcome in self.pushed]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({
            "status": "ok",
            "packets": [{
                "member_id": p.member_id, "name": p.name, "month": p.month,
                "review_id": p.review_id, "status": p.status,
                "weighted_total": p.weighted_total,
                "files": ({k: str(v) for k, v in self.written[p.member_id].files.items()}
                          if p.member_id in self.written else {}),
            } for p in self.packets],
            "pushed": [o.to_dict() for o in self.pushed],
            "warnings": self.warnings,
        }, indent=2)


def run_packets(
    config: Config,
    *,
    members: Sequence[str] = (),
    all_open: bool = False,
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
) -> PacketRun:
    """Build, write and (``push``) push the packets of ``members`` (names or ids) or, with
    ``all_open``, of every open nomination, as of the end of ``month``."""
    chosen = list(formats)
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ConfigError(f"{','.join(chosen) or 'nothing'}: formats are "
                          f"{', '.join(FORMATS)} (comma-separated)", key="--format")
    if dry_run and not push:
        raise ConfigError("goes with --push (it says what a push would do)",
                          key="--dry-run")
    if not members and not all_open:
        raise ConfigError("name a member (a name or an id), or give --all for every open "
                          "nomination", key="MEMBER")
    if members and all_open:
        raise ConfigError("give members or --all, not both", key="--all")
    if all_open and "reviews" not in config.tables:
        raise ConfigError("--all lists the open nominations of the reviews table; add "
                          "[tables.reviews] to the config", key="--all")
    period = parse_month(month, now=now)
    if push:
        config.token(env)
    frames, _, _ = read_frames(config)
    wanted = (open_nominations(frames["reviews"]) if all_open else
              list(dict.fromkeys(resolve_member(frames["members"], m) for m in members)))
    as_of = month_end(period)
    packets = [build_packet(frames, member, as_of=as_of, row_url=row_links(config),
                            impact_weights=config.scoring.impact_weights,
                            half_life_days=config.scoring.half_life_days)
               for member in wanted]
    run = PacketRun(packets)
    out = (Path(out_dir) if out_dir is not None
           else Path("leadsync-reports") / str(period) / "packets")
    if not dry_run:
        for packet in packets:
            run.written[packet.member_id] = write_document(
                compose_packet(packet), out, formats=chosen, anchor=packet_anchor(packet),
                stem=f"packet-{packet_slug(packet.member_id)}")
    if push and packets:
        from leadsync.store_hooks import CrashPoints

        from .writers.push import ledger_store, push_packets

        with ledger_store(config, dry_run=dry_run) as store:
            run.pushed = push_packets(packets, config, store=store, env=env, dry_run=dry_run,
                                      force=force, progress=progress,
                                      checkpoint=CrashPoints.from_env(), limiters=limiters)
    for packet in packets:
        run.warnings += [f"{packet.name}: {note}" for note in packet.notes]
    for outcome in run.pushed:
        run.warnings += outcome.notes
    return run
