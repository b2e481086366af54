"""Today's decoder, frozen: the canonical frame builder as it was before vectorising (oracle).

A verbatim copy of ``leadsync.tables.build_frame`` (and its helpers) and of
``leadsync.records.records_to_frame`` as they stood before the column-wise
builder (``leadsync.frames``) replaced them, with one switch: ``per_cell``
(default True) keeps each cell as itself in the frame of raw values, where the
copy as it was (``per_cell=False``) let a column's other cells change a
cell's type (see ``test_oracle``'s module doc); and one fix: a date that
nanoseconds cannot hold (Notion's year 1) is an invalid cell, where the copy
as it was raised ``OutOfBoundsDatetime`` and ended the pull ("change 2";
the live builder has the same fix, ``leadsync.tables.utc_ns``); and a
second: a table whose key is empty in one row and repeated in two others
raised ``ValueError`` (an NA in the duplicate lookup's mask), "change 3". The decoder comparison tests
(``test_oracle.py``) build frames both ways, from the connectors' per-row
decoders (``decode_page``, ``decode_record``) and this builder, and from the
vectorised path, and require the same frames and quarantines. Test-only: no
production module imports it.
"""

# ruff: noqa
from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from leadsync.records import Record
from leadsync.tables import (
    META_COLUMNS,
    QUARANTINE_COLUMNS,
    Column,
    MemberIndex,
    MemberRef,
    Validated,
    member_index,
    schema,
)

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
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
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
        return None  # (change 2) no date a nanosecond column holds
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


_NS_MIN = pd.Timestamp.min + pd.Timedelta(days=1)
_NS_MAX = pd.Timestamp.max - pd.Timedelta(days=1)


def _in_ns(parsed: pd.Series) -> pd.Series:
    """(change 2) What nanoseconds cannot hold (year 1) is NaT, not an exception."""
    if parsed.dtype == "datetime64[ns, UTC]":
        return parsed
    naive = parsed.dt.tz_localize(None)
    return parsed.where(naive.isna() | ((naive >= _NS_MIN) & (naive <= _NS_MAX))).astype(
        "datetime64[ns, UTC]")


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
    parsed = _in_ns(parsed)
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
# The frame builder


def empty_frame(table: str) -> pd.DataFrame:
    """A frame with the table's columns and dtypes and no rows."""
    return build_frame(table, []).frame


def _empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in QUARANTINE_COLUMNS})


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


