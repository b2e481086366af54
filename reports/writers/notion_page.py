"""A document pushed as one Notion page under a parent page, idempotently and kill-safely.

:class:`NotionPageWriter` keeps one page per ``(kind, key)`` (the month's
report, a nominee's packet) under the parent page, and on that page the
blocks leadsync owns. What it owns is recorded in the store's ``pushes``
table (:class:`~leadsync.reports.writers.ledger.Ledger`): the page id and
each top-level block's id with the digest of what it shows.

A push, in order:

1. **Unchanged?** The recorded page is read (one request). Still there,
   last push finished, same content digest: nothing else is sent.
2. **Gone?** A page trashed or deleted by a person is forgotten and created
   anew. With no page recorded (or a creation whose answer was never
   recorded), the parent's child pages are looked through for one this
   integration created with the same title, and that one is adopted:
   never a second page.
3. **New page**: created empty (the store first says a creation is under
   way), then filled.
4. **Changed page**: its top-level blocks are listed. Blocks a person added
   (created by someone else) are never touched. Leadsync's recorded blocks
   whose digest is in the new layout, in order, stay where they are; the
   new blocks are inserted after the block that precedes them (kept or just
   inserted), so a reader sees the old version until the new one is in:
   the page is never empty. The new layout is recorded, then the old blocks
   and any block this integration created that the record does not know
   (left by a killed push) are deleted.

Appends carry at most 100 blocks, two levels deep; a table of more than 99
rows is created with the first rows and the rest appended to it. Charts go
through the File Upload API (create, send, attach in an ``image`` block).

Requests go through :class:`~leadsync.connectors.notion.NotionAPI`: paced at
the integration's 3 requests/s (the limiter the readers share), retried,
and their errors classified like the readers'. An append or a page creation
whose answer is lost is not simply repeated blind: a creation looks for the
page first, and a push that repeated an append lists the page at the end
and deletes what the lost answer left twice. A token refused (403) is
reported naming the capability the integration lacks; the first write of
every push needs the capability every later one needs, so a refused token
writes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from difflib import SequenceMatcher
from typing import Any

from leadsync.connectors.base import retrying
from leadsync.connectors.notion import NotionAPI

from leadsync.errors import (
    AuthError,
    NotFoundError,
    ReportWriteError,
    RequestRejectedError,
    UpstreamError,
)
from leadsync.progress import Progress

from .ledger import Checkpoint, Ledger, PushOutcome, no_checkpoint
from .notion_blocks import APPEND_MAX, REQUEST_BLOCKS_MAX, NotionBlock, plain_text

__all__ = ["CAPABILITY_NAMES", "REQUEST_BYTES_MAX", "NotionPageWriter", "page_url"]

log = logging.getLogger("leadsync.reports.writers")

#: Bytes of JSON one append carries at most (Notion refuses requests over 500 KB).
REQUEST_BYTES_MAX = 400_000
#: What Notion calls each content capability in an integration's settings.
CAPABILITY_NAMES = {"read": "Read content", "insert": "Insert content",
                    "update": "Update content"}
#: Block types under a page that are pages or databases, never leadsync's content blocks.
_NOT_CONTENT = frozenset({"child_page", "child_database"})


class _Lost(Exception):
    """An answer lost on a write that is not repeated (escapes the retries)."""

    def __init__(self, error: UpstreamError):
        super().__init__(str(error))
        self.error = error


def page_url(page_id: str) -> str:
    """The page in Notion's web app (for whoever may read it)."""
    return f"https://www.notion.so/{page_id.replace('-', '')}"


