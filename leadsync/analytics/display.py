"""How analytics results show in a notebook: HTML tables with member names beside the ids.

Owns the ``_repr_html_`` of :class:`leadsync.tables.Validated` and of the
several-frame results (:class:`~leadsync.analytics.Overlap`,
:class:`~leadsync.analytics.MeetingRotation`,
:class:`~leadsync.analytics.SprintRotation`). Each result keeps the names of
the members it was computed from (``names``: a Series from ``member_id`` to
``name``); the display puts a name column after every member-id column
(``member_id``, ``nominee_id``, ``mentee_id``, ``mentor_id``, ``lead_id``,
``observed_by``) and labels a member × member matrix by name. The frames
themselves are left as they are: ids are what code should join on.

Tables are rendered by pandas' Styler with ``escape="html"``, so a name
typed in the workspace shows as text, never as markup. Long frames show
their first :data:`MAX_ROWS` rows.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd

__all__ = ["MAX_ROWS", "MEMBER_COLUMNS", "frame_html", "member_names", "result_html",
           "result_repr"]

#: Rows of a frame shown before "… N more".
MAX_ROWS = 20
#: Columns that hold a member id, and the name column each gets beside it.
MEMBER_COLUMNS: Mapping[str, str] = {
    "member_id": "name",
    "nominee_id": "nominee",
    "mentee_id": "mentee",
    "mentor_id": "mentor",
    "lead_id": "lead",
    "sponsor_id": "sponsor",
    "observed_by": "observer",
}


def member_names(members: pd.DataFrame) -> pd.Series:
    """``member_id`` → ``name`` of ``members`` (ids and names that are missing left out)."""
    if "name" not in members.columns or "member_id" not in members.columns:
        return pd.Series(dtype="string")
    usable = members["member_id"].notna() & members["name"].notna()
    ids = members["member_id"][usable].astype("object").to_numpy()
    return pd.Series(members["name"][usable].astype("string").to_numpy(), index=ids,
                     dtype="string")


def _with_names(frame: pd.DataFrame, names: pd.Series | None) -> pd.DataFrame:
    if names is None or names.empty:
        return frame
    unique = names[~names.index.duplicated()]
    if frame.index.name == "member_id" and list(frame.columns) and frame.columns.name == "with":
        # a member × member matrix: label both sides by name
        relabel = {i: str(unique.get(i, i)) for i in frame.index}
        return frame.rename(index=relabel, columns=relabel)
    out = frame.copy()
    for column, label in MEMBER_COLUMNS.items():
        if column not in out.columns or label in out.columns:
            continue
        named = out[column].astype("object").map(unique)
        out.insert(list(out.columns).index(column) + 1, label, named.astype("string"))
    return out


def frame_html(frame: pd.DataFrame, names: pd.Series | None = None, *, title: str = "") -> str:
    """One frame as an HTML table (first :data:`MAX_ROWS` rows), names beside member ids."""
    shown = _with_names(frame.head(MAX_ROWS), names)
    matrix = shown.columns.name == "with"
    styler = shown.style.format(precision=2, na_rep="–", escape="html")
    if matrix:
        styler = styler.format_index(escape="html", axis=0).format_index(escape="html", axis=1)
    else:
        styler = styler.hide(axis="index")
    more = len(frame) - len(shown)
    caption = f"{len(frame):,} rows × {frame.shape[1]} columns"
    if more > 0:
        caption += f"; the first {len(shown)} shown"
    head = f"<p><strong>{html.escape(title)}</strong> " if title else "<p>"
    return f"{head}<small>{html.escape(caption)}</small></p>{styler.to_html()}"


def _quarantine_note(quarantine: pd.DataFrame) -> str:
    if quarantine.empty:
        return "<p><small>No rows quarantined.</small></p>"
    reasons = quarantine["reason"].astype("string").value_counts().head(3)
    listed = "; ".join(f"{html.escape(str(r))} ({n})" for r, n in reasons.items())
    return (f"<p><small>{len(quarantine):,} rows quarantined (<code>.quarantine</code>): "
            f"{listed}</small></p>")


def result_html(frames: Mapping[str, pd.DataFrame], quarantine: pd.DataFrame,
                names: pd.Series | None) -> str:
    """A result of several frames: each as a table under its attribute's name."""
    parts = [frame_html(frame, names, title=f".{key}") for key, frame in frames.items()]
    return "<div>" + "".join(parts) + _quarantine_note(quarantine) + "</div>"


def result_repr(kind: str, frames: Mapping[str, pd.DataFrame], quarantine: pd.DataFrame) -> str:
    """A result's plain-text form: what it holds, not a wall of truncated frames."""
    held = ", ".join(f"{len(frame):,} rows in .{name}" for name, frame in frames.items())
    return f"<{kind}: {held}, {len(quarantine):,} quarantined in .quarantine>"


def validated_html(frame: pd.DataFrame, quarantine: pd.DataFrame,
                   names: pd.Series | None) -> str:
    """A :class:`~leadsync.tables.Validated`: its frame, then what was quarantined."""
    return "<div>" + frame_html(frame, names) + _quarantine_note(quarantine) + "</div>"
