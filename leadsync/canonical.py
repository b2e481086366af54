"""The canonical tables: columns, dtypes, vocabularies, and the rules for one cell.

A connector decodes a workspace record into a plain ``dict`` keyed by canonical
column names (Python values: ``str``, ``datetime``, ``date``, ``bool``,
numbers, :class:`MemberRef`); :func:`leadsync.frames.build_frame` turns those
dicts into a typed frame, resolves member references to ``member_id``, and
quarantines every row that does not fit, all at once, each with its reasons,
by the definitions and cell rules kept here. Nothing here does I/O.

This module is the bottom layer of the core: it imports no other module of
leadsync but :mod:`leadsync.errors`. Users import these names from
:mod:`leadsync.tables`, which adds ``build_frame`` to them.

Dtypes: ids and text are pandas ``string``; the fixed vocabularies are ordered
categoricals; dates are tz-aware UTC timestamps (date-only values at midnight
UTC); flags are ``boolean``; scores are ``Float64``; a list of members
(``reviews.approvers``) is an ``object`` column of tuples of member ids.
Every table also carries ``source_id``, ``created_time`` and
``last_edited_time``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import pandas as pd

from leadsync.errors import DataValidationError

__all__ = [
    "DECISIONS",
    "IMPACT_LEVELS",
    "INDICATORS",
    "PROJECT_KINDS",
    "PROJECT_OUTCOMES",
    "QUARANTINE_COLUMNS",
    "SIGNAL_TYPES",
    "STAGES",
    "TABLES",
    "Column",
    "MemberRef",
    "TableSchema",
    "Validated",
    "check_frame",
    "member_index",
    "schema",
    "utc_ns",
]

# ---------------------------------------------------------------------------
# Vocabularies (seeds/000: the signal table, the tracks, the decision matrix)

#: Signal types, in the order the seed lists them.
SIGNAL_TYPES: tuple[str, ...] = ("Technical", "Operational", "Communication")
#: Impact levels, low to high.
IMPACT_LEVELS: tuple[str, ...] = ("Low", "Medium", "High")
#: Stages of the technical leadership track, in order.
STAGES: tuple[str, ...] = ("early_leadership", "emerging_leader", "established_leader")
#: Promotion review decisions.
DECISIONS: tuple[str, ...] = ("Pending", "Declined", "Approved")
#: Project-lead experiments, in the order the seed's ladder climbs them: observe a
#: senior lead (Shadow), lead a sponsored cross-team initiative (Pilot), own a process
#: improvement with success metrics (Improvement).
PROJECT_KINDS: tuple[str, ...] = ("Shadow", "Pilot", "Improvement")
#: How a project turned out; ``Ongoing`` until it has ended.
PROJECT_OUTCOMES: tuple[str, ...] = ("Succeeded", "Partly", "Did not", "Ongoing")

#: The seed's behavioural indicators and the signal type each belongs to. The
#: ``indicator`` column is free text (teams define their own signals); these
#: are the defaults the sample organisation uses.
INDICATORS: Mapping[str, str] = {
    "Reviews pull requests proactively": "Technical",
    "Mentors junior developers in code reviews": "Technical",
    "Proposes architectural improvements": "Technical",
    "Documents decision rationale": "Technical",
    "Identifies process bottlenecks": "Operational",
    "Suggests workflow improvements": "Operational",
    "Volunteers for cross-functional projects": "Operational",
    "Coordinates hand-offs between teams": "Operational",
    "Writes clear technical documentation": "Communication",
    "Facilitates async discussions productively": "Communication",
    "Summarizes meeting outcomes for timezone gaps": "Communication",
    "Bridges communication between team segments": "Communication",
}

Kind = Literal[
    "id", "text", "category", "timestamp", "boolean", "number", "url", "email",
    "timezone", "hours", "member", "members",
]

#: Columns every canonical table carries besides its own.
META_COLUMNS: tuple[str, ...] = ("source_id", "created_time", "last_edited_time")

#: Columns of the quarantine frame :func:`~leadsync.frames.build_frame` returns.
QUARANTINE_COLUMNS: tuple[str, ...] = ("table", "source_id", "reason", "record")


@dataclass(frozen=True)
class Column:
    """One canonical column: its kind decides dtype and checks."""

    name: str
    kind: Kind
    required: bool = False
    vocabulary: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class TableSchema:
    """A canonical table: its key is the first column."""

    name: str
    columns: tuple[Column, ...]
    doc: str = ""
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", self.columns[0].name)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Own columns then the meta columns, in frame order."""
        return tuple(c.name for c in self.columns) + META_COLUMNS

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def member_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.kind in ("member", "members"))