def build_frame(
    table: str,
    records: Iterable[Mapping[str, Any]],
    *,
    members: pd.DataFrame | MemberIndex | None = None,
    per_cell: bool = True,
) -> Validated:
    """Typed canonical frame from decoded records, with a quarantine of bad rows.

    ``records`` hold canonical column names; missing columns are empty. Each
    record should carry ``source_id`` (the page or record id); when the table's
    key column is absent from every record, the key is the ``source_id``.

    Member columns accept :class:`MemberRef` values (or plain strings, taken
    as text references). With ``members`` (a canonical members frame or its
    :func:`member_index`), each is resolved to a ``member_id``; a reference no
    member matches quarantines the row. Without ``members``, the reference's
    raw key is kept. For the ``members`` table itself, ``mentor_id`` is
    resolved against the rows being built.

    Every bad row is reported at once in ``quarantine`` (columns ``table``,
    ``source_id``, ``reason``, ``record``), with all its reasons joined by
    ``"; "``. Duplicate keys keep the first row and quarantine the others.
    """
    spec = schema(table)
    rows = list(records)
    raw = pd.DataFrame.from_records(rows) if rows else pd.DataFrame()
    if per_cell and rows:
        # (the one change to the frozen copy) each cell as itself: no column dtype folds
        # a cell into what the other cells are (see test_oracle's module doc)
        raw = pd.DataFrame({c: pd.Series([r.get(c, float("nan")) for r in rows], dtype=object)
                            for c in raw.columns})
    index = pd.RangeIndex(len(rows))
    raw.index = index
    for name in spec.column_names:
        if name not in raw.columns:
            raw[name] = None
    if rows and all(spec.key not in r for r in rows):
        raw[spec.key] = raw["source_id"]

    reasons: dict[int, list[str]] = {}

    def flag(mask: pd.Series, text: str) -> None:
        for i in mask[mask].index:
            reasons.setdefault(int(i), []).append(text)

    out: dict[str, pd.Series] = {}
    for column in spec.columns:
        if column.kind in ("member", "members"):
            continue  # resolved below, once the members are known
        values, bad, why = _coerce(column, raw[column.name])
        for i in bad[bad].index:
            reasons.setdefault(int(i), []).append(f"{column.name} {raw.at[i, column.name]!r} {why}")
        out[column.name] = values
        if column.required:
            flag(~bad & values.isna(), f"{column.name} is missing")
    for name in META_COLUMNS:
        if name == "source_id":
            out[name] = raw[name].map(lambda v: None if _is_missing(v) else str(v)).astype("string")
        else:
            values, bad = _coerce_timestamps(raw[name])
            flag(bad, f"{name} {'is not a date'}")
            out[name] = values

    if spec.member_columns:
        index_: MemberIndex | None
        if isinstance(members, MemberIndex):
            index_ = members
        elif isinstance(members, pd.DataFrame):
            index_ = member_index(members)
        elif table == "members":
            frame_so_far = pd.DataFrame(
                {k: out[k] for k in ("member_id", "name", "email", "source_id")}
            )
            index_ = member_index(frame_so_far)
        else:
            index_ = None
        for column in (spec.column(n) for n in spec.member_columns):
            resolved: list[object] = []
            for i, cell in zip(index, raw[column.name], strict=True):
                refs = _as_refs(cell)
                if refs is None:
                    reasons.setdefault(i, []).append(
                        f"{column.name} {cell!r} is not a member reference"
                    )
                    resolved.append(None)
                    continue
                ids: list[str] = []
                for ref in refs:
                    found = index_.resolve(ref) if index_ is not None else ref.key
                    if found is None:
                        reasons.setdefault(i, []).append(
                            f"{column.name} {ref} matches no member"
                        )
                    else:
                        ids.append(found)
                if column.kind == "members":
                    resolved.append(tuple(dict.fromkeys(ids)))
                elif len(refs) > 1:
                    reasons.setdefault(i, []).append(
                        f"{column.name} names {len(refs)} people, expected one"
                    )
                    resolved.append(None)
                else:
                    resolved.append(ids[0] if ids else None)
                if column.required and not refs:
                    reasons.setdefault(i, []).append(f"{column.name} is missing")
            if column.kind == "members":
                out[column.name] = pd.Series(
                    [v if v is not None else () for v in resolved], index=index, dtype="object"
                )
            else:
                out[column.name] = pd.Series(resolved, index=index, dtype="object").astype("string")

    frame = pd.DataFrame({name: out[name] for name in spec.column_names}, index=index)

    key = frame[spec.key]
    dup = key.notna() & key.duplicated(keep="first")
    for i in dup[dup].index:
        # (change 3) an empty key beside a duplicate one made this mask NA and raised
        first = frame.index[(key == key.iat[int(i)]).fillna(False).to_numpy(dtype=bool)][0]
        kept = str(frame.at[first, "source_id"])
        reasons.setdefault(int(i), []).append(
            f"duplicate {spec.key} {key.iat[int(i)]!r} (kept source {kept})"
        )

    if reasons:
        bad_rows = sorted(reasons)
        quarantine = pd.DataFrame(
            {
                "table": pd.Series([table] * len(bad_rows), dtype="string"),
                "source_id": pd.Series(
                    [str(raw.at[i, "source_id"]) if not _is_missing(raw.at[i, "source_id"])
                     else None for i in bad_rows],
                    dtype="string",
                ),
                "reason": pd.Series(["; ".join(reasons[i]) for i in bad_rows], dtype="string"),
                "record": pd.Series([_record_json(rows[i]) for i in bad_rows], dtype="string"),
            }
        )
        frame = frame.drop(index=bad_rows)
    else:
        quarantine = _empty_quarantine()
    frame = frame.reset_index(drop=True)
    return Validated(frame, quarantine)




def records_to_frame(
    table: str,
    records: Iterable[Record],
    *,
    members: pd.DataFrame | MemberIndex | None = None,
    per_cell: bool = True,
) -> Validated:
    """A canonical frame of ``records``; undecodable records join the quarantine."""
    good: list[dict[str, Any]] = []
    broken: list[Record] = []
    for record in records:
        if record.problem:
            broken.append(record)
        else:
            good.append(record.row())
    result = build_frame(table, good, members=members, per_cell=per_cell)
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
