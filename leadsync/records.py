"""What a pull produces: records, the cursor it starts from, what it cost, and frames of it.

These are the core's own types. Connectors (``leadsync.connectors``) make
:class:`Record` values and fill a :class:`PullStats`; the sync, the store and
the test workspace (:mod:`leadsync.testing`) consume them; none of those
needs a connector to do so.

- :class:`Record`: one workspace row decoded to canonical columns (or the
  reason it could not be);
- :class:`Cursor`: where an incremental pull starts (``since - lag``);
- :class:`PullStats`: requests, 429s, retries, rows and seconds of a pull;
- :func:`records_to_frame`: a canonical frame of records, with the rows that
  do not fit in its quarantine;
- :func:`latest_records`: each id once (its last version), for frames.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from leadsync.tables import QUARANTINE_COLUMNS, MemberIndex, Validated, build_frame

__all__ = ["Cursor", "PullStats", "Record", "latest_records", "records_to_frame"]


@dataclass(frozen=True)
class Record:
    """One workspace row decoded to canonical columns.

    ``values`` maps canonical column names to Python values (member columns
    hold :class:`~leadsync.tables.MemberRef`). ``problem`` is set when the row
    could not be decoded at all; such a row is quarantined with that reason.
    """

    source_id: str
    created_time: dt.datetime | None
    last_edited_time: dt.datetime | None
    values: Mapping[str, Any]
    problem: str | None = None

    def row(self) -> dict[str, Any]:
        """The values plus ``source_id``, ``created_time`` and ``last_edited_time``."""
        return {
            **self.values,
            "source_id": self.source_id,
            "created_time": self.created_time,
            "last_edited_time": self.last_edited_time,
        }


@dataclass(frozen=True)
class Cursor:
    """Where an incremental pull starts: rows edited at or after ``since - lag``.

    Both services round edit times (Notion to the minute, Airtable to the
    second), so a cursor is moved back by ``lag`` and the overlap is
    de-duplicated by row id.
    """

    since: dt.datetime | None = None
    lag: dt.timedelta = dt.timedelta(minutes=2)

    @property
    def query_from(self) -> dt.datetime | None:
        return None if self.since is None else self.since - self.lag

    def advanced(self, records: Iterable[Record]) -> Cursor:
        """The cursor after ``records``: the newest edit time the server reported."""
        newest = self.since
        for record in records:
            if record.last_edited_time is not None and (
                newest is None or record.last_edited_time > newest
            ):
                newest = record.last_edited_time
        return Cursor(newest, self.lag)


@dataclass
class PullStats:
    """What a pull cost: requests sent, 429s met, retries, rows, seconds."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    rows: int = 0
    seconds: float = 0.0
    #: seconds spent waiting for the rate limiter (included in ``seconds``)
    waited_seconds: float = 0.0

    def add(self, other: PullStats) -> None:
        """Add ``other``'s counts to these."""
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


def latest_records(records: Iterable[Record]) -> list[Record]:
    """``records`` with each ``source_id`` once: its last version, in first-seen order.

    A source yields a row again only when it changed while the pull ran (an
    Airtable listing restarted after its offset expired); a frame keeps the
    newer values.
    """
    latest: dict[str, Record] = {}
    for record in records:
        latest[record.source_id] = record
    return list(latest.values())


def records_to_frame(
    table: str,
    records: Iterable[Record],
    *,
    members: pd.DataFrame | MemberIndex | None = None,
) -> Validated:
    """A canonical frame of ``records``; undecodable records join the quarantine."""
    good: list[dict[str, Any]] = []
    broken: list[Record] = []
    for record in records:
        if record.problem:
            broken.append(record)
        else:
            good.append(record.row())
    result = build_frame(table, good, members=members)
    if not broken:
        return result
    extra = pd.DataFrame(
        {
            "table": pd.Series([table] * len(broken), dtype="string"),
            "source_id": pd.Series([r.source_id for r in broken], dtype="string"),
            "reason": pd.Series([r.problem for r in broken], dtype="string"),
            "record": pd.Series([repr(dict(r.values)) for r in broken], dtype="string"),
        }
    )
    quarantine = pd.concat([result.quarantine, extra], ignore_index=True)[list(QUARANTINE_COLUMNS)]
    return Validated(result.frame, quarantine)