def _c(name: str, kind: Kind, required: bool = False, vocabulary: tuple[str, ...] = (),
       doc: str = "") -> Column:
    return Column(name, kind, required, vocabulary, doc)


TABLES: Mapping[str, TableSchema] = {
    t.name: t
    for t in (
        TableSchema("members", (
            _c("member_id", "id", True, doc="stable id: a mapped field, else the row's source id"),
            _c("name", "text", True),
            _c("email", "email"),
            _c("role", "text"),
            _c("is_leader", "boolean"),
            _c("timezone", "timezone", doc="IANA name, e.g. Europe/Berlin"),
            _c("working_hours", "hours", doc='local hours, "09:00-17:00"'),
            _c("track", "text"),
            _c("stage", "category", vocabulary=STAGES),
            _c("stage_started", "timestamp"),
            _c("mentor_id", "member"),
        ), "one row per person on the team"),
        TableSchema("signals", (
            _c("signal_id", "id", True),
            _c("member_id", "member", True),
            _c("signal_type", "category", True, SIGNAL_TYPES),
            _c("indicator", "text"),
            _c("evidence", "url", doc="PR, document or thread; may be missing"),
            _c("date", "timestamp", True),
            _c("impact", "category", True, IMPACT_LEVELS),
            _c("observed_by", "member"),
            _c("notes", "text"),
        ), "one observed leadership signal"),
        TableSchema("milestones", (
            _c("milestone_id", "id", True),
            _c("member_id", "member", True),
            _c("track", "text"),
            _c("stage", "category", vocabulary=STAGES),
            _c("milestone", "text", True),
            _c("completed_on", "timestamp"),
            _c("evidence", "url"),
        ), "a development-track milestone, done when completed_on is set"),
        TableSchema("checkins", (
            _c("checkin_id", "id", True),
            _c("mentee_id", "member", True),
            _c("mentor_id", "member"),
            _c("date", "timestamp", True),
            _c("focus_area", "text"),
            _c("progress", "text"),
            _c("challenges", "text"),
            _c("observation", "text"),
            _c("next_focus", "text"),
        ), "an async mentor check-in (the seed's monthly mentor template)"),
        TableSchema("rotations", (
            _c("rotation_id", "id", True),
            _c("sprint", "text"),
            _c("starts_on", "timestamp", True),
            _c("lead_id", "member", True),
        ), "who leads which sprint"),
        TableSchema("reviews", (
            _c("review_id", "id", True),
            _c("nominee_id", "member", True),
            _c("proposed_role", "text"),
            _c("technical_excellence", "number"),
            _c("leadership_behaviors", "number"),
            _c("business_impact", "number"),
            _c("cultural_contribution", "number"),
            _c("growth_trajectory", "number"),
            _c("approvers", "members"),
            _c("decision", "category", vocabulary=DECISIONS),
            _c("decided_on", "timestamp"),
        ), "a promotion review scored on the seed's decision matrix"),
        TableSchema("projects", (
            _c("project_id", "id", True),
            _c("name", "text", True),
            _c("kind", "category", True, PROJECT_KINDS),
            _c("lead_id", "member", True),
            _c("sponsor_id", "member", doc="the executive sponsor; a pilot should have one"),
            _c("started_on", "timestamp"),
            _c("ended_on", "timestamp", doc="the end, or the planned end while Ongoing"),
            _c("success_metrics", "text", doc="an improvement should define them"),
            _c("outcome", "category", vocabulary=PROJECT_OUTCOMES),
            _c("evidence", "url"),
        ), "a project-lead experiment: a shadow, pilot or improvement project and its lead"),
    )
}


