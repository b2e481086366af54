"""What a push wrote, kept in the store, and what it did, said to the user.

:class:`Ledger` is a writer's window on the store's ``pushes`` table
(:class:`~leadsync.store.PushEntry`): the page, the block ids and digests,
the record ids and attachments a push owns, and the content digest of the
last push that finished. A writer saves it at each step that makes the
workspace differ from what is recorded (before creating a page, after the
new blocks are in, when done), so a push killed anywhere is finished by the
next one. In a dry run the ledger reads and never writes.

:class:`PushOutcome` is what one push did (or, in a dry run, would do):
pages, blocks, rows, uploads and requests, and where it went.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from leadsync.store import PushEntry, Store

__all__ = ["Action", "Ledger", "PushOutcome"]

Action = Literal["created", "updated", "unchanged"]

#: A checkpoint a writer passes (the crash test's ``LEADSYNC_CRASH_AT`` hook).
Checkpoint = Callable[..., None]


def no_checkpoint(name: str, table: str | None = None) -> None:
    return None


class Ledger:
    """The recorded state of one push target (``service``, ``kind``, ``key``, ``location``).

    ``store`` None keeps the state in memory only (a notebook push without a
    store: idempotent within the process, not across runs).
    """

    def __init__(self, store: Store | None, service: str, kind: str, key: str,
                 location: str, *, dry_run: bool = False,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)):
        self.store = store
        self.ids = (service, kind, key, location)
        self.dry_run = dry_run
        self.clock = clock
        self._memory: PushEntry | None = None
        self.entry: PushEntry | None = (store.push_entry(*self.ids) if store is not None
                                        else None)

    def save(self, *, status: str, object_id: str | None, state: dict[str, Any],
             content_hash: str | None = None) -> None:
        """Record where the push is (committed before the next request goes out)."""
        now = self.clock()
        started = self.entry.started_at if self.entry is not None and \
            self.entry.status != "done" else now
        entry = PushEntry(*self.ids, status=status, content_hash=content_hash,
                          object_id=object_id, state=state, started_at=started,
                          finished_at=now if status == "done" else None)
        if self.dry_run:
            return
        if self.store is not None:
            self.store.save_push(entry)
        self.entry = entry

    def forget(self) -> None:
        """The recorded object is gone upstream (deleted by a person)."""
        if self.dry_run:
            self.entry = None
            return
        if self.store is not None:
            self.store.forget_push(*self.ids)
        self.entry = None


@dataclass
class PushOutcome:
    """What one push did (``dry_run``: would do)."""

    service: str
    kind: str
    key: str
    title: str
    action: Action
    #: Where it went: the page's URL, or the base and record.
    url: str = ""
    dry_run: bool = False
    pages_created: int = 0
    blocks_added: int = 0
    blocks_deleted: int = 0
    blocks_kept: int = 0
    rows_created: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    uploads: int = 0
    requests: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def with_(self, **changes: Any) -> PushOutcome:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line: what happened where, and what it cost."""
        def n(count: int, word: str) -> str:
            return f"{count} {word}{'' if count == 1 else 's'}"

        where = {"notion": "Notion", "airtable": "Airtable"}[self.service]
        verb = {("created", False): "created", ("updated", False): "updated",
                ("unchanged", False): "unchanged",
                ("created", True): "would create", ("updated", True): "would update",
                ("unchanged", True): "unchanged"}[(self.action, self.dry_run)]
        parts = []
        if self.service == "notion":
            if self.action != "unchanged":
                parts.append(f"{n(self.blocks_added, 'block')} added, "
                             f"{self.blocks_deleted} deleted, {self.blocks_kept} kept")
                if self.uploads:
                    parts.append(f"{n(self.uploads, 'image')} uploaded")
        elif self.action != "unchanged":
            parts.append(f"{n(self.rows_created, 'row')} created, {self.rows_updated} "
                         f"updated, {self.rows_deleted} deleted")
            if self.uploads:
                parts.append(f"{n(self.uploads, 'attachment')} uploaded")
        cost = n(self.requests, "request") + (
            "" if self.dry_run else f", {self.seconds:.1f}s")
        if self.dry_run and self.action != "unchanged":
            cost = f"about {cost}"
        detail = "; ".join([*parts, cost])
        head = f"{where}: {self.title}: {verb}"
        if self.url:
            head += f" ({self.url})"
        text = f"{head}; {detail}"
        if self.dry_run:
            text += " (dry run, nothing written)"
        return text
