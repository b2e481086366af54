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

The types are defined in :mod:`leadsync.pulls` and ``records_to_frame`` in
:mod:`leadsync.frames` (the frame builder uses the types, so they sit below
it); this module gathers them where users import them.
"""

from __future__ import annotations

from leadsync.frames import records_to_frame
from leadsync.pulls import Cursor, PullStats, Record, latest_records

__all__ = ["Cursor", "PullStats", "Record", "latest_records", "records_to_frame"]