class NotionPageWriter:
    """Pushes pages under ``parent_page`` through ``api`` (see the module doc)."""

    def __init__(self, api: NotionAPI, parent_page: str, *,
                 checkpoint: Checkpoint = no_checkpoint, progress: bool | None = False,
                 icon: str = "📊"):
        self.api = api
        self.parent = parent_page
        self.checkpoint = checkpoint
        self.progress = progress
        self.icon = icon
        self._bot: str | None = None
        #: An append's answer was lost and it was sent again: check the page at the end.
        self._doubt = False

    # -- requests ---------------------------------------------------------------------

    def _refused(self, exc: AuthError, capability: str, what: str) -> ReportWriteError:
        name = CAPABILITY_NAMES[capability]
        return ReportWriteError(
            f"notion: {what}: the integration lacks the \"{name}\" capability (in Notion: "
            f"Settings → Connections → the integration → Capabilities), or the parent page "
            f"is not shared with it; nothing was written ({exc.status}, {exc.code})")

    def _read(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return self.api.call(what, fn, **kwargs)
        except AuthError as exc:
            if exc.status == 403:
                raise self._refused(exc, "read", what) from exc
            raise

    def _write(self, what: str, capability: str, fn: Callable[..., Any], *,
               lost: str = "retry", **kwargs: Any) -> Any:
        """One write, paced; 429s waited out. An answer lost (5xx, timeout, reset) is
        retried (``lost="retry"``: the write is safe to repeat), retried with the page
        checked at the end (``"check"``: an append, see :attr:`_doubt`), or raised
        (``"raise"``: the next push cleans up what it may have left)."""
        def attempt() -> Any:
            try:
                return self.api.once(what, fn, **kwargs)
            except UpstreamError as exc:
                if lost == "raise":
                    raise _Lost(exc) from exc
                self._doubt = self._doubt or lost == "check"
                raise

        try:
            return retrying(attempt, policy=self.api.policy, limiter=self.api.limiter,
                            stats=self.api.stats, what=what, sleep=self.api.sleep)
        except _Lost as exc:
            raise exc.error from None
        except AuthError as exc:
            if exc.status == 403:
                raise self._refused(exc, capability, what) from exc
            raise

    def _bot_id(self, ledger: Ledger) -> str:
        if self._bot is None:
            recorded = ledger.entry.state.get("bot") if ledger.entry is not None else None
            if isinstance(recorded, str):
                self._bot = recorded
            else:
                me = self._read("the integration's user", self.api.client.users.me)
                self._bot = str(me["id"])
        return self._bot

    def _live_page(self, page_id: str) -> dict[str, Any] | None:
        """The page, or None when it is deleted or in the trash."""
        try:
            page: dict[str, Any] = self._read(f"page {page_id}", self.api.client.pages.retrieve,
                                              page_id=page_id)
        except NotFoundError:
            return None
        if page.get("in_trash") or page.get("archived"):
            return None
        return page

    def _children(self, block_id: str) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            kwargs: dict[str, Any] = {"block_id": block_id, "page_size": APPEND_MAX}
            if cursor:
                kwargs["start_cursor"] = cursor
            answer = self._read(f"children of {block_id}",
                                self.api.client.blocks.children.list, **kwargs)
            yield from answer.get("results") or ()
            cursor = answer.get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return

    def _find_page(self, ledger: Ledger, title: str) -> dict[str, Any] | None:
        """A page under the parent that this integration made with ``title`` (a push
        whose creation was never recorded), or None."""
        bot = self._bot_id(ledger)
        try:
            children = list(self._children(self.parent))
        except NotFoundError as exc:
            raise ReportWriteError(
                f"notion: the parent page {self.parent} ([report] notion_parent_page) was "
                "not found: share it with the integration (in Notion: ••• → Connections → "
                "add it) and check the id or URL; nothing was written") from exc
        for block in children:
            if (block.get("type") == "child_page"
                    and (block.get("child_page") or {}).get("title") == title
                    and (block.get("created_by") or {}).get("id") == bot
                    and not block.get("in_trash")):
                return self._live_page(str(block["id"]))
        return None

    # -- the push -------------------------------------------------------------------------

    def push(self, ledger: Ledger, *, kind: str, key: str,
             title: Sequence[dict[str, Any]], blocks: Sequence[NotionBlock], digest: str,
             dry_run: bool = False, force: bool = False) -> PushOutcome:
        """Make the page of ``(kind, key)`` show ``blocks`` under ``title``."""
        started = time.monotonic()
        before = self.api.stats.requests
        name = plain_text(title)
        self._doubt = False
        outcome = PushOutcome("notion", kind, key, name, "updated", dry_run=dry_run)
        entry = ledger.entry
        page: dict[str, Any] | None = None
        if entry is not None and entry.object_id:
            page = self._live_page(entry.object_id)
            if page is None:
                log.info("notion: the page of %s %s (%s) was deleted in Notion; creating it "
                         "again", kind, key, entry.object_id)
                outcome.notes.append("the page was deleted in Notion; created anew")
                ledger.forget()
                entry = None
            elif (entry.status == "done" and entry.content_hash == digest and not force):
                return outcome.with_(action="unchanged", url=page_url(str(page["id"])),
                                     blocks_kept=len(entry.state.get("blocks", [])),
                                     requests=self.api.stats.requests - before,
                                     seconds=time.monotonic() - started)
        if page is None:
            page = self._find_page(ledger, name)
            if page is not None:
                log.info("notion: adopting page %s (%s), made by an earlier push that was "
                         "not recorded", page["id"], name)
        if dry_run:
            return self._plan(ledger, outcome, page, blocks, started, before)
        if page is None:
            page = self._create(ledger, kind, key, title)
            outcome.pages_created = 1
            outcome.action = "created"
            listing: list[dict[str, Any]] = []
            state: dict[str, Any] = {"blocks": [], "bot": self._bot}
        else:
            page_id = str(page["id"])
            # The first write needs the capability later ones need: a token that may
            # not update is refused here, before anything changed.
            self._write(f"title of page {page_id}", "update", self.api.client.pages.update,
                        page_id=page_id, properties={"title": {"title": list(title)}})
            listing = list(self._children(page_id))
            state = dict(ledger.entry.state) if ledger.entry is not None else {"blocks": []}
            state["bot"] = self._bot_id(ledger)
            ledger.save(status="writing", object_id=page_id, state=state,
                        content_hash=ledger.entry.content_hash if ledger.entry else None)
        page_id = str(page["id"])
        outcome.url = page_url(page_id)
        layout, stale = self._layout(ledger, listing, blocks)
        kept = sum(1 for item in layout if item is not None)
        new_ids = self._insert(page_id, listing, layout, blocks, outcome)
        record = [[block_id, block.digest] for block_id, block in zip(new_ids, blocks,
                                                                      strict=True)]
        state["blocks"] = record
        ledger.save(status="writing", object_id=page_id, state=state, content_hash=digest)
        self.checkpoint("push-layout-saved", "notion")
        if self._doubt:  # an append was repeated: what its lost answer added is stale too
            mine = {block_id for block_id, _ in record}
            stale += [b for b in self._owned(self._children(page_id), ledger)
                      if b not in mine and b not in stale]
        for block_id in stale:
            self._delete(block_id)
            outcome.blocks_deleted += 1
            self.checkpoint("push-deleted", "notion")
        ledger.save(status="done", object_id=page_id, state=state, content_hash=digest)
        self.checkpoint("push-done", "notion")
        return outcome.with_(blocks_kept=kept, requests=self.api.stats.requests - before,
                             seconds=time.monotonic() - started)

    def _owned(self, listing: Iterator[dict[str, Any]] | Sequence[dict[str, Any]],
               ledger: Ledger) -> list[str]:
        """Top-level blocks of the listing this integration created (never child pages)."""
        bot = self._bot_id(ledger)
        return [str(b["id"]) for b in listing
                if (b.get("created_by") or {}).get("id") == bot
                and b.get("type") not in _NOT_CONTENT and not b.get("in_trash")]

    def _layout(self, ledger: Ledger, listing: Sequence[dict[str, Any]],
                blocks: Sequence[NotionBlock]) -> tuple[list[str | None], list[str]]:
        """For each new block the id of the block on the page it keeps (or None), and the
        blocks to delete once the new ones are in."""
        owned = self._owned(listing, ledger) if listing else []
        recorded = dict(ledger.entry.state.get("blocks", [])) if ledger.entry else {}
        old = [(block_id, str(recorded[block_id])) for block_id in owned
               if block_id in recorded]
        matcher = SequenceMatcher(a=[d for _, d in old], b=[b.digest for b in blocks],
                                  autojunk=False)
        layout: list[str | None] = [None] * len(blocks)
        kept: set[str] = set()
        for a, b, size in matcher.get_matching_blocks():
            for n in range(size):
                layout[b + n] = old[a + n][0]
                kept.add(old[a + n][0])
        stale = [block_id for block_id in owned if block_id not in kept]
        return layout, stale

    def _create(self, ledger: Ledger, kind: str, key: str,
                title: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """A new empty page; the store says so before it is asked for."""
        ledger.save(status="creating", object_id=None, state={"blocks": [], "bot": self._bot})
        self.checkpoint("push-creating", "notion")
        name = plain_text(title)
        lost = False

        def attempt() -> dict[str, Any]:
            nonlocal lost
            if lost:  # the last attempt may have made it before its answer was lost
                found = self._find_page(ledger, name)
                if found is not None:
                    return found
            try:
                page: dict[str, Any] = self.api.once(
                    f"create page {name!r}", self.api.client.pages.create,
                    parent={"type": "page_id", "page_id": self.parent},
                    icon={"type": "emoji", "emoji": self.icon},
                    properties={"title": {"title": list(title)}})
                return page
            except UpstreamError:
                lost = True
                raise

        try:
            page: dict[str, Any] = retrying(
                attempt, policy=self.api.policy, limiter=self.api.limiter,
                stats=self.api.stats, what=f"create page {name!r}", sleep=self.api.sleep)
        except AuthError as exc:
            if exc.status == 403:
                raise self._refused(exc, "insert", f"create page {name!r}") from exc
            raise
        self.checkpoint("push-page-created", "notion")
        ledger.save(status="writing", object_id=str(page["id"]),
                    state={"blocks": [], "bot": self._bot})
        log.info("notion: created page %s for %s %s", page["id"], kind, key)
        return page

    def _delete(self, block_id: str) -> None:
        try:
            self._write(f"delete block {block_id}", "update", self.api.client.blocks.delete,
                        block_id=block_id)
        except (NotFoundError, RequestRejectedError) as exc:
            # Already gone (a person deleted it, or an earlier attempt did): nothing to do.
            log.debug("notion: block %s was already gone: %s", block_id, exc)

    def _upload(self, block: NotionBlock) -> str:
        chart = block.chart
        assert chart is not None
        created = self._write(f"file upload {chart.filename}", "insert",
                              self.api.client.file_uploads.create, mode="single_part",
                              filename=chart.filename, content_type="image/png")
        upload_id = str(created["id"])
        self._write(f"send {chart.filename}", "insert", self.api.client.file_uploads.send,
                    file_upload_id=upload_id, file=(chart.filename, chart.png, "image/png"))
        return upload_id

    def _insert(self, page_id: str, listing: Sequence[dict[str, Any]],
                layout: Sequence[str | None], blocks: Sequence[NotionBlock],
                outcome: PushOutcome) -> list[str]:
        """Insert every block whose layout slot is None after the block before it; returns
        the id of every block of the new layout, in order."""
        ids: list[str | None] = list(layout)
        total = sum(b.size for b, slot in zip(blocks, layout, strict=True) if slot is None)
        # The block before the first of leadsync's, for a run at the very top.
        first = next((n for n, b in enumerate(listing) if str(b["id"]) in set(layout)), None)
        top = str(listing[first - 1]["id"]) if first else None
        with Progress(f"notion page {page_id}", total=total, unit="blocks",
                      show=self.progress, logger=log) as progress:
            n = 0
            while n < len(blocks):
                if ids[n] is not None:
                    n += 1
                    continue
                end = n
                while end < len(blocks) and ids[end] is None:
                    end += 1
                anchor = ids[n - 1] if n > 0 else top
                made = self._append_run(page_id, anchor, list(blocks[n:end]),
                                        at_start=n == 0 and top is None and bool(listing),
                                        progress=progress)
                ids[n:end] = made
                outcome.blocks_added += sum(b.size for b in blocks[n:end])
                outcome.uploads += sum(1 for b in blocks[n:end] if b.type == "image")
                n = end
        return [str(i) for i in ids]

    def _requests(self, run: Sequence[NotionBlock]) -> Iterator[list[NotionBlock]]:
        """``run`` cut into appends within Notion's limits."""
        batch: list[NotionBlock] = []
        blocks = size = 0
        for block in run:
            cost = 1 + min(len(block.children), APPEND_MAX)
            weight = len(str(block.body)) + sum(len(str(c)) for c in block.children[:APPEND_MAX])
            if batch and (len(batch) >= APPEND_MAX or blocks + cost > REQUEST_BLOCKS_MAX
                          or size + weight > REQUEST_BYTES_MAX):
                yield batch
                batch, blocks, size = [], 0, 0
            batch.append(block)
            blocks += cost
            size += weight
        if batch:
            yield batch

    def _append_run(self, page_id: str, anchor: str | None, run: list[NotionBlock], *,
                    at_start: bool, progress: Progress) -> list[str]:
        made: list[str] = []
        for batch in self._requests(run):
            payload = [b.payload(self._upload(b) if b.type == "image" else None)
                       for b in batch]
            kwargs: dict[str, Any] = {"block_id": page_id, "children": payload}
            if anchor is not None:
                kwargs["after"] = anchor
            elif at_start:
                kwargs["position"] = {"type": "start"}
            answer = self._write(f"append {len(batch)} blocks to page {page_id}", "insert",
                                 self.api.client.blocks.children.append, lost="check",
                                 **kwargs)
            results = [str(r["id"]) for r in answer.get("results") or ()]
            if len(results) != len(batch):
                raise ReportWriteError(f"notion: appending to page {page_id} answered "
                                       f"{len(results)} blocks for {len(batch)} sent")
            self.checkpoint("push-appended", "notion")
            for block, block_id in zip(batch, results, strict=True):
                rest = block.children[APPEND_MAX:]
                for start in range(0, len(rest), APPEND_MAX):
                    chunk = list(rest[start:start + APPEND_MAX])
                    # A table not yet recorded: if this answer is lost, the next push
                    # deletes the table and writes it again.
                    self._write(f"append {len(chunk)} rows to table {block_id}", "insert",
                                self.api.client.blocks.children.append, lost="raise",
                                block_id=block_id, children=chunk)
                    self.checkpoint("push-appended", "notion")
                progress.update(block.size)
            made += results
            anchor, at_start = results[-1], False
        return made

    # -- dry runs --------------------------------------------------------------------------

    def _plan(self, ledger: Ledger, outcome: PushOutcome, page: dict[str, Any] | None,
              blocks: Sequence[NotionBlock], started: float, before: int) -> PushOutcome:
        """What a push would do, from reads only (the requests are those read so far plus
        the writes it would send)."""
        listing = list(self._children(str(page["id"]))) if page is not None else []
        layout, stale = self._layout(ledger, listing, blocks)
        new = [b for b, slot in zip(blocks, layout, strict=True) if slot is None]
        appends = 0
        run: list[NotionBlock] = []
        for block, slot in [*zip(blocks, layout, strict=True), (None, "end")]:
            if slot is None and block is not None:
                run.append(block)
                continue
            appends += sum(1 for _ in self._requests(run))
            appends += sum(-(-max(0, len(b.children) - APPEND_MAX) // APPEND_MAX) for b in run)
            run = []
        uploads = sum(1 for b in new if b.type == "image")
        # a new page: its creation; a page there: the title update that checks the token
        writes = 1 + appends + 2 * uploads + len(stale)
        return outcome.with_(
            action="created" if page is None else "updated",
            url=page_url(str(page["id"])) if page is not None else "",
            pages_created=int(page is None),
            blocks_added=sum(b.size for b in new), blocks_deleted=len(stale),
            blocks_kept=sum(1 for slot in layout if slot is not None), uploads=uploads,
            requests=self.api.stats.requests - before + writes,
            seconds=time.monotonic() - started)
