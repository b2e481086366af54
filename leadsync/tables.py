"""The canonical tables: columns, dtypes, vocabularies, and the one validation.

A connector decodes a workspace record into a plain ``dict`` keyed by canonical
column names (Python values: ``str``, ``datetime``, ``date``, ``bool``,
numbers, :class:`MemberRef`); :func:`build_frame` turns those dicts into a typed
frame, resolves member references to ``member_id``, and quarantines every row
that does not fit, all at once, each with its reasons. Nothing here does I/O.

Dtypes: ids and text are pandas ``string``; the fixed vocabularies are ordered
categoricals; dates are tz-aware UTC timestamps (date-only values at midnight
UTC); flags are ``boolean``; scores are ``Float64``; a list of members
(``reviews.approvers``) is an ``object`` column of tuples of member ids.
Every table also carries ``source_id``, ``created_time`` and
``last_edited_time``.

The definitions and the rules for one cell live in :mod:`leadsync.canonical`
(the bottom layer), the builder in :mod:`leadsync.frames` (above it); this
module gathers both where users import them.
"""

from __future__ import annotations

from leadsync.canonical import (
    DECISIONS,
    IMPACT_LEVELS,
    INDICATORS,
    META_COLUMNS,
    PROJECT_KINDS,
    PROJECT_OUTCOMES,
    QUARANTINE_COLUMNS,
    SIGNAL_TYPES,
    STAGES,
    TABLES,
    Column,
    Kind,
    MemberIndex,
    MemberRef,
    TableSchema,
    Validated,
    check_frame,
    member_index,
    schema,
    utc_ns,
)
from leadsync.frames import build_frame, empty_frame

__all__ = [
    "DECISIONS",
    "IMPACT_LEVELS",
    "INDICATORS",
    "META_COLUMNS",
    "PROJECT_KINDS",
    "PROJECT_OUTCOMES",
    "QUARANTINE_COLUMNS",
    "SIGNAL_TYPES",
    "STAGES",
    "TABLES",
    "Column",
    "Kind",
    "MemberIndex",
    "MemberRef",
    "TableSchema",
    "Validated",
    "build_frame",
    "check_frame",
    "empty_frame",
    "member_index",
    "schema",
    "utc_ns",
]