def schema(table: str) -> TableSchema:
    """The schema of a canonical table, or a clear error naming the known ones."""
    try:
        return TABLES[table]
    except KeyError:
        raise DataValidationError(
            f"unknown table {table!r}; the canonical tables are {', '.join(TABLES)}"
        ) from None


# ---------------------------------------------------------------------------
# Member references


class MemberRef(NamedTuple):
    """How a workspace points at a person, before it is resolved to ``member_id``.

    ``kind`` is ``"person"`` (a Notion person or Airtable collaborator: ``key``
    is the user id), ``"relation"`` (a Notion relation or Airtable linked
    record: ``key`` is the page or record id) or ``"text"`` (a name, email or
    id typed as text).
    """

    kind: Literal["person", "relation", "text"]
    key: str
    name: str | None = None
    email: str | None = None

    def __str__(self) -> str:
        label = self.email or self.name
        return f"{self.kind} {self.key}" + (f" ({label})" if label else "")


@dataclass(frozen=True)
class MemberIndex:
    """Lookups from every way a workspace can name a member to its ``member_id``."""

    by_id: Mapping[str, str]
    by_source: Mapping[str, str]
    by_email: Mapping[str, str]
    by_name: Mapping[str, str]

    def resolve(self, ref: MemberRef) -> str | None:
        key = ref.key.strip()
        if ref.kind == "relation":
            found = self.by_source.get(key) or self.by_id.get(key)
            if found:
                return found
        if key in self.by_id:
            return self.by_id[key]
        if key in self.by_source:
            return self.by_source[key]
        for candidate in (ref.email, key if ref.kind == "text" else None):
            if candidate and candidate.strip().lower() in self.by_email:
                return self.by_email[candidate.strip().lower()]
        for candidate in (ref.name, key if ref.kind == "text" else None):
            if candidate and candidate.strip().casefold() in self.by_name:
                return self.by_name[candidate.strip().casefold()]
        return None


def member_index(members: pd.DataFrame) -> MemberIndex:
    """Index a canonical members frame for :meth:`MemberIndex.resolve`.

    Names that two members share are left out, so a text reference to an
    ambiguous name is reported rather than guessed.
    """
    ids = members["member_id"].astype("string")
    by_id = {str(m): str(m) for m in ids.dropna()}
    by_source: dict[str, str] = {}
    by_email: dict[str, str] = {}
    names: dict[str, list[str]] = {}
    for member_id, source_id, email, name in zip(
        ids, members["source_id"], members.get("email", pd.Series(dtype="string")),
        members["name"], strict=False,
    ):
        if pd.isna(member_id):
            continue
        if isinstance(source_id, str):
            by_source[source_id] = str(member_id)
        if isinstance(email, str) and email:
            by_email[email.strip().lower()] = str(member_id)
        if isinstance(name, str) and name:
            names.setdefault(name.strip().casefold(), []).append(str(member_id))
    by_name = {k: v[0] for k, v in names.items() if len(set(v)) == 1}
    return MemberIndex(by_id, by_source, by_email, by_name)


# ---------------------------------------------------------------------------
# Coercion, one column at a time


@dataclass
class Validated:
    """The typed frame of good rows and the quarantine of rows that did not fit.

    ``names`` (``member_id`` → name, when the result comes from a members
    frame) is for display: in a notebook the frame shows as a table with a
    name beside each member id.
    """

    frame: pd.DataFrame
    quarantine: pd.DataFrame
    names: pd.Series | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.quarantine.empty

    def _repr_html_(self) -> str:
        from leadsync.analytics.display import validated_html

        return validated_html(self.frame, self.quarantine, self.names)

    def __repr__(self) -> str:
        rows, columns = self.frame.shape
        return (f"<Validated: {rows:,} rows × {columns} columns in .frame, "
                f"{len(self.quarantine):,} quarantined in .quarantine>")

    def raise_if_bad(self) -> pd.DataFrame:
        """The frame, or :class:`DataValidationError` listing every bad row."""
        if not self.ok:
            lines = [
                f"  {row.source_id}: {row.reason}" for row in self.quarantine.itertuples()
            ]
            raise DataValidationError(
                f"{len(lines)} row(s) do not fit the canonical table:\n" + "\n".join(lines)
            )
        return self.frame


