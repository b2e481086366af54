"""Testing hook: kill the process at a named point of a sync or a push, deterministically.

Set ``LEADSYNC_CRASH_AT`` to a checkpoint spec and the process sends itself
SIGKILL when the sync passes that point: no ``finally`` block, no atexit, no
flush runs, exactly like a power cut or ``kill -9``. The crash test uses it to
prove that a rerun loses and duplicates nothing, whatever the point.

Spec: ``NAME[:TABLE][#N]``: the N-th time (default the first) checkpoint
``NAME`` is passed, for ``TABLE`` when given. Examples::

    LEADSYNC_CRASH_AT=batch-mid:signals#3     mid-way through the 3rd signals batch
    LEADSYNC_CRASH_AT=cursor-after-commit:members
    LEADSYNC_CRASH_AT=fetched:signals#120    after the 120th signals row arrived

Checkpoints (in the order a run passes them):

=======================  ==========================================================
``lock-acquired``        the sync lock is held, the store not yet opened
``store-created``        a new store file exists, its schema not yet written
``schema-mid``           the schema is written, not yet committed
``migrate-mid``          a migration step ran, not yet committed
``run-started``          the run log says ``running``
``table-start``          a table's source is open, nothing fetched
``fetched``              one more row arrived from the source (counts rows)
``batch-begin``          a batch transaction began, nothing written
``batch-mid``            half of a batch is written, not committed
``batch-before-commit``  a whole batch is written, not committed
``batch-after-commit``   a batch is committed
``fetch-done``           the pull ended; the cursor has not moved
``cursor-before-commit`` the new cursor is written, not committed
``cursor-after-commit``  the cursor moved
``quarantine-mid``       a table's quarantine is being recomputed, not committed
``listed``               the id listing for reconciliation arrived
``reconcile-mid``        half of the tombstones are written, not committed
``reconcile-before-commit`` all tombstones written, not committed
``reconcile-after-commit``  the reconciliation is committed
``table-done``           a table is finished
``run-before-finish``    every table is done; the run log still says ``running``
``run-after-finish``     the run log says ``ok``; the lock is still held
=======================  ==========================================================

Checkpoints of a push into the workspace (``leadsync report --push``,
``leadsync packet --push``; TABLE is ``notion`` or ``airtable``):

=======================  ==========================================================
``push-creating``        the store says a page is being created; not asked for yet
``push-page-created``    the page exists upstream; the store does not know its id
``push-appended``        one more append of new blocks is in (counts appends)
``push-layout-saved``    the new blocks are recorded; the old ones not yet deleted
``push-deleted``         one more old block is deleted (counts deletions)
``push-rows``            one more batch of rows is upserted (new ids noted each second)
``push-uploaded``        one more attachment is uploaded, the fields not yet set
``push-done``            the push is recorded as finished
=======================  ==========================================================

Without the variable every checkpoint is a no-op costing one dict lookup.
"""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from collections.abc import Mapping

__all__ = ["CHECKPOINTS", "CrashPoints"]

#: Every checkpoint name a sync passes (see the module docstring).
CHECKPOINTS: tuple[str, ...] = (
    "lock-acquired", "store-created", "schema-mid", "migrate-mid", "run-started",
    "table-start", "fetched", "batch-begin", "batch-mid", "batch-before-commit",
    "batch-after-commit", "fetch-done", "cursor-before-commit", "cursor-after-commit",
    "quarantine-mid", "listed", "reconcile-mid", "reconcile-before-commit",
    "reconcile-after-commit", "table-done", "run-before-finish", "run-after-finish",
    "push-creating", "push-page-created", "push-appended", "push-layout-saved",
    "push-deleted", "push-rows", "push-uploaded", "push-done",
)

_SPEC = re.compile(r"^(?P<name>[a-z-]+)(?::(?P<table>[a-z_]+))?(?:#(?P<n>\d+))?$")


class CrashPoints:
    """Counts checkpoints and kills the process at the one ``LEADSYNC_CRASH_AT`` names."""

    VARIABLE = "LEADSYNC_CRASH_AT"

    def __init__(self, spec: str | None = None):
        self._target: tuple[str, str | None, int] | None = None
        self._seen: Counter[tuple[str, str | None]] = Counter()
        if spec:
            m = _SPEC.match(spec.strip())
            if m is None or m["name"] not in CHECKPOINTS:
                raise ValueError(
                    f"{self.VARIABLE}={spec!r}: expected NAME[:TABLE][#N] with NAME one of "
                    + ", ".join(CHECKPOINTS)
                )
            self._target = (m["name"], m["table"], int(m["n"] or 1))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CrashPoints:
        return cls((os.environ if env is None else env).get(cls.VARIABLE))

    def __call__(self, name: str, table: str | None = None) -> None:
        if self._target is None:
            return
        want_name, want_table, want_n = self._target
        if name != want_name or (want_table is not None and table != want_table):
            return
        key = (name, want_table)
        self._seen[key] += 1
        if self._seen[key] == want_n:
            os.kill(os.getpid(), signal.SIGKILL)
