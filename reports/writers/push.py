"""Push a report or promotion packets into the configured workspace: the writers' entry points.

:func:`push_report` sends the month's report where ``[workspace] kind``
says: a Notion page under ``[report] notion_parent_page``, or rows of the
Reports and Scores tables in the Airtable base. :func:`push_packets` does
the same for promotion packets (a Notion page each, a row each in the
Packets table). Both record what they wrote in the store (``store``; None:
in memory only), so pushing again updates in place, and both are pure
layout (:mod:`.notion_blocks`, :mod:`.airtable_rows`) over one writer per
service (:mod:`.notion_page`, :mod:`.airtable_push`).

``dry_run`` reads what it needs (the page, its blocks; the record of the
month) and says what would be created, updated and deleted; nothing is
written, in the workspace or in the store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from leadsync.connectors.base import Limiters, RetryPolicy
from leadsync.connectors.notion import NotionAPI, parse_notion_id

from leadsync.config import Config
from leadsync.errors import ConfigError
from leadsync.store import Store, SyncLock, open_store, store_path

from ..document import Document
from ..html import render_document_html
from ..model import ReportModel
from ..packet import PromotionPacket
from ..packet_compose import compose_packet, packet_anchor
from .airtable_rows import packet_row
from .ledger import Checkpoint, Ledger, PushOutcome, no_checkpoint
from .notion_blocks import document_blocks, document_digest, page_title
from .notion_page import NotionPageWriter

__all__ = ["PushTarget", "ledger_store", "notion_parent", "push_document_notion",
           "push_packets", "push_report"]

log = logging.getLogger("leadsync.reports.writers")


@dataclass(frozen=True)
class PushTarget:
    """One document to push: what it is (``kind``, ``key``) and its layout."""

    kind: str
    key: str
    document: Document


def notion_parent(config: Config) -> str:
    """The parent page reports and packets go under, as a dashed id."""
    ref = config.report.notion_parent_page
    if not ref:
        raise ConfigError("not set: the Notion page the monthly reports and packets go under "
                          "(its URL or id, shared with the integration)",
                          key="report.notion_parent_page", path=config.source)
    try:
        return str(parse_notion_id(ref))
    except ConfigError as exc:
        raise ConfigError(str(exc), key="report.notion_parent_page",
                          path=config.source) from None


def notion_api(config: Config, env: Mapping[str, str] | None,
               limiters: Limiters | None) -> NotionAPI:
    return NotionAPI(config.token(env), base_url=config.workspace.notion_base_url,
                     rps=config.limits.notion_rps,
                     policy=RetryPolicy(max_wait=config.sync.max_wait_seconds),
                     limiters=limiters)


def push_document_notion(
    api: NotionAPI,
    parent: str,
    target: PushTarget,
    *,
    store: Store | None,
    dry_run: bool = False,
    force: bool = False,
    progress: bool | None = False,
    checkpoint: Checkpoint = no_checkpoint,
    icon: str = "📊",
) -> PushOutcome:
    """One document as one page under ``parent`` (see :mod:`.notion_page`)."""
    blocks = document_blocks(target.document)
    title = page_title(target.document)
    ledger = Ledger(store, "notion", target.kind, target.key, parent, dry_run=dry_run)
    writer = NotionPageWriter(api, parent, checkpoint=checkpoint, progress=progress, icon=icon)
    return writer.push(ledger, kind=target.kind, key=target.key, title=title, blocks=blocks,
                       digest=document_digest(title, blocks), dry_run=dry_run, force=force)


def push_report(
    report: ReportModel,
    config: Config,
    *,
    document: Document,
    store: Store | None,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: bool | None = False,
    checkpoint: Checkpoint = no_checkpoint,
    limiters: Limiters | None = None,
    member_records: Mapping[str, str] | None = None,
) -> list[PushOutcome]:
    """Push ``report`` (laid out as ``document``) into ``config``'s workspace.

    ``member_records`` (member id -> the member's Airtable record id) links
    each Scores row to its member when the members table is in the same base.
    """
    if config.workspace.kind == "notion":
        parent = notion_parent(config)
        with notion_api(config, env, limiters) as api:
            return [push_document_notion(api, parent, PushTarget("report", report.month,
                                                                 document),
                                         store=store, dry_run=dry_run, force=force,
                                         progress=progress, checkpoint=checkpoint)]
    from .airtable_push import push_report_airtable

    return push_report_airtable(report, config, document=document, store=store, env=env,
                                dry_run=dry_run, force=force, progress=progress,
                                checkpoint=checkpoint, limiters=limiters,
                                member_records=member_records)


def push_packets(
    packets: Sequence[PromotionPacket],
    config: Config,
    *,
    store: Store | None,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: bool | None = False,
    checkpoint: Checkpoint = no_checkpoint,
    limiters: Limiters | None = None,
) -> list[PushOutcome]:
    """Push each packet: a Notion page under the parent page, or a row of the Packets table."""
    if not packets:
        return []
    if config.workspace.kind == "notion":
        parent = notion_parent(config)
        with notion_api(config, env, limiters) as api:
            return [push_document_notion(api, parent, PushTarget("packet", p.key,
                                                                 compose_packet(p)),
                                         store=store, dry_run=dry_run, force=force,
                                         progress=progress, checkpoint=checkpoint, icon="🗂️")
                    for p in packets]
    from .airtable_push import PacketRow, push_packets_airtable

    rows = [PacketRow(p.key, p.title, packet_row(p), render_document_html(
        compose_packet(p), anchor=packet_anchor(p)).encode("utf-8")) for p in packets]
    return push_packets_airtable(rows, config, store=store, env=env, dry_run=dry_run,
                                 force=force, progress=progress, checkpoint=checkpoint,
                                 limiters=limiters)


@contextmanager
def ledger_store(config: Config, *, dry_run: bool) -> Iterator[Store]:
    """The store a push records into, under the push lock (one push at a time; a second
    gets :class:`~leadsync.errors.StoreLockedError`, exit 75). A dry run reads it only."""
    path = store_path(config)
    if dry_run:
        with open_store(path) as store:
            yield store
        return
    with SyncLock(path, activity="push"), Store.open(path, writable=True) as store:
        yield store