_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-4]):([0-5]\d)$")


def _norm_token(value: str) -> str:
    return re.sub(r"[\s_\-]+", "_", value.strip()).casefold()


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, (list, tuple)):
        return len(value) == 0
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


_AVAILABLE_ZONES: frozenset[str] | None = None


def _valid_zone(name: str) -> bool:
    global _AVAILABLE_ZONES
    if _AVAILABLE_ZONES is None:
        _AVAILABLE_ZONES = frozenset(zoneinfo.available_timezones())
    if name in _AVAILABLE_ZONES:
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: name too long
        return False
    return True


def _to_timestamp(value: object) -> pd.Timestamp | None:
    if isinstance(value, pd.Timestamp):
        ts = value
    elif isinstance(value, dt.datetime):
        ts = pd.Timestamp(value)
    elif isinstance(value, dt.date):
        ts = pd.Timestamp(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            ts = pd.Timestamp(value.strip())
        except (ValueError, TypeError):
            return None
    else:
        return None
    if pd.isna(ts) or not _NS_MIN <= ts.replace(tzinfo=None) <= _NS_MAX:
        return None  # no date the frame's nanosecond column can hold (e.g. year 1)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


_NS_MIN = pd.Timestamp.min + pd.Timedelta(days=1)
_NS_MAX = pd.Timestamp.max - pd.Timedelta(days=1)


def utc_ns(parsed: pd.Series) -> pd.Series:
    """``parsed`` (tz-aware UTC, any unit) in nanoseconds; what ns cannot hold is NaT.

    ``pd.to_datetime`` keeps a date like 0001-01-01 at a coarser unit; cast to
    nanoseconds it would raise and end the whole pull. It is no date the
    canonical frame can hold, so it reads as an invalid cell (quarantined).
    """
    if parsed.dtype == "datetime64[ns, UTC]":
        return parsed
    naive = parsed.dt.tz_localize(None)
    inside = naive.isna() | ((naive >= _NS_MIN) & (naive <= _NS_MAX))
    if not inside.all():
        parsed = parsed.where(inside)
    return parsed.astype("datetime64[ns, UTC]")


def _is_text_or_date(value: object) -> bool:
    return isinstance(value, (str, dt.date))


def _coerce_timestamps(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    present = ~raw.map(_is_missing).astype(bool)
    # Only texts and dates are parsed as a column: a number given a format is
    # deprecated in pandas (pandas 4 reads it as an epoch); it goes one by one
    # below, where it is no date.
    parseable = present & raw.map(_is_text_or_date).astype(bool)
    parsed = pd.to_datetime(
        raw.where(parseable, None), utc=True, errors="coerce", format="ISO8601"
    )
    # to_datetime gives up on mixed python objects; finish those one by one.
    retry = present & parsed.isna()
    if retry.any():
        parsed = parsed.astype("object")
        parsed[retry] = raw[retry].map(_to_timestamp)
        parsed = pd.to_datetime(parsed, utc=True, errors="coerce")
    parsed = utc_ns(parsed)
    return parsed, present & parsed.isna()


def _coerce(column: Column, raw: pd.Series) -> tuple[pd.Series, pd.Series, str]:
    """Typed values, a mask of present-but-invalid cells, and the reason for them."""
    kind = column.kind
    present = ~raw.map(_is_missing).astype(bool)
    none = pd.Series(False, index=raw.index)
    if kind == "timestamp":
        parsed, bad = _coerce_timestamps(raw)
        return parsed, bad, "is not a date from 1678 to 2261"
    if kind == "boolean":
        def as_bool(v: object) -> object:
            if _is_missing(v):
                return pd.NA
            if isinstance(v, bool):
                return v
            if isinstance(v, (int, float)) and v in (0, 1):
                return bool(v)
            text = str(v).strip().casefold()
            if text in ("true", "yes", "y", "1", "checked", "x"):
                return True
            if text in ("false", "no", "n", "0", "unchecked"):
                return False
            return None
        values = raw.map(as_bool)
        bad = values.map(lambda v: v is None).astype(bool)
        return values.where(~bad, pd.NA).astype("boolean"), bad, "is not true/false"
    if kind == "number":
        values = pd.to_numeric(raw.where(present, None), errors="coerce")
        numeric = pd.Series(values, index=raw.index, dtype="Float64")
        finite = numeric.notna() & ~numeric.isin([float("inf"), float("-inf")])
        bad = present & ~finite
        return numeric.where(~bad, pd.NA), bad, "is not a number"
    if kind == "category":
        lookup = {_norm_token(v): v for v in column.vocabulary}
        normalised = raw.map(
            lambda v: lookup.get(_norm_token(str(v)), "\x00bad") if not _is_missing(v) else None
        )
        bad = normalised.eq("\x00bad").fillna(False).astype(bool)
        categorical = pd.Categorical(
            normalised.where(~bad, None), categories=list(column.vocabulary), ordered=True
        )
        allowed = ", ".join(column.vocabulary)
        return pd.Series(categorical, index=raw.index), bad, f"is not one of {allowed}"
    # Everything else is text with a check.
    text = raw.map(lambda v: None if _is_missing(v) else str(v).strip()).astype("string")
    if kind == "url":
        bad = present & ~text.fillna("").str.match(_URL)
        return text.where(~bad, pd.NA), bad, "is not an http(s) link"
    if kind == "email":
        bad = present & ~text.fillna("").str.match(_EMAIL)
        return text.where(~bad, pd.NA), bad, "is not an email address"
    if kind == "timezone":
        bad = present & ~text.fillna("").map(_valid_zone).astype(bool)
        return text.where(~bad, pd.NA), bad, "is not an IANA time zone"
    if kind == "hours":
        matches = [None if pd.isna(v) else _HOURS.match(str(v)) for v in text]
        bad = present & pd.Series([m is None for m in matches], index=raw.index)
        hours = pd.Series(
            [f"{m[1]}:{m[2]}-{m[3]}:{m[4]}" if m else None for m in matches],
            index=raw.index, dtype="string",
        )
        return hours, bad, 'is not working hours like "09:00-17:00"'
    return text, none, ""


# ---------------------------------------------------------------------------
# Cells the frame builder (leadsync.frames) explains and resolves


def _record_json(record: Mapping[str, Any]) -> str:
    def default(value: object) -> object:
        if isinstance(value, MemberRef):
            return str(value)
        if isinstance(value, (dt.date, pd.Timestamp)):
            return value.isoformat()
        return str(value)
    def plain(value: object) -> object:
        if isinstance(value, MemberRef):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return json.dumps(
        {k: plain(v) for k, v in record.items()}, default=default, ensure_ascii=False,
        sort_keys=True,
    )


def _as_refs(value: object) -> list[MemberRef] | None:
    """The references in a member cell; None when the cell holds no reference."""
    if _is_missing(value):
        return []
    if isinstance(value, MemberRef):
        return [value]
    if isinstance(value, str):
        return [MemberRef("text", value.strip())]
    if isinstance(value, (list, tuple)):
        refs: list[MemberRef] = []
        for item in value:
            inner = _as_refs(item)
            if inner is None:
                return None
            refs.extend(inner)
        return refs
    return None


def check_frame(table: str, frame: pd.DataFrame) -> list[str]:
    """Problems with a frame that claims to be canonical: missing columns, wrong dtypes.

    Used by analytics and the store to fail early on a hand-made frame.
    """
    spec = schema(table)
    problems: list[str] = []
    for column in spec.columns:
        if column.name not in frame.columns:
            problems.append(f"{table} frame has no column {column.name!r}")
    return problems

